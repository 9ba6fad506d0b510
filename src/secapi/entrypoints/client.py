"""`secapi scan`: a CI client for a SecAPI server.

It decides what it was given (a lockfile by its name, an SBOM by its content, an image archive by its tar
header, else an image reference), submits it to the server, polls a queued scan's `Location` with backoff
within an overall timeout, and writes the result as a table or in an output format the server renders. The
exit status says what CI needs to know (`EXIT_*` below); every failure is one readable line, never a
traceback. The HTTP work is `run_scan`, an async function over an `httpx.AsyncClient`, so tests can hand it
a client bound to an app in process; the click command in `cli.py` only builds that client.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

import httpx
import msgspec

from secapi.domain.lockfiles import COMPANION_NAMES, is_lockfile_name, lockfile_base_name

EXIT_CLEAN = 0
"""No finding at or above the `--fail-on` level (or `--fail-on never`)."""
EXIT_FINDINGS = 1
"""At least one finding at or above the `--fail-on` level (suppressed findings never count)."""
EXIT_USAGE = 2
"""A usage or configuration error: a bad option, no API key, a key the server refuses, an unreadable PATH."""
EXIT_FAILED = 3
"""The scan failed, the server answered an error or could not be reached, or `--timeout` passed."""

URL_VARIABLE = "SECAPI_URL"
KEY_VARIABLE = "SECAPI_API_KEY"
CLIENT_VARIABLES = (URL_VARIABLE, KEY_VARIABLE)
"""The environment the client reads (not server settings)."""
DEFAULT_URL = "http://127.0.0.1:8000"

FORMATS = ("json", "cyclonedx", "spdx", "sarif", "html")
FAIL_LEVELS = ("never", "any", "low", "medium", "high", "critical")
_RANK = {"CRITICAL": 4, "HIGH": 3, "MEDIUM": 2, "LOW": 1}
_THRESHOLD = {"any": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
_SUFFIX_FORMATS = (
    (".sarif", "sarif"),
    (".sarif.json", "sarif"),
    (".cdx.json", "cyclonedx"),
    (".spdx.json", "spdx"),
    (".html", "html"),
    (".htm", "html"),
    (".json", "json"),
)
_SBOM_SUFFIXES = (".cdx.json", ".cdx.xml", ".bom.json", ".bom.xml", ".spdx", ".spdx.json", ".spdx.tv")
_FILE_LIKE_SUFFIXES = (".json", ".xml", ".lock", ".txt", ".tar", ".tgz", ".gz", ".spdx", ".yaml", ".yml")
_JSON_SBOM_KEY = re.compile(rb'"(bomFormat|spdxVersion)"\s*:')
_SNIFF_BYTES = 1 << 20

MAX_429_RETRIES = 2
"""How many times a 429 is retried after its `Retry-After` before the client gives up."""
NOT_STORED_RETRIES = 6
"""Attempts at reading a just-answered scan that the server has not stored yet (404), 0.25 s apart, doubling."""
FIRST_POLL = 1.0
MAX_POLL = 10.0
POLL_FACTOR = 1.5


class TargetKind(StrEnum):
    """What `secapi scan` was given, and so which endpoint it goes to."""

    LOCKFILE = "lockfile"
    SBOM = "sbom"
    ARCHIVE = "archive"
    IMAGE = "image"


@dataclass(frozen=True, slots=True)
class Target:
    """What to scan: a file (lockfile, SBOM, archive) or an image reference."""

    kind: TargetKind
    value: str
    """The path as given, or the image reference."""

    @property
    def path(self) -> Path:
        return Path(self.value)


class ClientError(Exception):
    """A failure shown as one line, ending the command with `exit_code`."""

    exit_code = EXIT_FAILED


class UsageProblem(ClientError):
    """The command cannot run as given (exit 2)."""

    exit_code = EXIT_USAGE


class ScanProblem(ClientError):
    """The scan failed or the server could not answer (exit 3)."""

    exit_code = EXIT_FAILED


# What the client reads of a scan: msgspec ignores the rest, so a newer server's extra fields change nothing.
class _Package(msgspec.Struct, kw_only=True):
    name: str
    ecosystem: str = ""


class _Finding(msgspec.Struct, kw_only=True):
    id: str
    package: _Package
    installed_version: str
    fixed_versions: list[str] = []
    severity: str = "UNKNOWN"


class _Result(msgspec.Struct, kw_only=True):
    target: str = ""
    vulnerabilities: list[_Finding] = []
    suppressed: list[_Finding] = []
    informational: list[_Finding] = []
    unscannable: list[dict[str, Any]] = []
    unscanned: list[dict[str, Any]] = []
    vulndb_version: int | None = None


class ScanView(msgspec.Struct, kw_only=True):
    """A scan as `GET /api/v1/scans/{id}` and the scan endpoints show it (the fields the client uses)."""

    id: str
    status: str
    result: _Result | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """One `secapi scan` run, as the command line asked for it."""

    target: Target
    fail_on: str = "never"
    output_format: str | None = None
    """A format the server renders (`FORMATS`); None prints the table only."""
    output: Path | None = None
    """Where the formatted document goes; None is standard output."""
    timeout: float = 600.0
    platform: str | None = None
    image: str | None = None
    """Which image of a multi-image archive."""


@dataclass(slots=True)
class ScanOutcome:
    """What a finished run produced: the scan, the formatted document if one was asked for, the exit status."""

    scan: ScanView
    document: bytes | None
    exit_code: int
    failing: list[_Finding] = field(default_factory=list)


class Progress(Protocol):
    """What the client reports while it waits (a terminal spinner, or nothing)."""

    def status(self, text: str) -> None: ...

    def tick(self) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    """Quiet: not a terminal, or a test."""

    def status(self, text: str) -> None:
        pass

    def tick(self) -> None:
        pass

    def close(self) -> None:
        pass


class TerminalProgress:
    """A tqdm line on standard error: what is scanned, the time so far, the scan's state."""

    def __init__(self, label: str, stream: IO[str]) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=None, desc=label, bar_format="{desc} [{elapsed}] {postfix}", file=stream, leave=False, delay=0.5
        )

    def status(self, text: str) -> None:
        self._bar.set_postfix_str(text, refresh=True)

    def tick(self) -> None:
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def api_key_from(option: str | None, env: dict[str, str] | os._Environ[str]) -> str:
    """The API key from `--api-key` or `SECAPI_API_KEY`; a `UsageProblem` when neither is set."""
    key = (option if option is not None else env.get(KEY_VARIABLE, "")).strip()
    if not key:
        raise UsageProblem(f"no API key: set {KEY_VARIABLE} or pass --api-key")
    return key


