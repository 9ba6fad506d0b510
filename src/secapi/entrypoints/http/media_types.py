"""Which request media types an operation reads: anything else is a 415 before the body is parsed."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException

from secapi.entrypoints.http.openapi import ARCHIVE_MEDIA_TYPES, JSON_MEDIA_TYPE, MULTIPART_MEDIA_TYPE


def media_type_of(content_type: str) -> str:
    """`application/json` of `Application/JSON; charset=utf-8`."""
    return content_type.split(";", 1)[0].strip().lower()


def _has_body(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    length = connection.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in connection.headers


ACCEPTS = "secapi_accepts"
"""The `opt` key naming the request media types an operation (or a controller's operations) reads."""


def accepts(*media_types: str) -> dict[str, tuple[str, ...]]:
    """`opt` of an operation that reads bodies of `media_types` only (`+json` types count as JSON).

    Checked by `refuse_unaccepted_body` from the `/api/v1` router's `before_request` hook, before the body is
    parsed. Not a guard: Litestar copies the route handler for every guard it calls (~14 µs each)."""
    return {ACCEPTS: media_types}


def refuse_unaccepted_body(request: Request[Any, Any, Any]) -> None:
    """A 415 when the request's body is not of a media type its operation reads."""
    media_types: tuple[str, ...] | None = request.route_handler.opt.get(ACCEPTS)
    if media_types is None:
        return
    content_type = request.headers.get("content-type")
    if content_type is None and not _has_body(request):
        return  # no body at all: a missing required body is the handler's 400
    media_type = media_type_of(content_type or "")
    if media_type in media_types or (JSON_MEDIA_TYPE in media_types and media_type.endswith("+json")):
        return
    names = " or ".join(media_types)
    sent = f"Content-Type {media_type!r}" if media_type else "no Content-Type"
    raise HTTPException(status_code=415, detail=f"this operation reads {names} bodies; the request has {sent}")


json_only = accepts(JSON_MEDIA_TYPE)
lockfile_media_types = accepts(JSON_MEDIA_TYPE, MULTIPART_MEDIA_TYPE)
archive_media_types = accepts(MULTIPART_MEDIA_TYPE, *ARCHIVE_MEDIA_TYPES)
