"""OSV's bucket layout over HTTP(S) or in a local directory: conditional downloads, verified before use.

`<base>/ecosystems.txt`, `<base>/<ECOSYSTEM>/all.zip`, `<base>/<ECOSYSTEM>/modified_id.csv` (lines
`<RFC 3339 modified>,<ID>`, newest first) and `<base>/<ECOSYSTEM>/<ID>.json`. Over HTTP the ecosystem and
id are URL-quoted path segments (`Red%20Hat`, `Debian%3A12`); in a directory they are plain names.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx

from secapi.adapters.osv.reader import MAX_RECORD_BYTES, iter_records
from secapi.domain.osv_imports import RawRecord
from secapi.domain.vulndb_sync_ports import Fetched, ModifiedId, NotPublished, SyncFailed, SyncSource, Validators

DEFAULT_SOURCE = "https://osv-vulnerabilities.storage.googleapis.com"
DEFAULT_MAX_BYTES = 2 * 1024**3
RECORD_CONCURRENCY = 16
"""Single-record requests in flight at once."""
_CHUNK = 1024 * 1024


def parse_modified_ids(text: str, *, source: str = "modified_id.csv") -> list[ModifiedId]:
    """`<modified>,<ID>` lines (or `<modified>,<ECOSYSTEM>/<ID>` as in the bucket's top-level file).

    A line that does not parse fails the whole file: skipping it could skip a changed record for good.
    """
    entries: list[ModifiedId] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        stamp, comma, ident = line.partition(",")
        ident = ident.strip().rpartition("/")[2]
        try:
            modified = datetime.fromisoformat(stamp.strip())
        except ValueError:
            modified = None
        if not comma or not ident or modified is None:
            raise SyncFailed(f"{source} line {number} is not `<RFC 3339 time>,<id>`: {line[:100]!r}")
        entries.append(ModifiedId(modified if modified.tzinfo else modified.replace(tzinfo=UTC), ident))
    return entries


def verify_archive(path: Path, *, source: str) -> None:
    """Read every member of a zip and check its CRC; SyncFailed if it is not a whole, sound zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise SyncFailed(f"{source} is corrupt or not a zip ({exc}); nothing imported") from exc
    if bad is not None:
        raise SyncFailed(f"{source} is corrupt (CRC mismatch in {bad}); nothing imported")


class OsvBucketSource(SyncSource):
    """The `SyncSource` port over an OSV bucket at `location`: an http(s) URL, a `file://` URL or a directory."""

    def __init__(
        self,
        location: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        scratch_dir: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.location = location.rstrip("/")
        self._local = _local_root(self.location)
        self._max_bytes = max_bytes
        self._scratch = scratch_dir or None
        self._owned: set[Path] = set()
        # A small pool: more connections than requests in flight only make httpcore scan its list longer.
        limits = httpx.Limits(max_connections=RECORD_CONCURRENCY, max_keepalive_connections=RECORD_CONCURRENCY)
        self._client = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=True, limits=limits
        )

    async def aclose(self) -> None:
        """Close the HTTP connections and delete any download still held."""
        await self._client.aclose()
        for path in list(self._owned):
            self.release(path)

    def resource(self, ecosystem: str | None, name: str) -> str:
        """The URL or path of `name` in `ecosystem` (None: at the top): its sync state's key."""
        return self._where(name) if ecosystem is None else self._where(ecosystem, name)

    async def ecosystems(self, validators: Validators | None) -> Fetched[list[str]]:
        """`ecosystems.txt`'s names (NotPublished when absent)."""
        fetched = await self._download(self._where("ecosystems.txt"), validators, limit=1024 * 1024)
        if fetched.value is None:
            return Fetched(None, fetched.validators)
        try:
            text = fetched.value.read_text(encoding="utf-8", errors="replace")
        finally:
            self.release(fetched.value)
        names = [line.strip() for line in text.splitlines() if line.strip()]
        return Fetched(names, fetched.validators, fetched.size)

    async def modified_ids(self, ecosystem: str, validators: Validators | None) -> Fetched[list[ModifiedId]]:
        """`modified_id.csv`, parsed (NotPublished when absent)."""
        where = self._where(ecosystem, "modified_id.csv")
        fetched = await self._download(where, validators, limit=self._max_bytes)
        if fetched.value is None:
            return Fetched(None, fetched.validators)
        path = fetched.value
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8", errors="replace")
            entries = await asyncio.to_thread(parse_modified_ids, text, source=where)
        finally:
            self.release(path)
        return Fetched(entries, fetched.validators, fetched.size)

    async def archive(self, ecosystem: str, validators: Validators | None) -> Fetched[Path]:
        """`all.zip`, whole and verified (CRC of every member) before it is handed out."""
        where = self._where(ecosystem, "all.zip")
        fetched = await self._download(where, validators, limit=self._max_bytes)
        if fetched.value is not None:
            try:
                await asyncio.to_thread(verify_archive, fetched.value, source=where)
            except SyncFailed:
                self.release(fetched.value)
                raise
        return fetched

    def archive_records(self, path: Path) -> Iterator[RawRecord]:
        """The records of a verified archive, one member at a time."""
        return iter_records(path)

    async def records(self, ecosystem: str, ids: Sequence[str]) -> list[RawRecord]:
        """`<ID>.json` for each id, a few requests at a time; an id not published any more is a rejected record."""
        gate = asyncio.Semaphore(RECORD_CONCURRENCY)

        async def one(ident: str) -> RawRecord:
            where = self._where(ecosystem, f"{ident}.json")
            async with gate:
                try:
                    data = await self._read_small(where)
                except NotPublished:
                    return RawRecord(source=where, error="listed in modified_id.csv but not published")
            return RawRecord(source=where, data=data)

        return list(await asyncio.gather(*(one(ident) for ident in ids)))

    async def feed(self, location: str, validators: Validators | None) -> Fetched[Path]:
        """A feed file at a URL or path, downloaded whole."""
        return await self._download(location, validators, limit=self._max_bytes)

    def release(self, path: Path) -> None:
        """Delete a file this source downloaded (a local source's own files are left alone)."""
        if path in self._owned:
            self._owned.discard(path)
            path.unlink(missing_ok=True)

    def _where(self, *parts: str) -> str:
        if self._local is not None:
            return str(self._local.joinpath(*parts))
        return "/".join([self.location, *(quote(part, safe="") for part in parts)])

    async def _read_small(self, where: str) -> bytes:
        if _local_root(where) is None:
            return await self._http_bytes(where, MAX_RECORD_BYTES)
        fetched = await self._download(where, None, limit=MAX_RECORD_BYTES)
        assert fetched.value is not None
        try:
            return await asyncio.to_thread(fetched.value.read_bytes)
        finally:
            self.release(fetched.value)

    async def _download(self, where: str, validators: Validators | None, *, limit: int) -> Fetched[Path]:
        local = _local_root(where)
        if local is not None:
            return _local_file(local, validators, limit)
        return await self._http(where, validators, limit)

    async def _http(self, url: str, validators: Validators | None, limit: int) -> Fetched[Path]:
        headers = {}
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return Fetched(None, validators or Validators())
                if response.status_code == 404:
                    raise NotPublished(f"{url} is not published (HTTP 404)")
                if response.status_code != 200:
                    raise SyncFailed(f"{url} answered HTTP {response.status_code}; nothing imported")
                received = Validators(response.headers.get("etag"), response.headers.get("last-modified"))
                if validators is not None and validators.etag and received.etag == validators.etag:
                    # A mirror that ignores If-None-Match: the same ETag is the same file, left unread.
                    return Fetched(None, validators)
                path, size = await self._stream_to_file(url, response, limit)
        except httpx.RemoteProtocolError as exc:  # fewer bytes than Content-Length said, then a closed connection
            raise SyncFailed(f"{url} was cut short ({exc}); nothing imported") from exc
        except httpx.HTTPError as exc:
            raise SyncFailed(f"{url}: download failed ({type(exc).__name__}: {exc}); nothing imported") from exc
        return Fetched(path, received, size)

    async def _http_bytes(self, url: str, limit: int) -> bytes:
        """A small file (one record) kept in memory: no temporary file per request, still bounded."""
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code == 404:
                    raise NotPublished(f"{url} is not published (HTTP 404)")
                if response.status_code != 200:
                    raise SyncFailed(f"{url} answered HTTP {response.status_code}; nothing imported")
                body = bytearray()
                async for chunk in response.aiter_bytes(_CHUNK):
                    body += chunk
                    if len(body) > limit:
                        raise SyncFailed(f"{url} is over the {limit}-byte limit; nothing imported")
        except httpx.HTTPError as exc:
            raise SyncFailed(f"{url}: download failed ({type(exc).__name__}: {exc}); nothing imported") from exc
        return bytes(body)

    async def _stream_to_file(self, url: str, response: httpx.Response, limit: int) -> tuple[Path, int]:
        declared = response.headers.get("content-length")
        encoded = response.headers.get("content-encoding", "identity").lower() not in ("", "identity")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise SyncFailed(f"{url} is {int(declared)} bytes, over the {limit}-byte limit")
        handle, name = tempfile.mkstemp(
            prefix="secapi-sync-", suffix=Path(urlsplit(url).path).suffix, dir=self._scratch
        )
        path = Path(name)
        self._owned.add(path)
        size = 0
        try:
            with os.fdopen(handle, "wb") as out:
                # Raw bytes when not content-encoded, so the count can be checked against Content-Length.
                chunks = response.aiter_bytes(_CHUNK) if encoded else response.aiter_raw(_CHUNK)
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise SyncFailed(f"{url} is over the {limit}-byte limit; nothing imported")
                    out.write(chunk)
            if declared is not None and declared.isdigit() and not encoded and size != int(declared):
                raise SyncFailed(f"{url} was cut short: {size} of {declared} bytes; nothing imported")
        except OSError as exc:  # the scratch disk is full or gone
            self.release(path)
            raise SyncFailed(f"{url}: could not store the download ({exc}); nothing imported") from exc
        except BaseException:
            self.release(path)
            raise
        return path, size


def _local_root(location: str) -> Path | None:
    if location.startswith("file://"):
        return Path(unquote(urlsplit(location).path))
    if location.startswith(("http://", "https://")):
        return None
    return Path(location)


def _local_file(path: Path, validators: Validators | None, limit: int) -> Fetched[Path]:
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise NotPublished(f"{path} does not exist") from exc
    except OSError as exc:
        raise SyncFailed(f"{path}: {exc}") from exc
    if stat.st_size > limit:
        raise SyncFailed(f"{path} is {stat.st_size} bytes, over the {limit}-byte limit")
    # A file's validators are its size and modification time, as a web server would make them.
    mine = Validators(
        etag=f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',
        last_modified=format_datetime(datetime.fromtimestamp(stat.st_mtime, UTC), usegmt=True),
    )
    if validators is not None and validators.etag == mine.etag:
        return Fetched(None, mine)
    return Fetched(path, mine, stat.st_size)
