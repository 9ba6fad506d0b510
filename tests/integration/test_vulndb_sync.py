"""`vulndb sync` on PostgreSQL and Redis against a loopback server of OSV's bucket layout built from real records."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings
from secapi.domain.ports import VulnerabilityStore
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import sync
from secapi.ioc import make_container

from support.http import serve
from support.osv_bucket import Bucket, BucketServer, Served, corrupt_zip, real_records
from support.seed import bearer, container_of, create_user

ECOSYSTEMS = ["PyPI", "crates.io", "Go"]
RECORDS = real_records("pypa", "rustsec", "govulndb")
EXPLOITS = Path(__file__).resolve().parents[1] / "fixtures" / "exploits"
EPSS_EXCERPT = (EXPLOITS / "epss_scores-2025-08-15.csv.gz").read_bytes()


def _changed(record_id: str, modified: str, **fields: Any) -> dict[str, Any]:
    record = copy.deepcopy(next(r for r in RECORDS if r["id"] == record_id))
    record["modified"] = modified
    record.update(fields)
    return record


@pytest.fixture
def server() -> Iterator[BucketServer]:
    with BucketServer(Bucket.of(RECORDS)).running() as running:
        yield running


@pytest.fixture
def sync_settings(settings: Settings, server: BucketServer) -> Settings:
    return dataclasses.replace(settings, vulndb_source=server.url, cache_warm_top=0)


@pytest.fixture
async def app(sync_settings: Settings) -> Litestar:
    return create_app(sync_settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncClient]:
    async with serve(app) as http:
        yield http


async def _ids(app: Litestar) -> set[str]:
    store = await container_of(app).get(VulnerabilityStore)
    keys = {("PyPI", "certifi"), ("PyPI", "pyspark"), ("crates.io", "rustls"), ("Go", "golang.org/x/net")}
    return {candidate.advisory.id for candidate in await store.candidates(keys)}


async def test_first_sync_imports_everything_then_a_second_downloads_nothing(
    app: Litestar, client: AsyncClient, server: BucketServer
) -> None:
    first = await sync(container_of(app), ECOSYSTEMS)
    assert first.failed == []
    assert sum(o.counts.added for o in first.outcomes) == len(RECORDS)
    assert {o.method for o in first.outcomes} == {"archive"}
    assert sorted(server.paths(200)) == sorted(
        ["ecosystems.txt", *(f"{e}/all.zip" for e in ECOSYSTEMS), *(f"{e}/modified_id.csv" for e in ECOSYSTEMS)]
    )
    assert first.version is not None
    assert ("PyPI", "certifi") in first.changed_keys

    server.requests.clear()
    second = await sync(container_of(app), ECOSYSTEMS)
    assert second.failed == []
    assert second.version is None
    assert server.paths(200) == []
    assert sorted(server.paths(304)) == sorted(["ecosystems.txt", *(f"{e}/modified_id.csv" for e in ECOSYSTEMS)])


async def test_one_changed_record_fetches_only_that_record(
    app: Litestar, client: AsyncClient, server: BucketServer
) -> None:
    await sync(container_of(app), ECOSYSTEMS)
    server.bucket.put_record(_changed("PYSEC-2023-135", "2026-12-01T00:00:00Z", summary="certifi, changed"))
    server.requests.clear()
    report = await sync(container_of(app), ECOSYSTEMS)
    assert server.paths(200) == ["PyPI/modified_id.csv", "PyPI/PYSEC-2023-135.json"]
    pypi = next(o for o in report.outcomes if o.ecosystem == "PyPI")
    assert (pypi.method, pypi.counts.updated, pypi.counts.added) == ("incremental", 1, 0)
    assert report.changed_keys == {("PyPI", "certifi")}
    store = await container_of(app).get(VulnerabilityStore)
    record = await store.get_record("PYSEC-2023-135")
    assert record is not None
    assert record["summary"] == "certifi, changed"


async def test_a_withdrawn_record_leaves_matching(app: Litestar, client: AsyncClient, server: BucketServer) -> None:
    await sync(container_of(app), ECOSYSTEMS)
    assert "PYSEC-2023-135" in await _ids(app)
    stamp = "2026-12-02T00:00:00Z"
    server.bucket.put_record(_changed("PYSEC-2023-135", stamp, withdrawn=stamp))
    report = await sync(container_of(app), ECOSYSTEMS)
    assert next(o for o in report.outcomes if o.ecosystem == "PyPI").counts.withdrawn == 1
    assert "PYSEC-2023-135" not in await _ids(app)


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
async def test_a_bad_zip_fails_the_sync_and_the_previous_version_keeps_serving(
    sync_settings: Settings, server: BucketServer, damage: str
) -> None:
    server.bucket.publish_listing = False  # a plain mirror: every change comes as a new zip
    server.bucket.rebuild()
    app = create_app(sync_settings)
    async with serve(app) as client:
        await sync(container_of(app), ["PyPI"])
        _, key = await create_user(app, "ci@example.com")
        lockfile = {"filename": "requirements.txt", "content": "certifi==2022.12.7\n"}
        before = (await client.post("/api/v1/scan/dependencies", json=lockfile, headers=bearer(key))).json()["result"]
        assert "PYSEC-2023-135" in {v["id"] for v in before["vulnerabilities"]}

        stamp = "2026-12-03T00:00:00Z"
        server.bucket.put_record(_changed("PYSEC-2023-135", stamp, withdrawn=stamp))
        if damage == "corrupt":
            served = server.bucket.files["PyPI/all.zip"]
            served.body = corrupt_zip(served.body)
        else:
            server.truncate.add("PyPI/all.zip")
        report = await sync(container_of(app), ["PyPI"])
        (failed,) = report.failed
        assert "corrupt" in (failed.error or "") if damage == "corrupt" else "cut short" in (failed.error or "")
        assert report.version is None

        # Nothing was imported: the same version answers, the record still matches.
        again = {**lockfile, "content": "certifi==2022.12.7  # a new input: no cached result\n"}
        after = (await client.post("/api/v1/scan/dependencies", json=again, headers=bearer(key))).json()
        assert after["status"] == "completed", after
        assert after["result"]["vulndb_version"] == before["vulndb_version"]
        assert "PYSEC-2023-135" in {v["id"] for v in after["result"]["vulnerabilities"]}

        # Once the bucket is whole again, the next sync takes the zip (its state did not advance).
        server.truncate.clear()
        server.bucket.rebuild()
        server.bucket.files.pop("PyPI/all.zip")
        server.bucket.rebuild()
        fixed = await sync(container_of(app), ["PyPI"])
        assert fixed.failed == []
        assert fixed.outcomes[-1].counts.withdrawn == 1


async def test_two_workers_one_sync(sync_settings: Settings, server: BucketServer) -> None:
    """Two processes' containers (each its own Redis client and engine): one syncs, the other stands back."""
    first, second = make_container(sync_settings), make_container(sync_settings)
    try:
        reports = await asyncio.gather(sync(first, ECOSYSTEMS), sync(second, ECOSYSTEMS))
    finally:
        await first.close()
        await second.close()
    assert sorted(report.skipped for report in reports) == [False, True]
    assert sorted(server.paths(200)).count("PyPI/all.zip") == 1


