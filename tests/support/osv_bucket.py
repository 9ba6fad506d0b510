"""A loopback server of OSV's bucket layout (ETag, Last-Modified, 304s), built from real records, counting requests.

`Bucket` holds the files (`ecosystems.txt`, `<ECOSYSTEM>/all.zip`, `modified_id.csv`, `<ID>.json`) as OSV
publishes them; `BucketServer` serves a bucket over HTTP on 127.0.0.1 in a thread; `Bucket.write_to` puts the
same layout in a directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "osv"


def real_records(*sources: str) -> list[dict[str, Any]]:
    """The real OSV records under `tests/fixtures/osv/<source>/` (all sources when none named)."""
    dirs = [FIXTURES / name for name in sources] if sources else sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    return [json.loads(path.read_text()) for directory in dirs for path in sorted(directory.glob("*.json"))]


def ecosystems_of(record: dict[str, Any]) -> set[str]:
    """The ecosystems a record's affected entries name (its directories in the bucket)."""
    return {entry["package"]["ecosystem"] for entry in record.get("affected", []) if "package" in entry}


@dataclass
class Served:
    """One file: its bytes and validators."""

    body: bytes
    etag: str
    last_modified: datetime


@dataclass
class Bucket:
    """OSV's layout in memory; `put_record` / `withdraw` change it like an OSV export run would."""

    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """ecosystem → id → record."""
    files: dict[str, Served] = field(default_factory=dict)
    publish_listing: bool = True
    """Whether `modified_id.csv` files are published (a plain mirror may have only the zips)."""
    _clock: int = 0

    @classmethod
    def of(cls, records: Iterable[dict[str, Any]], *, publish_listing: bool = True) -> Bucket:
        """A bucket holding `records`, each under every ecosystem it affects."""
        bucket = cls(publish_listing=publish_listing)
        for record in records:
            for ecosystem in ecosystems_of(record):
                bucket.records.setdefault(ecosystem, {})[record["id"]] = record
        bucket.rebuild()
        return bucket

    def put_record(self, record: dict[str, Any]) -> None:
        """Add or replace a record and re-export its ecosystems' files."""
        for ecosystem in ecosystems_of(record):
            self.records.setdefault(ecosystem, {})[record["id"]] = record
        self.rebuild()

    def rebuild(self) -> None:
        """Export every file again; unchanged bytes keep their validators (as a bucket's objects would)."""
        self._clock += 1
        now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC).replace(minute=self._clock % 60, second=0)
        wanted: dict[str, bytes] = {"ecosystems.txt": "".join(f"{e}\n" for e in sorted(self.records)).encode()}
        for ecosystem, records in self.records.items():
            wanted[f"{ecosystem}/all.zip"] = _zip(records.values())
            if self.publish_listing:
                newest_first = sorted(records.values(), key=lambda r: (r["modified"], r["id"]), reverse=True)
                wanted[f"{ecosystem}/modified_id.csv"] = "".join(
                    f"{record['modified']},{record['id']}\n" for record in newest_first
                ).encode()
            for ident, record in records.items():
                wanted[f"{ecosystem}/{ident}.json"] = json.dumps(record, indent=2).encode()
        for path, body in wanted.items():
            old = self.files.get(path)
            if old is None or old.body != body:
                etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
                self.files[path] = Served(body, etag, now)
        for path in set(self.files) - set(wanted):
            del self.files[path]

    def write_to(self, root: Path) -> Path:
        """The same layout as files under `root` (plain names: a directory needs no URL quoting)."""
        for path, served in self.files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != served.body:
                target.write_bytes(served.body)
        return root


def _zip(records: Iterable[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in sorted(records, key=lambda r: r["id"]):
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buffer.getvalue()


def corrupt_zip(body: bytes) -> bytes:
    """A zip whose central directory is intact but one member's compressed bytes are flipped (a CRC error)."""
    data = bytearray(body)
    start = 30 + int.from_bytes(data[26:28], "little") + int.from_bytes(data[28:30], "little")
    for offset in range(start + 2, start + 12):
        data[offset] ^= 0xFF
    return bytes(data)


@dataclass
class BucketServer:
    """Serves a `Bucket` over loopback HTTP, honouring If-None-Match and If-Modified-Since, counting requests."""

    bucket: Bucket
    requests: list[tuple[str, int]] = field(default_factory=list)
    """(path, status) of every request, in order."""
    truncate: set[str] = field(default_factory=set)
    """Paths answered with their full Content-Length but half the body, then a closed connection."""
    url: str = ""
    ignore_conditionals: bool = False
    """Answer every request in full, as a mirror that ignores If-None-Match / If-Modified-Since would."""

    def paths(self, status: int | None = None) -> list[str]:
        """The paths requested (with this status, when given)."""
        return [path for path, code in self.requests if status is None or code == status]

    @contextmanager
    def running(self) -> Iterator[BucketServer]:
        """Serve on 127.0.0.1 (a free port) for the block's duration."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def _handler(owner: BucketServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            path = unquote(self.path.split("?", 1)[0].lstrip("/"))
            served = owner.bucket.files.get(path)
            if served is None:
                self._answer(path, 404, b"not found")
                return
            if not owner.ignore_conditionals and self._not_modified(served):
                self._answer(path, 304, b"", served)
                return
            if path in owner.truncate:
                owner.requests.append((path, 200))
                self.send_response(200)
                self._validators(served)
                self.send_header("Content-Length", str(len(served.body)))
                self.end_headers()
                self.wfile.write(served.body[: len(served.body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self._answer(path, 200, served.body, served)

        def _not_modified(self, served: Served) -> bool:
            tag = self.headers.get("If-None-Match")
            if tag is not None:
                return tag == served.etag
            since = self.headers.get("If-Modified-Since")
            if since is None:
                return False
            try:
                return served.last_modified <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False

        def _validators(self, served: Served) -> None:
            self.send_header("ETag", served.etag)
            self.send_header("Last-Modified", format_datetime(served.last_modified, usegmt=True))

        def _answer(self, path: str, status: int, body: bytes, served: Served | None = None) -> None:
            owner.requests.append((path, status))
            self.send_response(status)
            if served is not None:
                self._validators(served)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    return Handler


def quoted(path: str) -> str:
    """How a bucket path appears on the wire (each segment URL-quoted)."""
    return "/".join(quote(part, safe="") for part in path.split("/"))
