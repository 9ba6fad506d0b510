"""What every HTTP request leaves behind, in one pure ASGI wrapper around the whole app.

- Rate-limit headers, from the checks the request's quota service noted (`rate_limit_headers.py`).
- A usage row for the tenant of an authenticated request (method, route template, status, duration),
  buffered and written off the request path (`usage.py`).
- HTTP metrics when enabled: count, latency and in-flight by route template and status, problem types.

One wrapper, one `send` interceptor: these were three middlewares, each adding a coroutine frame and a send
wrapper to every request. It wraps the app's ASGI handler rather than sitting in Litestar's route
middleware, so 404s and 405s, which no route matches, are measured too.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from secapi.adapters.prometheus.http import PrometheusHttpMetrics
from secapi.domain.model import UsageRecord
from secapi.domain.rate_limits import QuotaLedger
from secapi.domain.services.usage import UsageRecorder
from secapi.entrypoints.http.auth import principal_of
from secapi.entrypoints.http.problems import PROBLEM_TYPE_KEY
from secapi.entrypoints.http.rate_limit_headers import LEDGER_KEY, rate_limit_header_pairs

CLIENT_CLOSED_REQUEST = 499
"""nginx's status for a request whose client left before an answer: not a server error for the 5xx alert."""

UNMATCHED_ENDPOINT = "(unmatched)"
"""The `endpoint` of a usage row whose request matched no route."""


def install_request_accounting(app: Litestar, *, metrics: bool) -> None:
    """Wrap the app's ASGI handler (outermost) with `request_accounting`."""
    app.asgi_handler = request_accounting(app.asgi_handler, metrics=metrics)


def request_accounting(handler: ASGIApp, *, metrics: bool) -> ASGIApp:
    """Rate-limit headers, usage and (when `metrics`) HTTP metrics for every HTTP request `handler` serves.

    The usage recorder and metrics come from the app's container on the first request."""
    usage: UsageRecorder | None = None
    http_metrics: PrometheusHttpMetrics | None = None

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal usage, http_metrics
        if scope["type"] != ScopeType.HTTP:
            await handler(scope, receive, send)
            return
        if usage is None:
            container = scope["litestar_app"].state.dishka_container
            if metrics:
                http_metrics = await container.get(PrometheusHttpMetrics)
            usage = await container.get(UsageRecorder)
        state: dict[str, Any] = scope.setdefault("state", {})
        started = time.perf_counter()
        status: int | None = None
        cancelled = False

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                ledger = state.get(LEDGER_KEY)
                if isinstance(ledger, QuotaLedger):
                    # Appended as raw pairs: no handler sets these names.
                    message["headers"] = [*message.get("headers", ()), *rate_limit_header_pairs(ledger)]
            await send(message)

        if http_metrics is not None:
            http_metrics.request_started()
        try:
            await handler(scope, receive, capture)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            seconds = time.perf_counter() - started
            route: str | None = scope.get("path_template")
            principal = principal_of(state)
            if principal is not None:
                usage.record(
                    UsageRecord(
                        user_id=principal.user_id,
                        # The route template, never the raw path: a client's path (NUL bytes, any length)
                        # must not reach the `endpoint` column and fail a whole batch of usage rows.
                        endpoint=(route or UNMATCHED_ENDPOINT)[:200],
                        method=scope["method"],
                        status_code=500 if status is None else status,
                        timestamp=datetime.now(UTC),
                        duration_ms=seconds * 1000,
                    )
                )
            if http_metrics is not None:
                if status is None:  # no answer began: the client went away, or the app failed
                    status = CLIENT_CLOSED_REQUEST if cancelled else 500
                http_metrics.request_finished(scope["method"], route, status, seconds)
                problem_type = state.get(PROBLEM_TYPE_KEY)
                if problem_type is not None:
                    http_metrics.problem(route, status, problem_type)

    return middleware
