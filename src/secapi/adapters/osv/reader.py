"""Streaming OSV records out of data-dump zips, directories of .json files, or single files."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import msgspec

from secapi.domain.osv_imports import RawRecord

SAMPLE_DIR = Path(__file__).parent / "sample"
MAX_RECORD_BYTES = 16 * 1024 * 1024
"""A single OSV record is a few KB; anything this large is refused, not loaded."""


class SourceError(ValueError):
    """A path that is not an OSV source (missing, or neither a zip, a directory nor a .json file)."""


_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])


def _from_zip(path: Path) -> Iterator[RawRecord]:
    # One member at a time: memory is bounded by the largest record, not the archive.
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            source = f"{path.name}:{info.filename}"
            if info.file_size > MAX_RECORD_BYTES:
                yield RawRecord(source=source, error=f"record is {info.file_size} bytes, over {MAX_RECORD_BYTES}")
                continue
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                yield RawRecord(source=source, error=f"unreadable zip member: {exc}")
                continue
            # Decoding is the parser's job: it reads only the fields it needs, in C.
            yield RawRecord(source=source, data=data)


def _from_file(path: Path) -> Iterator[RawRecord]:
    if path.stat().st_size > MAX_RECORD_BYTES:
        yield RawRecord(source=str(path), error=f"file is over {MAX_RECORD_BYTES} bytes")
        return
    data = path.read_bytes()
    # A file may hold one record or, as some exports do, a JSON array of records.
    if data.lstrip()[:1] != b"[":
        yield RawRecord(source=str(path), data=data)
        return
    try:
        items = _ARRAY.decode(data)
    except msgspec.DecodeError as exc:
        yield RawRecord(source=str(path), error=f"not a JSON array of records: {exc}")
        return
    for n, item in enumerate(items):
        yield RawRecord(source=f"{path}[{n}]", data=bytes(item))


def iter_records(path: Path) -> Iterator[RawRecord]:
    """Every record under `path`, in a stable order."""
    if not path.exists():
        raise SourceError(f"{path} does not exist")
    if path.is_dir():
        for child in sorted(path.rglob("*.json")):
            yield from _from_file(child)
        return
    if zipfile.is_zipfile(path):
        yield from _from_zip(path)
        return
    if path.suffix == ".json":
        yield from _from_file(path)
        return
    raise SourceError(f"{path} is not a zip, a directory or a .json file")


def count_records(path: Path) -> int | None:
    """How many records `path` holds, when cheap to know (for a progress bar's total)."""
    if path.is_dir():
        return sum(1 for _ in path.rglob("*.json"))
    if path.exists() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return sum(1 for info in archive.infolist() if info.filename.endswith(".json"))
    return None
