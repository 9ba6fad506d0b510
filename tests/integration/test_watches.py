"""Watched targets end to end: PostgreSQL, Redis, the real importer, the real signed sender, a loopback receiver.

A tenant watches a finished lockfile scan; importing a real advisory (tests/fixtures/osv, see its NOTICE.md)
for one of its packages re-matches only that package's key, records a `new_findings` event and posts a
signed `scan.new_findings` webhook; withdrawing the record records a `resolved_findings` event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient, Response
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.sql.watches import SqlWatchRepository
from secapi.config import Settings
from secapi.domain.model import ScanStatus
from secapi.domain.ports import ScanRepository
from secapi.domain.services.watches import WatchEventDelivery, WatchRematcher
from secapi.domain.tiers import Tier
from secapi.domain.watches import EventKind, WatchEvent, WatchUpdate
from secapi.domain.webhook_signing import verify
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_paths, import_sample

from support.http import serve
from support.seed import add_scans, bearer, container_of, create_user
from support.webhook_receiver import Receiver

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "fixtures" / "osv" / "ghsa"
CERTIFI = FIXTURES / "GHSA-xqr8-7jwr-rhp7.json"
"""certifi: introduced 2015.04.28, fixed 2023.07.22 (not in the bundled sample)."""
SECRET = "watch-integration-secret"
REQUIREMENTS = "certifi==2022.12.7\nidna==3.4\n"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


@pytest.fixture
def watch_app(settings: Settings) -> Litestar:
    return create_app(dataclasses.replace(settings, webhook_allowlist="127.0.0.1"))


@pytest.fixture
async def watch_client(watch_app: Litestar) -> AsyncIterator[AsyncClient]:
    async with serve(watch_app) as http:
        yield http


async def _scan(client: AsyncClient, key: str, content: str = REQUIREMENTS) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/scan/dependencies", json={"filename": "requirements.txt", "content": content}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _scans_used(usage: Response) -> int:
    """The scans counted in the caller's hour window."""
    return int(next(w["used"] for w in usage.json()["windows"] if w["quota"] == "scans_per_hour"))


async def _deliver(app: Litestar) -> None:
    delivery = await container_of(app).get(WatchEventDelivery)
    await delivery.deliver_due()


def _withdrawn(tmp_path: Path) -> Path:
    record = json.loads(CERTIFI.read_text())
    record["withdrawn"] = "2030-01-01T00:00:00Z"
    record["modified"] = "2030-01-01T00:00:00Z"
    path = tmp_path / "withdrawn" / CERTIFI.name
    path.parent.mkdir()
    path.write_text(json.dumps(record))
    return path.parent


