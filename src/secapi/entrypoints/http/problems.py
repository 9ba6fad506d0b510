"""RFC 9457 problem responses: the one place exceptions become HTTP errors."""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, Router
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.types import ExceptionHandlersMap
from litestar.utils.scope.state import ScopeState

from secapi.domain.errors import (
    Conflict,
    DependencyUnavailable,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    VulnDbEmpty,
)
from secapi.domain.lockfiles import LockfileError, MalformedLockfile, UnsupportedLockfile
from secapi.domain.rate_limits import RateLimitExceeded
from secapi.domain.tiers import RATE_LIMITS, WATCH_LIMITS, next_tier

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://secapi.dev/problems/"
PROBLEM_TYPE_KEY = "problem_type"
"""Where `problem()` leaves the type slug on the request's scope state, for the error metrics."""

# Domain error → (status, type slug, title). Subclasses inherit their base's entry.
_DOMAIN_PROBLEMS: dict[type[DomainError], tuple[int, str, str]] = {
    NotAuthenticated: (401, "unauthenticated", "Authentication required"),
    PermissionDenied: (403, "forbidden", "Forbidden"),
    NotFound: (404, "not-found", "Not found"),
    Conflict: (409, "conflict", "Conflict"),
    InvalidInput: (422, "invalid-input", "Invalid input"),
    VulnDbEmpty: (503, "vulndb-empty", "Vulnerability database is empty"),
    DependencyUnavailable: (503, "dependency-unavailable", "Service temporarily unavailable"),
}

_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("quota-exceeded", "Too many requests"),
}


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    request: Request[Any, Any, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    """A problem+json response with `type`, `title`, `status`, `detail`, `instance` and extensions."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if request is not None:
        body["instance"] = request.url.path
        request.scope.setdefault("state", {})[PROBLEM_TYPE_KEY] = slug
    body.update(extensions or {})
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _domain_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, DomainError)
    status, slug, title = next(
        (entry for kind, entry in _DOMAIN_PROBLEMS.items() if isinstance(exc, kind)),
        (400, "bad-request", "Bad request"),
    )
    headers = {"WWW-Authenticate": _www_authenticate(request)} if status == 401 else None
    extensions: dict[str, Any] = {}
    if isinstance(exc, InvalidInput) and exc.field is not None:
        extensions["invalid-params"] = [{"name": exc.field, "reason": str(exc)}]
    return problem(status, slug, title, str(exc), request, headers=headers, extensions=extensions)


def _lockfile_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, UnsupportedLockfile):
        return problem(
            422,
            "unsupported-lockfile",
            "Unsupported lockfile",
            str(exc),
            request,
            extensions={
                "invalid-params": [{"name": "filename", "reason": str(exc)}],
                "supported": list(exc.supported),
            },
        )
    assert isinstance(exc, MalformedLockfile)
    return problem(
        422,
        "malformed-lockfile",
        "Malformed lockfile",
        str(exc),
        request,
        extensions={
            "invalid-params": [{"name": "content", "reason": exc.reason, "location": exc.location}],
        },
    )


def _quota_exceeded(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, RateLimitExceeded)
    result = exc.result
    violated = [w for w in result.windows if w.name in result.violated] or list(result.windows)
    retry = max(1, math.ceil(result.retry_after or 1))
    frees_at = datetime.fromtimestamp(time.time() + retry, UTC).isoformat(timespec="seconds")
    limits = {**RATE_LIMITS[exc.tier.value], "watches": WATCH_LIMITS[exc.tier.value]}
    described = ", ".join(f"{w.limit} {_UNITS.get(w.quota, w.quota)}" for w in violated)
    detail = (
        f"Your {exc.tier.value} tier allows {described}, and you have reached it; "
        f"room frees up at {frees_at} (in {retry} s)."
    )
    if all(w.seconds == 0 for w in violated):  # a count (watches), not a time window: only a delete frees room
        detail = f"Your {exc.tier.value} tier allows {described} at once, and you have reached it; delete one first."
    upgrade = next_tier(exc.tier)
    if upgrade is not None:
        better = {**RATE_LIMITS[upgrade.value], "watches": WATCH_LIMITS[upgrade.value]}
        detail += (
            " The "
            + upgrade.value
            + " tier allows "
            + ", ".join(f"{better[w.quota]} {_UNITS.get(w.quota, w.quota)}" for w in violated)
            + "."
        )
    return problem(
        429,
        "quota-exceeded",
        "Quota exceeded",
        detail,
        request,
        headers={"Retry-After": str(retry)},
        extensions={
            "tier": exc.tier.value,
            "retry_after": retry,
            "reset_at": frees_at,
            "limits": limits,
            "violated-policies": [w.name for w in violated],
        },
    )


_UNITS = {
    "api_requests_per_minute": "API requests per minute",
    "scans_per_hour": "scans per hour",
    "scans_per_month": "scans per month",
    "watches": "watched targets",
}


def _validation_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, ValidationException)
    params = [
        {
            "name": _wire_name(request, item.get("key")) or "body",
            "reason": item.get("message", ""),
            "in": item.get("source", "body"),
        }
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    names = ", ".join(p["name"] for p in params) or "the request"
    detail = f"the request is not valid: check {names}" if params else str(exc.detail)
    return problem(400, "validation-error", "Validation failed", detail, request, extensions={"invalid-params": params})


def _wire_name(request: Request[Any, Any, Any], key: Any) -> Any:
    """The name a client sent a parameter under (`?format=`), where Litestar reports the handler's argument name
    (`output_format`) for a parameter declared with another name."""
    try:
        field = request.route_handler.parsed_fn_signature.parameters.get(key)
    except (AttributeError, KeyError):  # no route matched, or an error raised outside a handler
        return key
    return getattr(getattr(field, "kwarg_definition", None), "name", None) or key


def _undecodable_text(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Invalid UTF-8 in a JSON string: msgspec raises `UnicodeDecodeError` (not `DecodeError`), wherever it decodes."""
    assert isinstance(exc, UnicodeDecodeError)
    body = ScopeState.from_scope(request.scope).body
    if not isinstance(body, bytes):
        body = b""
    offset = body.find(exc.object) if exc.object else -1
    if offset < 0:  # not the request body's bytes: a decoding bug elsewhere is still a 500
        return _unexpected_error(request, exc)
    position = offset + exc.start
    detail = (
        f"the request body is not valid UTF-8: the byte at offset {position} (0x{body[position]:02x}) in a JSON string "
        f"is {_UTF8_REASONS.get(exc.reason, exc.reason)}; send JSON encoded as UTF-8"
    )
    params = [{"name": "body", "reason": detail, "in": "body"}]
    return problem(400, "bad-request", "Bad request", detail, request, extensions={"invalid-params": params})


_UTF8_REASONS = {
    "invalid start byte": "not the start of any UTF-8 character",
    "invalid continuation byte": "the start of a UTF-8 character that the bytes after it do not complete",
    "unexpected end of data": "the start of a UTF-8 character that the string ends before completing",
}


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        500, "internal-error", "Internal server error", "an unexpected error occurred; it has been logged", request
    )