async def test_without_redis_a_postgresql_advisory_lock_keeps_syncs_apart(
    sync_settings: Settings, server: BucketServer
) -> None:
    plain = dataclasses.replace(sync_settings, redis_url=None)
    first, second = make_container(plain), make_container(plain)
    try:
        reports = await asyncio.gather(sync(first, ECOSYSTEMS), sync(second, ECOSYSTEMS))
    finally:
        await first.close()
        await second.close()
    assert sorted(report.skipped for report in reports) == [False, True]


async def test_a_local_directory_source_works_the_same(settings: Settings, tmp_path: Path) -> None:
    bucket = Bucket.of(RECORDS)
    root = bucket.write_to(tmp_path / "mirror")
    local = dataclasses.replace(settings, vulndb_source=f"file://{root}", cache_warm_top=0)
    container = make_container(local)
    try:
        first = await sync(container, ECOSYSTEMS)
        assert first.failed == []
        assert sum(o.counts.added for o in first.outcomes) == len(RECORDS)
        second = await sync(container, ECOSYSTEMS)
        assert {o.method for o in second.outcomes} == {"not-modified"}
        bucket.put_record(_changed("RUSTSEC-2024-0399", "2026-12-01T00:00:00Z"))
        bucket.write_to(root)
        third = await sync(container, ECOSYSTEMS)
        rust = next(o for o in third.outcomes if o.ecosystem == "crates.io")
        assert (rust.method, rust.fetched_records, rust.counts.updated) == ("incremental", 1, 1)
    finally:
        await container.close()