async def test_new_advisory_for_a_watched_lockfile_is_an_event_and_a_signed_webhook(
    watch_app: Litestar, watch_client: AsyncClient, receiver: Receiver, tmp_path: Path
) -> None:
    container = container_of(watch_app)
    await import_sample(container)
    _, key = await create_user(watch_app, "watcher@example.com", Tier.STARTER)
    registered = await watch_client.put(
        "/api/v1/account/notifications", json={"url": receiver.url, "secret": SECRET}, headers=bearer(key)
    )
    assert registered.status_code == 200, registered.text
    scan = await _scan(watch_client, key)
    assert not [v for v in scan["result"]["vulnerabilities"] if v["package"]["name"] == "certifi"]

    created = await watch_client.post("/api/v1/watches", json={"scan_id": scan["id"]}, headers=bearer(key))
    assert created.status_code == 201, created.text
    watch = created.json()
    assert watch["status"] == "active"
    assert watch["kind"] == "scan"
    assert watch["packages"] == 2
    assert created.headers["location"] == f"/api/v1/watches/{watch['id']}"
    assert '"watches";q=25' in created.headers["ratelimit-policy"]

    # A sync (here the importer's after-update path) adds certifi's advisory.
    summary = await import_paths(container, [CERTIFI], show_progress=False)
    assert ("PyPI", "certifi") in summary.changed_keys

    events = (await watch_client.get(f"/api/v1/watches/{watch['id']}/events", headers=bearer(key))).json()["items"]
    assert [e["kind"] for e in events] == ["new_findings"]
    assert events[0]["advisories"] == ["GHSA-xqr8-7jwr-rhp7"]
    assert events[0]["findings"][0]["package"]["name"] == "certifi"
    assert events[0]["findings"][0]["fixed_versions"] == ["2023.07.22"]
    assert events[0]["delivery"]["delivered_at"] is None

    await _deliver(watch_app)
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert headers["secapi-event"] == "scan.new_findings"
    assert headers["secapi-delivery"] == events[0]["id"]
    assert verify(SECRET, headers["secapi-timestamp"], body, headers["secapi-signature"], now=time.time())
    posted = json.loads(body)
    assert posted["type"] == "scan.new_findings"
    assert posted["watch_id"] == watch["id"]
    assert posted["advisories"] == ["GHSA-xqr8-7jwr-rhp7"]
    assert posted["findings"][0]["id"] == "GHSA-xqr8-7jwr-rhp7"
    assert posted["findings"][0]["installed_version"] == "2022.12.7"
    assert summary.version is not None
    assert posted["vulndb_version"] == summary.version.version
    after = (await watch_client.get(f"/api/v1/watches/{watch['id']}/events", headers=bearer(key))).json()["items"]
    assert after[0]["delivery"]["delivered_at"] is not None
    assert after[0]["delivery"]["attempts"] == 1
    assert (await watch_client.get(f"/api/v1/watches/{watch['id']}", headers=bearer(key))).json()["findings"] == (
        watch["findings"] + 1
    )

    # The same record again changes nothing; a withdrawn one resolves the finding.
    await import_paths(container, [CERTIFI], show_progress=False)
    await import_paths(container, [_withdrawn(tmp_path)], show_progress=False)
    events = (await watch_client.get(f"/api/v1/watches/{watch['id']}/events", headers=bearer(key))).json()["items"]
    assert [e["kind"] for e in events] == ["resolved_findings", "new_findings"]
    assert events[0]["advisories"] == ["GHSA-xqr8-7jwr-rhp7"]
    assert events[0]["delivery"] is None
    await _deliver(watch_app)
    assert len(receiver.requests) == 1  # resolved events are listed, not posted


async def test_a_failed_delivery_is_retried_with_the_same_delivery_id(
    watch_app: Litestar, watch_client: AsyncClient, receiver: Receiver
) -> None:
    container = container_of(watch_app)
    await import_sample(container)
    _, key = await create_user(watch_app, "retry@example.com")
    await watch_client.put(
        "/api/v1/account/notifications", json={"url": receiver.url, "secret": SECRET}, headers=bearer(key)
    )
    scan = await _scan(watch_client, key)
    watch = (await watch_client.post("/api/v1/watches", json={"scan_id": scan["id"]}, headers=bearer(key))).json()
    await import_paths(container, [CERTIFI], show_progress=False)
    receiver.script = [500]
    await _deliver(watch_app)
    assert len(receiver.requests) == 1
    event = (await watch_client.get(f"/api/v1/watches/{watch['id']}/events", headers=bearer(key))).json()["items"][0]
    assert event["delivery"] == {"attempts": 1, "delivered_at": None, "given_up": None}
    await _deliver(watch_app)  # not due yet: the first retry waits 10 s
    assert len(receiver.requests) == 1
    engine = await container.get(AsyncEngine)  # the retry is made due now, as the clock would in 10 s
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE watch_events SET next_attempt_at = now() - interval '1 second'"))
    await _deliver(watch_app)
    assert len(receiver.requests) == 2
    assert receiver.requests[0][0]["secapi-delivery"] == receiver.requests[1][0]["secapi-delivery"] == event["id"]
    event = (await watch_client.get(f"/api/v1/watches/{watch['id']}/events", headers=bearer(key))).json()["items"][0]
    assert event["delivery"]["attempts"] == 2
    assert event["delivery"]["delivered_at"] is not None


