"""The Litestar application factory."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Sequence

from dishka import Provider
from dishka.integrations.litestar import LitestarProvider
from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

from secapi import __version__
from secapi.config import Settings
from secapi.entrypoints.background import BackgroundProvider
from secapi.entrypoints.http.accounting import install_request_accounting
from secapi.entrypoints.http.allow_header import complete_allow_header
from secapi.entrypoints.http.api_router import api_router
from secapi.entrypoints.http.auth import HttpAuthProvider
from secapi.entrypoints.http.background import background_work
from secapi.entrypoints.http.body_timeout import body_receive_timeout
from secapi.entrypoints.http.controllers.health import HealthController
from secapi.entrypoints.http.controllers.metrics import METRICS_SECURITY_SCHEME, metrics_routes
from secapi.entrypoints.http.docs_ui import docs_assets_router, docs_render_plugins
from secapi.entrypoints.http.metrics import metrics_lifespan
from secapi.entrypoints.http.openapi import ClosedStructSchemaPlugin
from secapi.entrypoints.http.osv_router import osv_router
from secapi.entrypoints.http.problems import docs_router, exception_handlers
from secapi.entrypoints.http.request_scope import setup_request_scope
from secapi.entrypoints.http.usage import usage_flusher
from secapi.ioc import make_container


def create_app(
    settings: Settings | None = None,
    *overrides: Provider,
    extra_api_routes: Sequence[ControllerRouterHandler] = (),
) -> Litestar:
    """Build the app for `settings` (default: from the environment); `overrides` replace providers;
    `extra_api_routes` (tests) are mounted under `/api/v1` behind the same authentication and count."""
    settings = settings or Settings.from_env()
    container = make_container(settings, LitestarProvider(), HttpAuthProvider(), BackgroundProvider(), *overrides)

    @contextlib.asynccontextmanager
    async def close_container(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await container.close()

    metrics = settings.metrics_enabled
    app = Litestar(
        route_handlers=[
            HealthController,
            api_router(*extra_api_routes),  # authentication and the per-minute check, once for /api/v1
            osv_router(settings.request_max_body_bytes),  # OSV's API at /v1, behind the same check
            *([metrics_routes(settings)] if metrics else []),
            *([docs_assets_router()] if settings.docs_enabled else []),
        ],
        plugins=[ClosedStructSchemaPlugin()],
        exception_handlers=exception_handlers(settings.request_max_body_bytes),
        request_max_body_size=settings.request_max_body_bytes,
        middleware=[body_receive_timeout(settings.body_receive_timeout)],
        before_send=[complete_allow_header],  # Litestar 2's OPTIONS answers list one method only
        lifespan=[close_container, usage_flusher, background_work, *([metrics_lifespan] if metrics else [])],
        openapi_config=_openapi(settings),
        debug=False,
    )
    setup_request_scope(container, app)
    install_request_accounting(app, metrics=metrics)  # outermost: rate-limit headers, usage, HTTP metrics
    return app


def _openapi(settings: Settings) -> OpenAPIConfig | None:
    if not settings.docs_enabled:
        return None
    return OpenAPIConfig(
        title="SecAPI",
        version=__version__,
        description="Vulnerability scanning for container images and dependency lockfiles, "
        "matched against a local copy of the OSV database.",
        path="/schema",
        openapi_router=docs_router("/schema"),  # unknown paths under it: 404 problems, not HTML
        render_plugins=docs_render_plugins(),  # assets served locally: the docs work offline
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer", description="Authorization: Bearer sk_…"),
                **(
                    {
                        METRICS_SECURITY_SCHEME: SecurityScheme(
                            type="http", scheme="bearer", description="Authorization: Bearer <SECAPI_METRICS_TOKEN>"
                        )
                    }
                    if settings.metrics_token
                    else {}
                ),
            }
        ),
        security=[{"apiKey": []}],
    )


GC_THRESHOLDS = (5_000, 20, 20)
"""Young-generation collections every 5,000 allocations rather than 700: requests allocate much and leave
few cycles (reference counting frees the rest), and the startup objects are frozen out of the collector's
walks. Measured with `benchmarks/cache_hit.py` (docs/performance.md): (700, 10, 10) costs a cache hit
~12 % more CPU; (20,000, 50, 100) saves no more CPU than this but its rarer, longer collections stretch
the tail (`/health/live` p99/p50 3.0-3.3 against 2.5 here)."""


def steady_gc() -> None:
    """Tune the cyclic collector for serving: freeze what startup built, collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def app_from_env() -> Litestar:
    """Factory for ASGI servers (`uvicorn --factory secapi.entrypoints.http.app:app_from_env`): a serving process."""
    app = create_app(Settings.from_env())
    app.on_startup.append(steady_gc)
    return app
