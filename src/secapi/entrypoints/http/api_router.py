"""The `/api/v1` router: every route under it is authenticated and counted, declared once here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dishka import AsyncContainer
from litestar import Request, Router
from litestar.types import ControllerRouterHandler

from secapi.domain.model import Principal
from secapi.entrypoints.http.controllers import API_PREFIX
from secapi.entrypoints.http.controllers.admin import AdminController
from secapi.entrypoints.http.controllers.admin_cache import AdminCacheController
from secapi.entrypoints.http.controllers.notifications import NotificationsController
from secapi.entrypoints.http.controllers.sbom_scans import SbomScansController
from secapi.entrypoints.http.controllers.scan_requests import ScanRequestsController
from secapi.entrypoints.http.controllers.scans import ScansController
from secapi.entrypoints.http.controllers.suppressions import IgnoresController, VexController
from secapi.entrypoints.http.controllers.usage import UsageController
from secapi.entrypoints.http.controllers.watches import WatchesController
from secapi.entrypoints.http.media_types import refuse_unaccepted_body

API_CONTROLLERS: tuple[ControllerRouterHandler, ...] = (
    ScanRequestsController,
    SbomScansController,
    ScansController,
    AdminController,
    AdminCacheController,
    UsageController,
    NotificationsController,
    WatchesController,
    IgnoresController,
    VexController,
)
"""The controllers mounted under `API_PREFIX`; their paths are relative to it."""


async def authenticated_and_counted(request: Request[Any, Any, Any]) -> None:
    """`before_request` of every `/api/v1` route: resolve the request's `Principal`, which authenticates the
    bearer key and runs the per-minute check (`HttpAuthProvider.principal`), then refuse a body of a media type
    the operation does not read (415). The request scope caches the principal, so a handler that also asks for
    it gets this one: one authentication, one count per request. Litestar's generated OPTIONS answers (the
    `Allow` header) stay open and uncounted.

    A hook rather than guards: Litestar copies the route handler for every guard it calls (~14 µs each, twice
    per scan request), and this runs on every API request, before the body is parsed, as guards do."""
    if request.scope.get("method") == "OPTIONS":
        return
    container: AsyncContainer = request.state.dishka_container
    await container.get(Principal)
    refuse_unaccepted_body(request)


def api_router(*extra: ControllerRouterHandler) -> Router:
    """The `/api/v1` router with `API_CONTROLLERS` (and `extra` handlers, for tests) behind the guard."""
    handlers: Sequence[ControllerRouterHandler] = (*API_CONTROLLERS, *extra)
    return Router(path=API_PREFIX, route_handlers=list(handlers), before_request=authenticated_and_counted)
