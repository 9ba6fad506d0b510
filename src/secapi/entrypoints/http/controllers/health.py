"""Liveness and readiness for orchestrators and load balancers."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, get

from secapi.domain.services.health import ReadinessService
from secapi.entrypoints.http.openapi import PublicOperation, problem_responses
from secapi.entrypoints.http.problems import problem


class HealthController(Controller):
    """`/health/live` and `/health/ready`; no authentication, no rate limit."""

    path = "/health"
    tags = ["health"]

    @get("/live", operation_id="Liveness", summary="The process is up", operation_class=PublicOperation)
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/ready",
        operation_id="Readiness",
        summary="The database (and Redis, when configured) answer",
        operation_class=PublicOperation,
        responses=problem_responses(503),
    )
    @inject
    async def ready(
        self, request: Request[Any, Any, Any], readiness: FromDishka[ReadinessService]
    ) -> Response[dict[str, Any]]:
        state = await readiness.check()
        checks = {name: ("ok" if reason is None else reason) for name, reason in state.checks.items()}
        if state.ready:
            return Response({"status": "ready", "checks": checks})
        failing = ", ".join(state.failing)
        return problem(
            503,
            "not-ready",
            "Not ready",
            f"not ready: {failing} unavailable",
            request,
            headers={"Retry-After": "5"},
            extensions={"checks": checks},
        )
