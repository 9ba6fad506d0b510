"""Replay issue [8]'s hostile inputs against a running SecAPI and print a markdown table.

    .venv/bin/python scripts/hostile_inputs.py --url http://127.0.0.1:8000 --api-key "$(cat var/demo-key)"

Each row: the case, the status it got (or what went wrong), how long it took, and whether the
server then answered `GET /health/live` with 200 within one second. Admin cases need an admin
key (the demo key is one). Nothing here needs more than the API: a gzip bomb is generated on the
fly (about 5 MB that inflate to 5 GiB), not read from disk.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

BOMB_MEMBER_ZEROS = 64 * 1024 * 1024  # one gzip member of 64 MiB of zeros; 80 of them inflate to 5 GiB
BOMB_MEMBERS = 80
SLOW_CLIENTS = 5
SLOW_HOLD_SECONDS = 40.0
"""How long slow-body clients wait for the server's answer: past SECAPI_BODY_RECEIVE_TIMEOUT's default (30 s)."""
INVALID_UTF8 = b'{"filename": "requirements.txt", "content": "\xff\xfe\xfa", "email": "\xc3\x28"}'


@dataclass
class Row:
    case: str
    status: str
    millis: float
    healthy: bool


class Replay:
    """Runs the cases against one server, one at a time, checking liveness after each."""

    def __init__(self, url: str, api_key: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=timeout)
        self.auth = {"Authorization": f"Bearer {api_key}"}
        self.rows: list[Row] = []
        self.user_id = str(uuid.uuid4())  # replaced by a real user when the key is an admin's

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health/live", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def case(self, name: str, send: Callable[[], str]) -> None:
        started = time.perf_counter()
        try:
            status = send()
        except httpx.TimeoutException:
            status = "timeout"
        except httpx.HTTPError as exc:
            status = f"error: {type(exc).__name__}"
        millis = (time.perf_counter() - started) * 1000
        self.rows.append(Row(name, status, millis, self.healthy()))
        print(f"  {name}: {status} ({millis:.0f} ms)", file=sys.stderr)

    def request(self, method: str, path: str, **kwargs: object) -> str:
        headers = {**self.auth, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        response = self.client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        return _status(response)

    def prepare_admin_user(self) -> None:
        response = self.client.post(
            "/api/v1/admin/users", json={"email": f"hostile-{uuid.uuid4().hex[:8]}@example.com"}, headers=self.auth
        )
        if response.status_code == 201:
            self.user_id = response.json()["user"]["id"]


def _status(response: httpx.Response) -> str:
    title = ""
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        try:
            title = f" {response.json().get('title', '')}"
        except ValueError:
            title = " (unreadable problem)"
    return f"{response.status_code}{title}"


def gzip_bomb() -> Iterator[bytes]:
    """Concatenated gzip members (valid gzip) of zeros: ~5 MB on the wire, 5 GiB inflated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = compressor.compress(b"\0" * BOMB_MEMBER_ZEROS) + compressor.flush()
    for _ in range(BOMB_MEMBERS):
        yield member


