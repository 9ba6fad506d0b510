"""The request's dishka scope, opened only when the request first asks the container for something.

Replaces dishka's `setup_dishka` middleware, which builds a Litestar `Request` and opens a scope for every
request before routing. Requests that resolve nothing (liveness probes, metrics scrapes, 404s) now pay for
neither; `@inject` handlers and the `/api/v1` hook find the scope where dishka's integration puts it
(`request.state.dishka_container`) and only ever call its `get`.
"""

from __future__ import annotations

from typing import Any

from dishka import DEFAULT_COMPONENT, AsyncContainer
from dishka import Scope as DIScope
from litestar import Litestar, Request
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

STATE_KEY = "dishka_container"


class LazyRequestContainer:
    """Stands in for the request's dishka container; the real one is entered on the first `get`."""

    __slots__ = ("_app_container", "_container", "_scope")

    def __init__(self, app_container: AsyncContainer, scope: Scope) -> None:
        self._app_container = app_container
        self._scope = scope
        self._container: AsyncContainer | None = None

    @property
    def opened(self) -> bool:
        """True once something was resolved in this request's scope."""
        return self._container is not None

    async def get(self, dependency_type: Any, component: Any = DEFAULT_COMPONENT) -> Any:
        """Resolve `dependency_type` in the request scope (entering it, synchronously, on first use)."""
        container = self._container
        if container is None:
            request: Request[Any, Any, Any] = Request(self._scope)
            container = self._container = self._app_container({Request: request}, scope=DIScope.REQUEST)
        return await container.get(dependency_type, component)

    async def close(self, exception: BaseException | None = None) -> None:
        """Run the scope's finalizers, if it was entered."""
        if self._container is not None:
            await self._container.close(exception)


def setup_request_scope(container: AsyncContainer, app: Litestar) -> None:
    """Make `container` the app's, and give each HTTP request a lazily entered request scope."""
    app.state.dishka_container = container
    app.asgi_handler = _with_request_scope(app.asgi_handler, container)


def _with_request_scope(handler: ASGIApp, app_container: AsyncContainer) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await handler(scope, receive, send)
            return
        lazy = LazyRequestContainer(app_container, scope)
        scope.setdefault("state", {})[STATE_KEY] = lazy
        try:
            await handler(scope, receive, send)
        except BaseException as exc:
            await lazy.close(exc)
            raise
        await lazy.close()

    return middleware
