"""The issue's end-to-end path through a real sync: bucket → `secapi vulndb sync` → re-match → event → webhook.

A loopback server publishes OSV's bucket layout built from the real PyPA records (tests/fixtures/osv/pypa,
see its NOTICE.md) without certifi's PYSEC-2023-135; a tenant watches a finished lockfile scan that installs
certifi 2022.12.7; the bucket then publishes that record, and the next sync fetches only it (through
`modified_id.csv`), re-matches only certifi's key, records a `new_findings` event and posts a signed
`scan.new_findings` webhook.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings
from secapi.domain.services.watches import WatchEventDelivery
from secapi.domain.tiers import Tier
from secapi.domain.webhook_signing import verify
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import sync

from support.http import serve
from support.osv_bucket import Bucket, BucketServer, real_records
from support.seed import bearer, container_of, create_user
from support.webhook_receiver import Receiver

pytestmark = pytest.mark.integration

ADDED = "PYSEC-2023-135"
"""certifi: the e-Tugra root removal, fixed in 2023.7.22."""
RECORDS = real_records("pypa")
SECRET = "watch-sync-integration-secret"
REQUIREMENTS = "certifi==2022.12.7\nidna==3.4\n"


@pytest.fixture
def server() -> Iterator[BucketServer]:
    with BucketServer(Bucket.of([r for r in RECORDS if r["id"] != ADDED])).running() as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


@pytest.fixture
def app(settings: Settings, server: BucketServer) -> Litestar:
    return create_app(
        dataclasses.replace(settings, vulndb_source=server.url, webhook_allowlist="127.0.0.1", cache_warm_top=0)
    )


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncClient]:
    async with serve(app) as http:
        yield http


async def test_a_sync_that_publishes_an_advisory_for_a_watched_package_posts_scan_new_findings(
    app: Litestar, client: AsyncClient, server: BucketServer, receiver: Receiver
) -> None:
    container = container_of(app)
    first = await sync(container, ["PyPI"])
    assert not first.failed
    _, key = await create_user(app, "sync-watcher@example.com", Tier.STARTER)
    registered = await client.put(
        "/api/v1/account/notifications", json={"url": receiver.url, "secret": SECRET}, headers=bearer(key)
    )
    assert registered.status_code == 200, registered.text
    scanned = await client.post(
        "/api/v1/scan/dependencies",
        json={"filename": "requirements.txt", "content": REQUIREMENTS},
        headers=bearer(key),
    )
    assert scanned.status_code == 200, scanned.text
    assert ADDED not in {v["id"] for v in scanned.json()["result"]["vulnerabilities"]}
    created = await client.post("/api/v1/watches", json={"scan_id": scanned.json()["id"]}, headers=bearer(key))
    assert created.status_code == 201, created.text
    watch = created.json()

    # Published now: OSV stamps a new record's `modified` with its export time.
    server.bucket.put_record({**next(r for r in RECORDS if r["id"] == ADDED), "modified": "2026-12-04T06:00:00Z"})
    server.requests.clear()
    second = await sync(container, ["PyPI"])
    assert not second.failed
    assert server.paths(200) == ["PyPI/modified_id.csv", f"PyPI/{ADDED}.json"]
    assert second.changed_keys == {("PyPI", "certifi")}

    events = (await client.get(f"/api/v1/watches/{watch['id']}/events", headers=bearer(key))).json()["items"]
    assert [(e["kind"], e["advisories"]) for e in events] == [("new_findings", [ADDED])]
    finding = events[0]["findings"][0]
    assert (finding["package"]["name"], finding["installed_version"]) == ("certifi", "2022.12.7")
    assert finding["fixed_versions"] == ["2023.7.22"]

    await (await container.get(WatchEventDelivery)).deliver_due()
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert headers["secapi-event"] == "scan.new_findings"
    assert headers["secapi-delivery"] == events[0]["id"]
    assert verify(SECRET, headers["secapi-timestamp"], body, headers["secapi-signature"], now=time.time())
    posted = json.loads(body)
    assert (posted["type"], posted["watch_id"], posted["advisories"]) == ("scan.new_findings", watch["id"], [ADDED])

    # A third sync with nothing new is all 304s and produces no event.
    server.requests.clear()
    third = await sync(container, ["PyPI"])
    assert server.paths(200) == []
    assert third.version is None
    events = (await client.get(f"/api/v1/watches/{watch['id']}/events", headers=bearer(key))).json()["items"]
    assert len(events) == 1