async def test_tier_limit_is_a_429_with_the_quota_headers_and_costs_nothing(
    watch_app: Litestar, watch_client: AsyncClient
) -> None:
    await import_sample(container_of(watch_app))
    _, key = await create_user(watch_app, "free@example.com", Tier.FREE)
    scan = await _scan(watch_client, key)
    for _n in range(3):
        created = await watch_client.post("/api/v1/watches", json={"scan_id": scan["id"]}, headers=bearer(key))
        assert created.status_code == 201, created.text
        assert created.headers["ratelimit"].count('"watches";r=') == 1
    refused = await watch_client.post("/api/v1/watches", json={"scan_id": scan["id"]}, headers=bearer(key))
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["retry-after"]) > 0
    assert '"watches";q=3;w=0' in refused.headers["ratelimit-policy"]
    problem = refused.json()
    assert problem["violated-policies"] == ["watches"]
    assert problem["limits"]["watches"] == 3
    assert "3 watched targets" in problem["detail"]
    assert "starter tier allows 25" in problem["detail"]
    # An image watch at the limit is refused before its image is scanned: no scan is charged.
    scans_used = _scans_used(await watch_client.get("/api/v1/usage", headers=bearer(key)))
    image = await watch_client.post("/api/v1/watches", json={"image": "nginx:1.24"}, headers=bearer(key))
    assert image.status_code == 429, image.text
    assert _scans_used(await watch_client.get("/api/v1/usage", headers=bearer(key))) == scans_used == 1
    listed = await watch_client.get("/api/v1/watches", headers=bearer(key))
    assert len(listed.json()["items"]) == 3
    assert listed.headers["x-ratelimit-remaining"] == "0"
    # Deleting one makes room.
    await watch_client.delete(f"/api/v1/watches/{listed.json()['items'][0]['id']}", headers=bearer(key))
    again = await watch_client.post("/api/v1/watches", json={"scan_id": scan["id"]}, headers=bearer(key))
    assert again.status_code == 201