async def test_the_sql_store_reports_the_old_entries_of_a_replaced_record(settings: Settings) -> None:
    """Contract for re-matching: a package dropped from a record is among the changed keys too."""
    from secapi.domain.osv_records import parse_osv_record

    container = make_container(settings)
    try:
        store = await container.get(VulnerabilityStore)
        record = _changed("PYSEC-2023-135", "2026-12-01T00:00:00Z")
        first = await store.upsert([parse_osv_record(record)])
        assert first.changed_keys == {("PyPI", "certifi")}
        moved = _changed("PYSEC-2023-135", "2026-12-02T00:00:00Z")
        moved["affected"][0]["package"]["name"] = "Certifi_Fork"
        second = await store.upsert([parse_osv_record(moved)])
        assert second.changed_keys == {("PyPI", "certifi"), ("PyPI", "certifi-fork")}
        unchanged = await store.upsert([parse_osv_record(moved)])
        assert unchanged.changed_keys == set()
    finally:
        await container.close()


async def test_exploit_feeds_are_synced_with_the_same_conditional_requests(
    sync_settings: Settings, server: BucketServer
) -> None:
    """The real EPSS and KEV excerpts as feeds: applied on the first sync, not again while unchanged."""
    server.bucket.files["feeds/epss.csv.gz"] = Served(EPSS_EXCERPT, '"epss-1"', datetime(2025, 8, 15, tzinfo=UTC))
    feeds = dataclasses.replace(
        sync_settings,
        vulndb_epss_source=f"{server.url}/feeds/epss.csv.gz",
        vulndb_kev_source=str(EXPLOITS / "known_exploited_vulnerabilities.json"),
    )
    container = make_container(feeds)
    try:
        first = await sync(container, ["PyPI"])
        applied = {o.ecosystem: o for o in first.outcomes if o.ecosystem.startswith("feed:")}
        assert set(applied) == {"feed:epss", "feed:kev"}
        assert all(o.error is None and o.method == "feed" and o.read > 0 for o in applied.values())
        store = await container.get(VulnerabilityStore)
        version = (await store.current_version()).version
        assert first.version is not None
        assert first.version.version == version

        server.requests.clear()
        second = await sync(container, ["PyPI"])
        assert {o.method for o in second.outcomes} == {"not-modified"}
        assert second.version is None
        assert ("feeds/epss.csv.gz", 304) in server.requests
        assert (await store.current_version()).version == version
    finally:
        await container.close()


async def test_a_mirror_that_ignores_conditional_requests_is_not_downloaded_again_for_the_same_etag(
    app: Litestar, client: AsyncClient, server: BucketServer
) -> None:
    server.bucket.publish_listing = False
    server.bucket.rebuild()
    await sync(container_of(app), ["PyPI"])
    server.ignore_conditionals = True
    server.requests.clear()
    report = await sync(container_of(app), ["PyPI"])
    assert report.outcomes[0].method == "not-modified"
    assert report.outcomes[0].downloaded_bytes == 0
    assert ("PyPI/all.zip", 200) in server.requests  # answered whole, but not read past the headers
