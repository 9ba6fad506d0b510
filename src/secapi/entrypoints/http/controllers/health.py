"""Liveness and readiness for orchestrators and load balancers."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, MediaType, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.response.base import ASGIResponse

from secapi.domain.services.health import ReadinessService
from secapi.entrypoints.http.openapi import PublicOperation, problem_responses
from secapi.entrypoints.http.problems import problem


class Liveness(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The liveness answer."""

    status: Literal["ok"]


_LIVE = ASGIResponse(body=msgspec.json.encode(Liveness(status="ok")), media_type=MediaType.JSON)
"""Encoded once and sent as is: probes and load balancers ask many times a second, and it never changes
(an ASGI response holds no per-request state; its headers are encoded afresh for each send)."""


class HealthController(Controller):
    """`/health/live` and `/health/ready`; no authentication, no rate limit."""

    path = "/health"
    tags = ["health"]

    @get(
        "/live",
        operation_id="Liveness",
        summary="The process is up",
        operation_class=PublicOperation,
        responses={200: ResponseSpec(data_container=Liveness, description="The process is up")},
    )
    async def live(self) -> ASGIResponse:
        return _LIVE

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
