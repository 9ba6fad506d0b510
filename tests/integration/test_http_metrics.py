"""`GET /metrics` through the real app on PostgreSQL and Redis: counters, labels, token, formats."""

from __future__ import annotations

import uuid

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample

from support.http import serve
from support.metrics import parse_exposition, sample
from support.seed import bearer, container_of, create_user

SCAN = "/api/v1/scan/dependencies"


def lockfile(n: int) -> dict[str, str]:
    return {"filename": "requirements.txt", "content": f"flask==2.2.{n}\n"}


def with_settings(settings: Settings, **changes: object) -> Settings:
    return Settings.from_env({}, **{**settings.__dict__, **changes})


@pytest.fixture
async def api(app: Litestar, client: AsyncClient) -> tuple[AsyncClient, Litestar]:
    await import_sample(container_of(app))
    return client, app


async def test_a_miss_a_hit_a_failed_scan_and_429s_show_with_their_labels(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, key = await create_user(app, "metrics@example.com", Tier.FREE)
    assert (await client.post(SCAN, json=lockfile(0), headers=bearer(key))).headers["x-cache-status"] == "MISS"
    assert (await client.post(SCAN, json=lockfile(0), headers=bearer(key))).headers["x-cache-status"] == "HIT"
    broken = await client.post(SCAN, json={"filename": "package-lock.json", "content": "{"}, headers=bearer(key))
    assert broken.status_code == 422
    for n in range(1, 9):  # with the failed one, the free tier's 10 scans an hour
        assert (await client.post(SCAN, json=lockfile(n), headers=bearer(key))).status_code == 200
    assert (await client.post(SCAN, json=lockfile(9), headers=bearer(key))).status_code == 429
    _, other = await create_user(app, "minute@example.com", Tier.STARTER)
    statuses = [(await client.get("/api/v1/scans", headers=bearer(other))).status_code for _ in range(101)]
    assert statuses.count(429) == 1  # the starter tier's 100 requests a minute
    assert (await client.get("/no/such/route")).status_code == 404

    scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = parse_exposition(scrape.text)

    def requests(status: str) -> float | None:
        return sample(samples, "secapi_scan_requests_total", scan_type="dependencies", status=status, tier="free")

    assert requests("miss") == 10  # 9 that ran and completed, 1 that ran and failed on its input
    assert requests("hit") == 1
    assert requests("completed") == 9
    assert requests("failed") == 1
    assert requests("rejected") == 1
    assert sample(samples, "secapi_cache_hits_total", scan_type="dependencies") == 1
    assert sample(samples, "secapi_cache_misses_total", scan_type="dependencies") == 11  # the refused one looked too
    assert sample(samples, "secapi_rate_limit_exceeded_total", tier="free", endpoint="scan/dependencies") == 1
    assert sample(samples, "secapi_rate_limit_exceeded_total", tier="starter", endpoint="/api/v1/scans") == 1
    assert sample(samples, "secapi_scan_duration_seconds_count", scan_type="dependencies") == 11  # 10 runs, 1 hit
    http = "secapi_http_requests_total"
    assert sample(samples, http, method="POST", route=SCAN, status="200") == 10
    assert sample(samples, http, method="POST", route=SCAN, status="422") == 1
    assert sample(samples, http, method="POST", route=SCAN, status="429") == 1
    assert sample(samples, http, method="GET", route="/api/v1/scans", status="429") == 1
    assert sample(samples, http, method="GET", route="unmatched", status="404") == 1
    problems = "secapi_http_problems_total"
    assert sample(samples, problems, route=SCAN, status="422", type="malformed-lockfile") == 1
    assert sample(samples, problems, route=SCAN, status="429", type="quota-exceeded") == 1
    assert sample(samples, problems, route="unmatched", status="404", type="not-found") == 1
    assert sample(samples, "secapi_http_request_duration_seconds_count", method="POST", route=SCAN) == 12
    assert sample(samples, "secapi_http_requests_in_flight") == 1  # the scrape itself
    assert sample(samples, "secapi_dependency_up", dependency="database") == 1
    assert sample(samples, "secapi_dependency_up", dependency="redis") == 1
    assert sample(samples, "secapi_vulndb_version") == 1
    assert (sample(samples, "secapi_vulndb_age_seconds") or -1) >= 0
    assert sample(samples, "secapi_scan_queue_depth") == 0
    assert sample(samples, "secapi_db_pool_size") == 5
    assert sample(samples, "secapi_db_pool_in_use") is not None


async def test_requests_are_labelled_by_route_template_never_by_raw_path(api: tuple[AsyncClient, Litestar]) -> None:
    client, app = api
    _, key = await create_user(app, "routes@example.com", Tier.FREE)
    scan_id = (await client.post(SCAN, json=lockfile(0), headers=bearer(key))).json()["id"]
    missing_id = str(uuid.uuid4())
    assert (await client.get(f"/api/v1/scans/{scan_id}", headers=bearer(key))).status_code == 200
    assert (await client.get(f"/api/v1/scans/{missing_id}", headers=bearer(key))).status_code == 404
    assert (await client.get("/api/v1/scans/not-a-uuid", headers=bearer(key))).status_code == 404

    text = (await client.get("/metrics")).text
    samples = parse_exposition(text)
    route = "/api/v1/scans/{scan_id}"  # Litestar's template, without the parameter's type
    assert sample(samples, "secapi_http_requests_total", method="GET", route=route, status="200") == 1
    assert sample(samples, "secapi_http_requests_total", method="GET", route=route, status="404") == 1
    assert sample(samples, "secapi_http_problems_total", route=route, status="404", type="not-found") == 1
    assert sample(samples, "secapi_http_request_duration_seconds_count", method="GET", route=route) == 2
    assert sample(samples, "secapi_http_requests_total", method="GET", route="unmatched", status="404") == 1
    for raw in (scan_id, missing_id, "not-a-uuid"):
        assert raw not in text  # label values stay bounded whatever the callers send


async def test_openmetrics_is_served_when_asked_for(client: AsyncClient) -> None:
    scrape = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert scrape.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert scrape.text.endswith("# EOF\n")


async def test_the_metrics_token_is_required_when_set_and_scrapes_are_never_rate_limited(settings: Settings) -> None:
    app = create_app(with_settings(settings, metrics_token="scrape-me"))
    async with serve(app) as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers=bearer("scrape-m3"))
        scrapes = [await client.get("/metrics", headers=bearer("scrape-me")) for _ in range(30)]
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert {r.status_code for r in scrapes} == {200}  # more than any per-minute window; no API key involved
    assert "x-ratelimit-limit" not in scrapes[-1].headers
    assert "secapi_http_requests_total" in scrapes[-1].text


async def test_redis_going_away_shows_at_the_next_scrape(settings: Settings) -> None:
    app = create_app(with_settings(settings, redis_url="redis://127.0.0.1:1/0", redis_timeout=0.2))
    async with serve(app) as client:
        samples = parse_exposition((await client.get("/metrics")).text)
    assert sample(samples, "secapi_dependency_up", dependency="redis") == 0
    assert sample(samples, "secapi_dependency_up", dependency="database") == 1


async def test_disabled_metrics_serve_no_route(settings: Settings) -> None:
    async with serve(create_app(with_settings(settings, metrics_enabled=False))) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/health/live")).status_code == 200
