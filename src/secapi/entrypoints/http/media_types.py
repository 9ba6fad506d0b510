"""Which request media types an operation reads: anything else is a 415 before the body is parsed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers import BaseRouteHandler

from secapi.entrypoints.http.openapi import ARCHIVE_MEDIA_TYPES, JSON_MEDIA_TYPE, MULTIPART_MEDIA_TYPE

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def media_type_of(content_type: str) -> str:
    """`application/json` of `Application/JSON; charset=utf-8`."""
    return content_type.split(";", 1)[0].strip().lower()


def _has_body(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    length = connection.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in connection.headers


def accepts(*media_types: str) -> Guard:
    """A guard refusing a body whose media type is not one of `media_types` (`+json` types count as JSON)."""
    names = " or ".join(media_types)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        content_type = connection.headers.get("content-type")
        if content_type is None and not _has_body(connection):
            return  # no body at all: a missing required body is the handler's 400
        media_type = media_type_of(content_type or "")
        if media_type in media_types or (JSON_MEDIA_TYPE in media_types and media_type.endswith("+json")):
            return
        sent = f"Content-Type {media_type!r}" if media_type else "no Content-Type"
        raise HTTPException(status_code=415, detail=f"this operation reads {names} bodies; the request has {sent}")

    return guard


json_only = accepts(JSON_MEDIA_TYPE)
lockfile_media_types = accepts(JSON_MEDIA_TYPE, MULTIPART_MEDIA_TYPE)
archive_media_types = accepts(MULTIPART_MEDIA_TYPE, *ARCHIVE_MEDIA_TYPES)
