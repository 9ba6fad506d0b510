"""The `/v1` router of the OSV-compatible API: authenticated and counted like `/api/v1`, errors OSV clients read.

Every error under it is the problem+json the rest of the API answers, with OSV's own error members added
(`code`, the gRPC status, and `message`; RFC 9457 allows extension members), and a 422 becomes 400: OSV
answers `INVALID_ARGUMENT` with 400, and its clients treat a 4xx as final where they retry a 5xx
(so an unsupported `commit` query is a 400, not OSV's `UNIMPLEMENTED` 501, which they would retry). Unlike
`/api/v1`, no request is refused for its `Content-Type`: OSV reads any body as JSON (its examples use `curl -d`).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router
from litestar.types import ExceptionHandler, ExceptionHandlersMap

from secapi.entrypoints.http.api_router import authenticated_and_counted
from secapi.entrypoints.http.controllers.osv import OsvController
from secapi.entrypoints.http.problems import exception_handlers

OSV_PREFIX = "/v1"
"""Where OSV's API lives on api.osv.dev, so a client changes only its base URL."""

GRPC_CODES = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    405: 12,
    408: 4,
    409: 6,
    413: 3,
    415: 3,
    422: 3,
    429: 8,
    500: 13,
    503: 14,
}
"""HTTP status → the `google.rpc.Code` OSV's gateway pairs with it (2, `UNKNOWN`, for any other)."""


def _with_osv_status(handler: ExceptionHandler) -> ExceptionHandler:  # type: ignore[type-arg]
    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        response: Response[Any] = handler(request, exc)
        body = response.content
        if isinstance(body, dict):
            status = response.status_code or 500
            if status == 422:
                status = response.status_code = body["status"] = 400
            body["code"] = GRPC_CODES.get(status, 2)
            body["message"] = body.get("detail", "")
        return response

    return handle


def osv_exception_handlers(max_body_bytes: int) -> ExceptionHandlersMap:
    """The app's handlers (`problems.exception_handlers`), each adding OSV's error members to its problem."""
    return {kind: _with_osv_status(handler) for kind, handler in exception_handlers(max_body_bytes).items()}


def osv_router(max_body_bytes: int) -> Router:
    """The `/v1` router: `OsvController` behind the `/api/v1` hook (one authentication, one count a request)."""
    return Router(
        path=OSV_PREFIX,
        route_handlers=[OsvController],
        before_request=authenticated_and_counted,
        exception_handlers=osv_exception_handlers(max_body_bytes),
    )
