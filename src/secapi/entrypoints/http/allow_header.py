"""`Allow` on OPTIONS answers lists every method of the resource.

Litestar 2 builds a path's automatic OPTIONS handler with the first method registered there, so
`OPTIONS /api/v1/account/notifications` answered `Allow: DELETE, OPTIONS` (litestar#4169, fixed only
in Litestar 3). The header is set here from the app's routes as the response starts. (Its 405 answers
carry no `Allow` either, litestar#4277: routing fails before the path template is known.)
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope


def _allowed(app: Litestar, path_template: str) -> str | None:
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == path_template:
            return ", ".join(sorted({*route.methods, "OPTIONS"}))
    return None


async def complete_allow_header(message: Message, scope: Scope) -> None:
    """A `before_send` hook: the automatic OPTIONS answer names every method of its path."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS" or message["status"] != 204:
        return
    app = scope.get("litestar_app")
    path = scope.get("path_template")
    allow = _allowed(app, path) if isinstance(app, Litestar) and isinstance(path, str) else None
    if allow is not None:
        MutableScopeHeaders.from_message(message)["Allow"] = allow
