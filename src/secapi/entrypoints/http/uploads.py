"""Receiving an image archive upload: streamed to a temporary file, hashed, size-limited.

Multipart is parsed incrementally (python-multipart) straight from the ASGI
stream, so memory stays flat whatever the archive size; a raw body
(`Content-Type: application/x-tar`, `application/gzip`, `application/octet-stream`)
is accepted too, for `curl --data-binary @image.tar`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from litestar import Request
from litestar.exceptions import HTTPException
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from secapi.domain.errors import InvalidInput

RAW_TYPES = ("application/x-tar", "application/gzip", "application/x-gzip", "application/octet-stream")
_MAX_FIELD_BYTES = 1024


@dataclass
class ArchiveUpload:
    """An uploaded archive on disk, with the form fields that came with it."""

    path: Path
    filename: str
    sha256: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)


class _FileSink:
    """Writes one part to a temporary file while hashing and counting it."""

    def __init__(self, directory: str | None, limit: int) -> None:
        handle, name = tempfile.mkstemp(prefix="secapi-upload-", suffix=".tar", dir=directory)
        self.path = Path(name)
        self.file: BinaryIO = os.fdopen(handle, "wb")
        self.hash = hashlib.sha256()
        self.size = 0
        self.limit = limit

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise HTTPException(status_code=413, detail=f"the archive is larger than {self.limit} bytes")
        self.hash.update(data)
        self.file.write(data)

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


async def receive_archive(request: Request[Any, Any, Any], *, limit: int, directory: str | None) -> ArchiveUpload:
    """Stream the upload to disk; the caller deletes `path` when done. 413 over `limit`, 422 when malformed."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    kind = content_type.decode().lower()
    if kind == "multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise InvalidInput("the multipart body has no boundary", field="file")
        return await _receive_multipart(request, boundary, limit, directory)
    if kind in RAW_TYPES:
        sink = _FileSink(directory, limit)
        try:
            async for chunk in request.stream():
                sink.write(chunk)
        except BaseException:
            sink.discard()
            raise
        sink.file.close()
        return ArchiveUpload(path=sink.path, filename="upload.tar", sha256=sink.hash.hexdigest(), size=sink.size)
    raise InvalidInput(
        "send the archive as multipart/form-data (field 'file') or as a raw body with Content-Type "
        + " or ".join(RAW_TYPES),
        field="file",
    )


async def _receive_multipart(
    request: Request[Any, Any, Any], boundary: bytes, limit: int, directory: str | None
) -> ArchiveUpload:
    state: dict[str, Any] = {"headers": {}, "name": None, "filename": None, "field": bytearray()}
    header: dict[str, bytes] = {"field": b"", "value": b""}
    fields: dict[str, str] = {}
    sinks: list[_FileSink] = []

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][header["field"].decode("latin-1").lower()] = header["value"]
        header["field"], header["value"] = b"", b""

    def on_headers_finished() -> None:
        _, params = parse_options_header(state["headers"].get("content-disposition", b""))
        state["name"] = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        state["filename"] = filename.decode("utf-8", "replace") if filename is not None else None
        if state["name"] == "file":
            if sinks:
                raise InvalidInput("send exactly one 'file' part", field="file")
            sinks.append(_FileSink(directory, limit))
            state["upload_name"] = state["filename"]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["name"] == "file":
            sinks[-1].write(data[start:end])
            return
        state["field"] += data[start:end]
        if len(state["field"]) > _MAX_FIELD_BYTES:
            raise InvalidInput(f"form field {state['name']!r} is too long", field=state["name"])

    def on_part_end() -> None:
        if state["name"] != "file" and state["name"]:
            fields[state["name"]] = bytes(state["field"]).decode("utf-8", "replace").strip()
        state.update(headers={}, name=None, field=bytearray())

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        for sink in sinks:
            sink.discard()
        raise InvalidInput(f"the multipart body is malformed: {exc}", field="file") from exc
    except BaseException:
        for sink in sinks:
            sink.discard()
        raise
    if not sinks:
        raise InvalidInput("send the image archive in a multipart field named 'file'", field="file")
    sink = sinks[0]
    sink.file.close()
    return ArchiveUpload(
        path=sink.path,
        filename=state.get("upload_name") or "upload.tar",
        sha256=sink.hash.hexdigest(),
        size=sink.size,
        fields=fields,
    )