def base_url_from(option: str | None, env: dict[str, str] | os._Environ[str]) -> str:
    """The server from `--url` or `SECAPI_URL` (default `DEFAULT_URL`), checked to be an http(s) URL."""
    url = (option if option is not None else env.get(URL_VARIABLE, "")).strip() or DEFAULT_URL
    parsed = httpx.URL(url) if "://" in url else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageProblem(f"{url!r} is not a server URL: give http(s)://host[:port] in --url or {URL_VARIABLE}")
    return url.rstrip("/")


def format_for_output(output_format: str | None, output: Path | None) -> str | None:
    """The format to request: `--format`, else one the `-o` file's name implies (`results.sarif`)."""
    if output_format is not None or output is None:
        return output_format
    name = output.name.lower()
    for suffix, implied in _SUFFIX_FORMATS:
        if name.endswith(suffix):
            return implied
    raise UsageProblem(f"cannot tell the format of {output.name!r} from its name: pass --format")


def classify(value: str, forced: TargetKind | None = None) -> Target:
    """What `value` is: a lockfile (by name), an SBOM (by content or extension), an image archive (a tar, plain
    or gzipped), or, when it is not an existing file, an image reference. `forced` skips the guessing."""
    path = Path(value)
    if forced is TargetKind.IMAGE:
        return Target(TargetKind.IMAGE, value)
    if path.is_dir():
        raise UsageProblem(f"{value} is a directory: give a lockfile, an SBOM or an image archive inside it")
    if not path.exists():
        if forced is not None or _looks_like_a_path(value):
            raise UsageProblem(f"{value}: no such file")
        return Target(TargetKind.IMAGE, value)
    if forced is not None:
        return Target(forced, value)
    if is_lockfile_name(value):
        return Target(TargetKind.LOCKFILE, value)
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise UsageProblem(f"{value}: cannot be read ({exc.strerror or exc})") from None
    if _is_tar(head):
        return Target(TargetKind.ARCHIVE, value)
    if _is_sbom(head) or path.name.lower().endswith(_SBOM_SUFFIXES):
        return Target(TargetKind.SBOM, value)
    raise UsageProblem(
        f"cannot tell what {value} is: not a lockfile SecAPI knows by name (package-lock.json, poetry.lock, "
        "go.mod, requirements.txt, ...), not a CycloneDX or SPDX SBOM, not an image archive (docker save or OCI "
        "layout tar, optionally gzipped); pass --type to say"
    )