async def test_concurrent_creates_at_the_limit_admit_exactly_one(
    watch_app: Litestar, watch_client: AsyncClient
) -> None:
    await import_sample(container_of(watch_app))
    _, key = await create_user(watch_app, "race@example.com", Tier.FREE)
    scan = await _scan(watch_client, key)
    for _ in range(2):
        await watch_client.post("/api/v1/watches", json={"scan_id": scan["id"]}, headers=bearer(key))
    answers = await asyncio.gather(
        *(watch_client.post("/api/v1/watches", json={"scan_id": scan["id"]}, headers=bearer(key)) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [201, 429]


async def test_tenants_never_see_each_others_watches_or_scans(watch_app: Litestar, watch_client: AsyncClient) -> None:
    await import_sample(container_of(watch_app))
    _, alice = await create_user(watch_app, "alice@example.com")
    _, bob = await create_user(watch_app, "bob@example.com")
    scan = await _scan(watch_client, alice)
    stolen = await watch_client.post("/api/v1/watches", json={"scan_id": scan["id"]}, headers=bearer(bob))
    assert stolen.status_code == 404
    assert stolen.headers["content-type"].startswith("application/problem+json")
    watch = (await watch_client.post("/api/v1/watches", json={"scan_id": scan["id"]}, headers=bearer(alice))).json()
    for path in (f"/api/v1/watches/{watch['id']}", f"/api/v1/watches/{watch['id']}/events"):
        assert (await watch_client.get(path, headers=bearer(bob))).status_code == 404
    assert (await watch_client.delete(f"/api/v1/watches/{watch['id']}", headers=bearer(bob))).status_code == 404
    assert (await watch_client.get("/api/v1/watches", headers=bearer(bob))).json()["items"] == []
    assert len((await watch_client.get("/api/v1/watches", headers=bearer(alice))).json()["items"]) == 1


async def test_bad_requests_are_problems(watch_app: Litestar, watch_client: AsyncClient) -> None:
    await import_sample(container_of(watch_app))
    _, key = await create_user(watch_app, "bad@example.com")
    both = await watch_client.post(
        "/api/v1/watches",
        json={"image": "nginx:1.24", "scan_id": "00000000-0000-0000-0000-000000000001"},
        headers=bearer(key),
    )
    assert both.status_code == 422
    assert both.json()["invalid-params"][0]["name"] == "image"
    neither = await watch_client.post("/api/v1/watches", json={}, headers=bearer(key))
    assert neither.status_code == 422
    unknown = await watch_client.post(
        "/api/v1/watches", json={"scan_id": "00000000-0000-0000-0000-000000000001"}, headers=bearer(key)
    )
    assert unknown.status_code == 404


async def test_a_queued_scan_cannot_be_watched_yet(watch_app: Litestar, watch_client: AsyncClient) -> None:
    await import_sample(container_of(watch_app))
    user, key = await create_user(watch_app, "queued@example.com")
    scans = await add_scans(watch_app, user, 1)
    repository = await container_of(watch_app).get(ScanRepository)
    await repository.update(dataclasses.replace(scans[0], status=ScanStatus.QUEUED, result=None))
    refused = await watch_client.post("/api/v1/watches", json={"scan_id": str(scans[0].id)}, headers=bearer(key))
    assert refused.status_code == 409
    assert "still queued" in refused.json()["detail"]
    await repository.update(dataclasses.replace(scans[0], status=ScanStatus.FAILED, result=None, error="boom"))
    failed = await watch_client.post("/api/v1/watches", json={"scan_id": str(scans[0].id)}, headers=bearer(key))
    assert failed.status_code == 422
    assert "boom" in failed.json()["detail"]


async def test_rematch_without_watches_is_cheap_and_quiet(watch_app: Litestar, watch_client: AsyncClient) -> None:
    rematcher = await container_of(watch_app).get(WatchRematcher)
    report = await rematcher.rematch({("PyPI", "certifi")}, 1)
    assert report.watches == 0
    assert report.new_events == 0


async def test_concurrent_claimers_never_take_the_same_event(watch_app: Litestar, watch_client: AsyncClient) -> None:
    await import_sample(container_of(watch_app))
    user, key = await create_user(watch_app, "outbox@example.com", Tier.BUSINESS)
    scan = await _scan(watch_client, key)
    watch = (await watch_client.post("/api/v1/watches", json={"scan_id": scan["id"]}, headers=bearer(key))).json()
    engine = await container_of(watch_app).get(AsyncEngine)
    now = datetime.now(UTC)
    events = [
        WatchEvent(
            id=uuid.uuid4(),
            watch_id=uuid.UUID(watch["id"]),
            user_id=user.id,
            kind=EventKind.NEW_FINDINGS,
            target="requirements.txt",
            advisories=("GHSA-xqr8-7jwr-rhp7",),
            findings=(),
            vulndb_version=1,
            created_at=now - timedelta(seconds=n),
        )
        for n in range(40)
    ]
    first, second = SqlWatchRepository(engine), SqlWatchRepository(engine)
    await first.apply(
        [WatchUpdate(watch_id=events[0].watch_id, keys=(), vulndb_version=1, matched_at=now, events=events)]
    )
    lease = now + timedelta(minutes=2)
    claims = await asyncio.gather(*(repo.claim(now, lease, 15) for repo in (first, second, first, second)))
    ids = [event.id for claim in claims for event in claim]
    assert len(ids) == len(set(ids)) == 40  # every event once, none twice
    assert await first.claim(now, lease, 15) == []  # leased: not due again before the lease ends