def _www_authenticate(request: Request[Any, Any, Any]) -> str:
    has_token = bool(request.headers.get("authorization"))
    return 'Bearer realm="secapi", error="invalid_token"' if has_token else 'Bearer realm="secapi"'


def _http_error_handler(max_body_bytes: int) -> Any:
    details = {
        404: lambda r: f"there is no resource at {r.url.path}",
        405: lambda r: f"{r.method} is not allowed on {r.url.path}",
        413: lambda r: f"the request body is larger than the {max_body_bytes} bytes this server accepts",
    }

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        slug, title = _HTTP_TITLES.get(status, ("http-error", "Error"))
        detail = details[status](request) if status in details else str(exc.detail)
        headers = dict(exc.headers or {})
        if status == 401:
            headers.setdefault("WWW-Authenticate", _www_authenticate(request))
        if status >= 500:
            log.error("HTTP %s on %s %s: %s", status, request.method, request.url.path, exc.detail)
        # A body that does not even decode is still an offending field: the body itself.
        extensions = {"invalid-params": [{"name": "body", "reason": detail, "in": "body"}]} if status == 400 else None
        return problem(status, slug, title, detail, request, headers=headers or None, extensions=extensions)

    return handle


def docs_router(path: str) -> Router:
    """The router the OpenAPI plugin fills with the docs; a path under it that serves nothing is a 404 problem.

    Litestar answers such paths from a catch-all `{path:str}` route with an HTML page; the one route of
    the docs with a path parameter is that catch-all, so a request it matched becomes `NotFoundException`.
    """

    def refuse_unserved_path(request: Request[Any, Any, Any]) -> None:
        if request.path_params:
            raise NotFoundException

    return Router(path, route_handlers=[], include_in_schema=False, before_request=refuse_unserved_path)


def exception_handlers(max_body_bytes: int) -> ExceptionHandlersMap:
    """The handlers to install on the app: every error leaves as problem+json."""
    return {
        DomainError: _domain_error,
        LockfileError: _lockfile_error,
        RateLimitExceeded: _quota_exceeded,
        ValidationException: _validation_error,
        HTTPException: _http_error_handler(max_body_bytes),
        UnicodeDecodeError: _undecodable_text,
        Exception: _unexpected_error,
    }
