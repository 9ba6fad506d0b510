"""The `/api/v1` router: every route under it is authenticated and counted, declared once here."""

from __future__ import annotations

from collections.abc import Sequence

from dishka import AsyncContainer
from litestar import Router
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ControllerRouterHandler

from secapi.domain.model import Principal
from secapi.entrypoints.http.controllers import API_PREFIX
from secapi.entrypoints.http.controllers.admin import AdminController
from secapi.entrypoints.http.controllers.admin_cache import AdminCacheController
from secapi.entrypoints.http.controllers.notifications import NotificationsController
from secapi.entrypoints.http.controllers.scan_requests import ScanRequestsController
from secapi.entrypoints.http.controllers.scans import ScansController
from secapi.entrypoints.http.controllers.usage import UsageController
from secapi.entrypoints.http.controllers.watches import WatchesController

API_CONTROLLERS: tuple[ControllerRouterHandler, ...] = (
    ScanRequestsController,
    ScansController,
    AdminController,
    AdminCacheController,
    UsageController,
    NotificationsController,
    WatchesController,
)
"""The controllers mounted under `API_PREFIX`; their paths are relative to it."""


async def authenticated_and_counted(
    connection: ASGIConnection,  # type: ignore[type-arg]
    _: BaseRouteHandler,
) -> None:
    """Guard of every `/api/v1` route: resolve the request's `Principal`, which authenticates the bearer key
    and runs the per-minute check (`HttpAuthProvider.principal`). The request scope caches it, so a handler
    that also asks for the principal gets this one: one authentication, one count per request. Litestar's
    generated OPTIONS answers (the `Allow` header) stay open and uncounted, as before."""
    if connection.scope.get("method") == "OPTIONS":
        return
    container: AsyncContainer = connection.state.dishka_container
    await container.get(Principal)


def api_router(*extra: ControllerRouterHandler) -> Router:
    """The `/api/v1` router with `API_CONTROLLERS` (and `extra` handlers, for tests) behind the guard."""
    handlers: Sequence[ControllerRouterHandler] = (*API_CONTROLLERS, *extra)
    return Router(path=API_PREFIX, route_handlers=list(handlers), guards=[authenticated_and_counted])
