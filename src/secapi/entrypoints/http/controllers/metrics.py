"""`GET /metrics`: the Prometheus exposition, behind `SECAPI_METRICS_TOKEN` when one is set."""

from __future__ import annotations

import asyncio
from typing import Any

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, Router, get
from litestar.openapi.spec import SecurityRequirement

from secapi.config import Settings
from secapi.domain.metrics import MetricsExposition, PoolSampler, scrape_authorized
from secapi.domain.services.metrics_sampling import MetricsSampler
from secapi.entrypoints.http.openapi import TokenOperation, problem_responses
from secapi.entrypoints.http.problems import problem


class MetricsController(Controller):
    """Metrics for Prometheus; no API key and no rate limit (scrapers are not tenants)."""

    path = "/metrics"
    tags = ["metrics"]

    @get(
        "",
        operation_id="Metrics",
        summary="Prometheus metrics",
        description="Prometheus text format, or OpenMetrics when the Accept header asks for "
        "`application/openmetrics-text`. Needs `Authorization: Bearer <SECAPI_METRICS_TOKEN>` when that is set.",
        media_type="text/plain",
        operation_class=TokenOperation,
        responses=problem_responses(401),
    )
    @inject
    async def metrics(
        self,
        request: Request[Any, Any, Any],
        settings: FromDishka[Settings],
        exposition: FromDishka[MetricsExposition],
        sampler: FromDishka[MetricsSampler],
        pool: FromDishka[PoolSampler],
    ) -> Response[Any]:
        if not scrape_authorized(request.headers.get("authorization"), settings.metrics_token):
            return problem(
                401,
                "unauthenticated",
                "Authentication required",
                "metrics need 'Authorization: Bearer <token>' with the token the server was given "
                "in SECAPI_METRICS_TOKEN",
                request,
                headers={"WWW-Authenticate": 'Bearer realm="secapi-metrics"'},
            )
        await sampler.sample()
        pool.sample()
        # Rendering reads every worker's value files in multiprocess mode: keep it off the event loop.
        body, content_type = await asyncio.to_thread(exposition.render, request.headers.get("accept", ""))
        # The encoder's content type already names its charset: set as is, not as a media type Litestar extends.
        return Response(
            body, media_type=content_type, headers={"content-type": content_type, "cache-control": "no-store"}
        )


METRICS_SECURITY_SCHEME = "metricsBearer"
"""The OpenAPI security scheme of `/metrics` when `SECAPI_METRICS_TOKEN` is set."""


def metrics_routes(settings: Settings) -> Router:
    """`/metrics`, documented as needing the scrape token when one is set (and as public otherwise)."""
    security: list[SecurityRequirement] | None = [{METRICS_SECURITY_SCHEME: []}] if settings.metrics_token else None
    return Router("/", route_handlers=[MetricsController], security=security)
