"""The caller's quota usage."""

from __future__ import annotations

from datetime import UTC, datetime

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get

from secapi.domain.model import Principal
from secapi.domain.services.quotas import QuotaService
from secapi.entrypoints.http.openapi import AUTHENTICATED, ApiOperation, problem_responses
from secapi.entrypoints.http.schemas import UsageView, WindowView


class UsageController(Controller):
    """`GET /api/v1/usage`."""

    path = "/usage"
    tags = ["account"]

    @get(
        "/",
        operation_id="GetUsage",
        summary="Each quota window: limit, used, remaining, reset time",
        operation_class=ApiOperation,
        responses=problem_responses(*AUTHENTICATED),
    )
    @inject
    async def usage(self, principal: FromDishka[Principal], quotas: FromDishka[QuotaService]) -> UsageView:
        state = await quotas.usage(principal)
        windows = [
            WindowView(
                name=w.name,
                quota=w.quota,
                limit=w.limit,
                used=w.used,
                remaining=w.remaining,
                reset_at=datetime.fromtimestamp(w.reset_at, UTC),
                window_seconds=w.seconds,
            )
            for w in (state.windows if state else ())
        ]
        return UsageView(tier=principal.user.tier, windows=windows, available=state is not None)
