"""Authentication and the per-minute check are the `/api/v1` router's, not each handler's: a route that never
asks for the caller is still authenticated, counted and refused past the limit."""

from __future__ import annotations

from litestar import get

from secapi.config import Settings
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.app import create_app

from support.http import serve
from support.seed import bearer, create_user


@get("/test-only/probe", operation_id="TestOnlyProbe", sync_to_thread=False)
def probe() -> dict[str, bool]:
    """A test-only route that takes no principal: before the router guard it was open and unlimited."""
    return {"ok": True}


async def test_a_route_that_does_not_ask_for_the_caller_is_authenticated_and_counted(settings: Settings) -> None:
    app = create_app(settings, extra_api_routes=[probe])
    async with serve(app) as client:
        anonymous = await client.get("/api/v1/test-only/probe")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")

        _, key = await create_user(app, "probe@example.com", Tier.FREE)  # 20 requests a minute
        first = await client.get("/api/v1/test-only/probe", headers=bearer(key))
        assert (first.status_code, first.json()) == (200, {"ok": True})
        assert first.headers["x-ratelimit-limit"] == "20"
        assert first.headers["x-ratelimit-remaining"] == "19"
        for _ in range(19):
            assert (await client.get("/api/v1/test-only/probe", headers=bearer(key))).status_code == 200

        refused = await client.get("/api/v1/test-only/probe", headers=bearer(key))
        assert refused.status_code == 429
        assert refused.json()["violated-policies"] == ["minute"]
        usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
        minute = {w["name"]: w for w in usage["windows"]}["minute"]
        assert minute["used"] == 20  # the refused request cost nothing; the usage request found no room


async def test_a_handler_that_asks_for_the_caller_is_counted_once(settings: Settings) -> None:
    app = create_app(settings)
    async with serve(app) as client:
        _, key = await create_user(app, "once@example.com", Tier.FREE)
        await client.get("/api/v1/scans", headers=bearer(key))
        usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
        # One count per request, though the guard and the handler both ask for the caller.
        assert {w["name"]: w for w in usage["windows"]}["minute"]["used"] == 2