def _looks_like_a_path(value: str) -> bool:
    if value.startswith(("/", "./", "../", "~", ".\\")) or "\\" in value:
        return True
    return is_lockfile_name(value) or value.lower().endswith(_FILE_LIKE_SUFFIXES + _SBOM_SUFFIXES)


def _is_tar(head: bytes) -> bool:
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 1024)
        except zlib.error:
            return False
    return len(head) >= 262 and head[257:262] == b"ustar"


def _is_sbom(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return _JSON_SBOM_KEY.search(head) is not None
    if text.startswith(b"<"):
        return b"cyclonedx.org/schema/bom" in head
    return b"SPDXVersion:" in head


def upload_name(path: Path, cwd: Path | None = None) -> str:
    """The name a file is sent under: its path relative to the working directory (a CI checkout's root, so a
    SARIF result points at `frontend/package-lock.json`), else its base name."""
    here = (cwd or Path.cwd()).resolve()
    try:
        relative = path.resolve().relative_to(here)
    except ValueError:
        return path.name
    return PurePosixPath(*relative.parts).as_posix()


def fails(finding: _Finding, fail_on: str) -> bool:
    """Whether one finding fails the build at `fail_on` (UNKNOWN severity counts only for `any`)."""
    if fail_on == "never":
        return False
    return _RANK.get(finding.severity.upper(), 0) >= _THRESHOLD[fail_on]


def exit_code_for(scan: ScanView, fail_on: str) -> tuple[int, list[_Finding]]:
    """The exit status for a completed scan, and the findings that set it. Suppressed and informational
    findings are not in `vulnerabilities`, so they never fail a build."""
    findings = scan.result.vulnerabilities if scan.result is not None else []
    failing = [finding for finding in findings if fails(finding, fail_on)]
    return (EXIT_FINDINGS if failing else EXIT_CLEAN), failing


Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class _Clock:
    deadline: float
    sleep: Sleep
    now: Callable[[], float]
    progress: Progress

    def remaining(self) -> float:
        return self.deadline - self.now()

    async def wait(self, seconds: float) -> None:
        """Sleep `seconds` (never past the deadline), keeping a terminal's elapsed time moving."""
        left = max(0.0, min(seconds, self.remaining()))
        while left > 0:
            step = min(left, 0.5)
            await self.sleep(step)
            left -= step
            self.progress.tick()


RequestFactory = Callable[[ExitStack], dict[str, Any]]
"""The keyword arguments of one attempt at a request; files it opens go on the stack (reopened per attempt)."""


async def _send(
    client: httpx.AsyncClient, method: str, url: str, clock: _Clock, build: RequestFactory
) -> httpx.Response:
    """One request, retried after `Retry-After` on a 429 up to `MAX_429_RETRIES` times (within the timeout)."""
    for attempt in range(MAX_429_RETRIES + 1):
        with ExitStack() as stack:
            try:
                response = await client.request(method, url, timeout=_io_timeout(clock), **build(stack))
            except httpx.TimeoutException:
                raise ScanProblem(f"{method} {url}: the server did not answer in time") from None
            except httpx.TransportError as exc:
                raise ScanProblem(f"cannot reach {client.base_url}: {str(exc) or type(exc).__name__}") from None
        if response.status_code != 429 or attempt == MAX_429_RETRIES:
            return response
        retry_after = _seconds(response.headers.get("retry-after"))
        if retry_after is None or retry_after > clock.remaining():
            return response
        clock.progress.status(f"rate limited, retrying in {retry_after:.0f}s")
        await clock.wait(retry_after)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns on its last attempt


def _io_timeout(clock: _Clock) -> httpx.Timeout:
    # Connecting fails fast; a synchronous scan may take the server a while to answer, but never past --timeout.
    return httpx.Timeout(max(1.0, clock.remaining()), connect=min(10.0, max(1.0, clock.remaining())))


def _seconds(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        return max(0.0, float(header.strip()))
    except ValueError:
        return None


def problem_line(response: httpx.Response) -> str:
    """An error answer as one line: an RFC 9457 problem's title and detail (with the parameters it names),
    else the status and the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("title" in body or "detail" in body):
        title = str(body.get("title") or f"HTTP {response.status_code}")
        detail = str(body.get("detail") or "").strip()
        params = body.get("invalid-params") or body.get("invalid_params") or []
        reasons = [
            f"{p.get('name')}: {p.get('reason')}"
            for p in params
            if isinstance(p, dict) and p.get("reason") and str(p.get("reason")) not in detail
        ]
        text = f"{title}: {detail}" if detail else title
        if reasons:
            text += " (" + "; ".join(reasons) + ")"
    else:
        snippet = " ".join(response.text.split())[:200]
        text = f"HTTP {response.status_code} {response.reason_phrase}" + (f": {snippet}" if snippet else "")
    return f"{text} [HTTP {response.status_code}]".replace("\n", " ")


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    line = problem_line(response)
    if response.status_code == 401:
        raise UsageProblem(f"the server refused the API key: {line}")
    raise ScanProblem(line)


def _decode_view(response: httpx.Response) -> ScanView:
    try:
        return msgspec.json.decode(response.content, type=ScanView)
    except msgspec.MsgspecError as exc:
        raise ScanProblem(f"the server's answer is not a scan ({exc}) [HTTP {response.status_code}]") from None


def _submission(target: Target, options: ScanOptions) -> tuple[str, RequestFactory]:
    """The endpoint and request for the target."""
    if target.kind is TargetKind.IMAGE:
        body: dict[str, Any] = {"image": target.value}
        if options.platform:
            body["platform"] = options.platform
        return "/api/v1/scan/docker", lambda _stack: {"json": body}
    path = target.path
    name = upload_name(path)

    def upload(stack: ExitStack) -> dict[str, Any]:
        files: list[tuple[str, tuple[str, IO[bytes], str]]] = [
            ("file", (name, stack.enter_context(path.open("rb")), "application/octet-stream"))
        ]
        data: dict[str, str] = {}
        if target.kind is TargetKind.LOCKFILE:
            for companion in _companions(path):
                files.append(("files", (companion.name, stack.enter_context(companion.open("rb")), "text/plain")))
        if target.kind is TargetKind.ARCHIVE:
            data = {key: value for key, value in (("platform", options.platform), ("image", options.image)) if value}
        return {"files": files, "data": data}

    endpoint = {
        TargetKind.LOCKFILE: "/api/v1/scan/dependencies",
        TargetKind.SBOM: "/api/v1/scan/sbom",
        TargetKind.ARCHIVE: "/api/v1/scan/docker/archive",
    }[target.kind]
    return endpoint, upload


def _companions(path: Path) -> Iterator[Path]:
    """The files beside a lockfile that complete it (a go.mod's go.sum), when present."""
    for name in sorted(COMPANION_NAMES.get(lockfile_base_name(path.name), frozenset())):
        companion = path.with_name(name)
        if companion.is_file():
            yield companion


async def run_scan(
    client: httpx.AsyncClient,
    options: ScanOptions,
    *,
    progress: Progress | None = None,
    sleep: Sleep = asyncio.sleep,
    now: Callable[[], float] = time.monotonic,
) -> ScanOutcome:
    """Submit the target, wait for the scan within `options.timeout`, fetch the asked format, decide the exit.

    `client` carries the server's base URL and the `Authorization` header; `sleep` and `now` are the waiting
    and the clock (a test's fake time). Raises `ClientError` (one line, its `exit_code`) for everything that is
    not a finished scan.
    """
    progress = progress or NoProgress()
    clock = _Clock(deadline=now() + options.timeout, sleep=sleep, now=now, progress=progress)
    endpoint, build = _submission(options.target, options)
    progress.status("uploading" if options.target.kind is not TargetKind.IMAGE else "submitting")
    response = await _send(client, "POST", endpoint, clock, build)
    _raise_for(response)
    scan = _decode_view(response)
    if response.status_code == 202 or scan.status in ("queued", "running"):
        location = response.headers.get("location") or f"/api/v1/scans/{scan.id}"
        scan, response = await _wait(client, location, scan, clock, _seconds(response.headers.get("retry-after")))
    if scan.status == "failed":
        raise ScanProblem(f"Scan failed: {scan.error or 'the server gave no reason'} (scan {scan.id})")
    if scan.status != "completed" or scan.result is None:
        raise ScanProblem(f"scan {scan.id} ended {scan.status}: {scan.error or 'it has no readable result'}")
    document = None
    if options.output_format == "json":
        document = response.content  # the completed scan as the server showed it
    elif options.output_format is not None:
        progress.status(f"fetching {options.output_format}")
        document = await _fetch(client, f"/api/v1/scans/{scan.id}", clock, options.output_format)
    code, failing = exit_code_for(scan, options.fail_on)
    return ScanOutcome(scan=scan, document=document, exit_code=code, failing=failing)


async def _wait(
    client: httpx.AsyncClient, location: str, scan: ScanView, clock: _Clock, hint: float | None
) -> tuple[ScanView, httpx.Response]:
    """Poll `location` until the scan is completed or failed: backoff from `FIRST_POLL` by `POLL_FACTOR` up to
    `MAX_POLL`, never sooner than the server's `Retry-After`, never past the deadline."""
    delay = FIRST_POLL
    while True:
        clock.progress.status(scan.status)
        if clock.remaining() <= 0:
            raise ScanProblem(
                f"the scan did not finish within the timeout; it is still {scan.status} on the server: "
                f"GET {location} (scan {scan.id})"
            )
        await clock.wait(max(delay, hint or 0.0))
        response = await _send(client, "GET", location, clock, lambda _stack: {})
        _raise_for(response)
        scan = _decode_view(response)
        if scan.status not in ("queued", "running"):
            return scan, response
        hint = _seconds(response.headers.get("retry-after"))
        delay = min(delay * POLL_FACTOR, MAX_POLL)


async def _fetch(client: httpx.AsyncClient, path: str, clock: _Clock, fmt: str | None) -> bytes:
    """The finished scan in `fmt`. A scan answered from the cache has its row written behind (within the
    server's flush interval), so a 404 just after the answer is retried a few times before it counts."""
    params = {"format": fmt} if fmt is not None else {}
    delay = FIRST_POLL / 4
    for _ in range(NOT_STORED_RETRIES):
        response = await _send(client, "GET", path, clock, lambda _stack: {"params": params})
        if response.status_code != 404 or clock.remaining() <= delay:
            break
        await clock.wait(delay)
        delay *= 2
    _raise_for(response)
    return response.content


_COLUMNS = ("SEVERITY", "ADVISORY", "PACKAGE", "INSTALLED", "FIXED")


def table(scan: ScanView) -> str:
    """The findings as a text table, most severe first, and a summary line of what else the result says."""
    result = scan.result or _Result()
    findings = sorted(
        result.vulnerabilities,
        key=lambda f: (-_RANK.get(f.severity.upper(), 0), f.package.name.lower(), f.installed_version, f.id),
    )
    rows = [
        (f.severity.upper(), f.id, f.package.name, f.installed_version, ", ".join(f.fixed_versions) or "-")
        for f in findings
    ]
    lines = []
    if rows:
        widths = [max(len(row[i]) for row in (_COLUMNS, *rows)) for i in range(len(_COLUMNS))]
        for row in (_COLUMNS, *rows):
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    lines.append(summary(scan))
    return "\n".join(lines) + "\n"


def summary(scan: ScanView) -> str:
    """One line: the findings per severity, and what the result did not count or could not look at."""
    result = scan.result or _Result()
    counts: dict[str, int] = {}
    for finding in result.vulnerabilities:
        counts[finding.severity.upper()] = counts.get(finding.severity.upper(), 0) + 1
    levels = [f"{counts[level]} {level.lower()}" for level in (*_RANK, "UNKNOWN") if counts.get(level)]
    total = len(result.vulnerabilities)
    text = f"{result.target or scan.id}: {total} {'vulnerability' if total == 1 else 'vulnerabilities'}"
    if levels:
        text += f" ({', '.join(levels)})"
    extras = [
        (len(result.suppressed), "suppressed"),
        (len(result.informational), "informational"),
        (len(result.unscannable), "unscannable"),
        (len(result.unscanned), "unscanned"),
    ]
    text += "".join(f", {count} {what}" for count, what in extras if count)
    if result.vulndb_version is not None:
        text += f"; vulnerability database version {result.vulndb_version}"
    return text


def verdict(outcome: ScanOutcome, fail_on: str) -> str | None:
    """Why the exit status is not 0, or a note when the threshold let findings through; None otherwise."""
    if outcome.failing:
        return f"{len(outcome.failing)} finding(s) at or above --fail-on {fail_on}: exit {EXIT_FINDINGS}"
    findings = outcome.scan.result.vulnerabilities if outcome.scan.result is not None else []
    if fail_on == "never" and findings:
        return f"exit {EXIT_CLEAN}: --fail-on never (the default); --fail-on high fails the build at HIGH or CRITICAL"
    if fail_on != "any" and findings:
        unknown = sum(1 for f in findings if f.severity.upper() not in _RANK)
        below = len(findings) - unknown
        note = f"{below} finding(s) below --fail-on {fail_on}" if below else ""
        if unknown:
            note += ("; " if note else "") + f"{unknown} of unknown severity (only --fail-on any counts them)"
        return note
    return None


def run_scan_command(
    value: str,
    *,
    url: str | None,
    api_key: str | None,
    fail_on: str,
    output_format: str | None,
    output: Path | None,
    timeout: float,
    kind: str | None = None,
    platform: str | None = None,
    archive_image: str | None = None,
    stdout: IO[bytes] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """`secapi scan` itself: check the configuration, run the scan, write what was asked, return the exit
    status. Raises `ClientError` for a one-line failure."""
    import sys

    out = stdout or sys.stdout.buffer
    err = stderr or sys.stderr
    key = api_key_from(api_key, os.environ)
    base = base_url_from(url, os.environ)
    fmt = format_for_output(output_format, output)
    target = classify(value, TargetKind(kind) if kind else None)
    options = ScanOptions(
        target=target,
        fail_on=fail_on,
        output_format=fmt,
        output=output,
        timeout=timeout,
        platform=platform,
        image=archive_image,
    )
    label = f"scanning {target.value}"
    progress: Progress = TerminalProgress(label, err) if err.isatty() else NoProgress()

    async def main() -> ScanOutcome:
        headers = {
            "Authorization": f"Bearer {key}",
            "Accept": "application/json",  # the scan view; a format is asked for by name (`?format=`)
            "User-Agent": f"secapi-scan/{_version()}",
        }
        async with httpx.AsyncClient(base_url=base, headers=headers, follow_redirects=False) as client:
            return await run_scan(client, options, progress=progress)

    try:
        outcome = asyncio.run(main())
    finally:
        progress.close()
    write_outcome(outcome, options, out, err)
    return outcome.exit_code


def write_outcome(outcome: ScanOutcome, options: ScanOptions, out: IO[bytes], err: IO[str]) -> None:
    """The document to its file (or standard output), the table (or, when the document took standard output,
    the summary line on standard error), and the verdict on standard error."""
    if outcome.document is not None and options.output is not None:
        try:
            options.output.write_bytes(outcome.document)
        except OSError as exc:
            raise UsageProblem(f"cannot write {options.output}: {exc.strerror or exc}") from None
    if outcome.document is not None and options.output is None:
        out.write(outcome.document)
        out.flush()
        print(summary(outcome.scan), file=err)
    else:
        out.write(table(outcome.scan).encode())
        out.flush()
        if options.output is not None:
            print(f"wrote {options.output_format} to {options.output}", file=err)
    note = verdict(outcome, options.fail_on)
    if note:
        print(note, file=err)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("secapi")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "dev"