def slow_bodies(replay: Replay) -> str:
    """Open a few connections that send headers and half a body, then go quiet; is the server still live?"""
    parts = urlsplit(replay.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps({"filename": "requirements.txt", "content": "requests==2.30.0\n" * 50}).encode()
    sockets = []
    for _ in range(SLOW_CLIENTS):
        conn = socket.create_connection((host, port), timeout=5)
        head = (
            f"POST /api/v1/scan/dependencies HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {replay.auth['Authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        conn.sendall(head + body[: len(body) // 2])
        sockets.append(conn)
    live_during = replay.healthy()
    deadline = time.monotonic() + SLOW_HOLD_SECONDS
    answers: list[str] = []
    for conn in sockets:
        conn.settimeout(max(deadline - time.monotonic(), 0.1))
        try:
            first = conn.recv(64).split(b"\r\n", 1)[0].decode(errors="replace")
            answers.append(first.split(" ")[1] if " " in first else "closed")
        except TimeoutError:
            answers.append("held")
        except OSError:
            answers.append("reset")
        finally:
            conn.close()
    return f"{','.join(sorted(set(answers)))} (live while held: {'yes' if live_during else 'NO'})"


def run(replay: Replay) -> None:
    replay.prepare_admin_user()
    uid = replay.user_id
    json_endpoints = [
        ("POST", "/api/v1/scan/dependencies"),
        ("POST", "/api/v1/scan/docker"),
        ("POST", "/api/v1/admin/users"),
        ("POST", f"/api/v1/admin/users/{uid}/keys"),
        ("PUT", f"/api/v1/admin/users/{uid}/tier"),
        ("PUT", "/api/v1/account/notifications"),
        ("POST", "/api/v1/admin/cache/invalidate"),
        ("POST", "/api/v1/admin/cache/warm"),
    ]
    as_json = {"Content-Type": "application/json"}
    for method, path in json_endpoints:
        shown = path.replace(uid, "{id}")
        replay.case(
            f"invalid UTF-8 JSON: {method} {shown}",
            lambda m=method, p=path: replay.request(m, p, content=INVALID_UTF8, headers=as_json),
        )

    deps = "/api/v1/scan/dependencies"
    replay.case(
        "NUL in filename",
        lambda: replay.request("POST", deps, json={"filename": "requirements\u0000.txt", "content": "a==1\n"}),
    )
    replay.case(
        "NUL in a package name (answered; the entry is unscannable)",
        lambda: replay.request(
            "POST", deps, json={"filename": "requirements.txt", "content": "req\u0000uests==2.30.0\n"}
        ),
    )
    replay.case(
        "NUL in admin email",
        lambda: replay.request("POST", "/api/v1/admin/users", json={"email": "a\u0000b@example.com"}),
    )
    replay.case(
        "NUL in key name",
        lambda: replay.request("POST", f"/api/v1/admin/users/{uid}/keys", json={"name": "ci\u0000"}),
    )

    for path in ("/schema/nope", "/schema/../../etc/passwd", "/schema/openapi.yaml/x", "/schema/%00"):
        replay.case(f"unknown schema path {path}", lambda p=path: _status(replay.client.get(p)))

    archive = "/api/v1/scan/docker/archive"
    replay.case(
        "gzip bomb, multipart (5 MB -> 5 GiB)",
        lambda: replay.request(
            "POST", archive, files={"file": ("bomb.tar.gz", io.BytesIO(b"".join(gzip_bomb())), "application/gzip")}
        ),
    )
    replay.case(
        "gzip bomb, streamed raw body",
        lambda: replay.request("POST", archive, content=gzip_bomb(), headers={"Content-Type": "application/x-tar"}),
    )

    big = "".join(f"package-{n}==1.0.{n}\n" for n in range(100_000))
    replay.case(
        "requirements.txt of 100,000 lines",
        lambda: replay.request("POST", deps, json={"filename": "requirements.txt", "content": big}),
    )
    replay.case(f"{SLOW_CLIENTS} slow-body clients (half a body, {SLOW_HOLD_SECONDS:g} s)", lambda: slow_bodies(replay))

    docker = "/api/v1/scan/docker"
    for image in (
        "127.0.0.1:22/x:1",
        "localhost:6379/x:1",
        "169.254.169.254/latest/x:1",
        "10.0.0.1/x:1",
        "[::1]:5000/x:1",
        "0.0.0.0/x:1",
    ):
        replay.case(f"SSRF registry {image}", lambda i=image: replay.request("POST", docker, json={"image": i}))
    replay.case(
        "unresolvable registry host",
        lambda: replay.request("POST", docker, json={"image": "registry.does-not-exist.invalid/x:1"}),
    )
    for image in ("http://127.0.0.1/x:1", "user:pw@host/x:1"):
        replay.case(
            f"invalid image reference {image}", lambda i=image: replay.request("POST", docker, json={"image": i})
        )

    for content_type in ("text/plain", "application/xml", "application/x-www-form-urlencoded"):
        replay.case(
            f"content type {content_type}",
            lambda c=content_type: replay.request(
                "POST", deps, content=b"requests==2.30.0", headers={"Content-Type": c}
            ),
        )
    replay.case(
        "second multipart file part",
        lambda: replay.request(
            "POST",
            deps,
            files=[
                ("file", ("requirements.txt", b"requests==2.30.0\n", "text/plain")),
                ("file", ("requirements-dev.txt", b"flask==2.2.0\n", "text/plain")),
            ],
        ),
    )
    replay.case(
        "file part without filename",
        lambda: replay.request("POST", deps, files={"file": (None, b"requests==2.30.0\n")}),
    )
    replay.case(
        "empty package-lock.json",
        lambda: replay.request("POST", deps, json={"filename": "package-lock.json", "content": ""}),
    )


def table(rows: list[Row]) -> str:
    lines = ["| case | status | time ms | healthy after |", "|---|---|---:|---|"]
    for row in rows:
        case = row.case.replace("|", "\\|")
        lines.append(f"| {case} | {row.status} | {row.millis:.0f} | {'yes' if row.healthy else '**NO**'} |")
    return "\n".join(lines)


def main() -> int:
    global SLOW_HOLD_SECONDS  # one knob, read by the slow-body case and its label
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", required=True, help="an admin key for the admin cases (the demo key is one)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument(
        "--slow-hold", type=float, default=SLOW_HOLD_SECONDS, help="seconds slow-body clients wait for an answer"
    )
    args = parser.parse_args()
    SLOW_HOLD_SECONDS = args.slow_hold
    replay = Replay(args.url, args.api_key, args.timeout)
    if not replay.healthy():
        print(f"{args.url}/health/live does not answer 200: start the server first (make run)", file=sys.stderr)
        return 1
    run(replay)
    print(table(replay.rows))
    return 0 if all(row.healthy for row in replay.rows) else 2


if __name__ == "__main__":
    sys.exit(main())
