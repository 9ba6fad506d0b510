"""Reading scans: tenant isolation and keyset pagination, on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from httpx import AsyncClient
from litestar import Litestar
from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from secapi.adapters.sql.models import ScanModel, ScanResultModel
from secapi.domain.findings import Finding, PackageRef
from secapi.domain.model import Scan, User
from secapi.domain.packages import Package
from secapi.domain.scan_inputs import encode_scan_input
from secapi.domain.severity import Severity

from support.results import as_json, scan_result
from support.seed import add_scans, bearer, container_of, create_user


async def test_a_tenant_reads_its_own_scan(client: AsyncClient, app: Litestar) -> None:
    user, key = await create_user(app, "a@example.com")
    (scan,) = await add_scans(app, user, 1)
    response = await client.get(f"/api/v1/scans/{scan.id}", headers=bearer(key))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(scan.id)
    assert body["status"] == "completed"
    assert body["input"] == encode_scan_input(scan.input_data)
    assert body["result"] == as_json(scan.result)  # the stored result, as it was written
    assert body["result"]["packages"] == [
        {"name": "pkg0", "version": "1.0", "ecosystem": "PyPI", "purl": None, "source_name": None,
         "source_version": None, "location": None},
    ]  # fmt: skip


async def test_another_tenants_scan_is_404(client: AsyncClient, app: Litestar) -> None:
    owner, _ = await create_user(app, "owner@example.com")
    _, intruder_key = await create_user(app, "intruder@example.com")
    (scan,) = await add_scans(app, owner, 1)
    response = await client.get(f"/api/v1/scans/{scan.id}", headers=bearer(intruder_key))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"no scan with id {scan.id} exists for this account"


async def test_malformed_scan_id_is_a_problem_not_a_500(client: AsyncClient, app: Litestar) -> None:
    _, key = await create_user(app, "a@example.com")
    response = await client.get("/api/v1/scans/not-a-uuid", headers=bearer(key))
    assert response.status_code in (400, 404)
    assert response.headers["content-type"] == "application/problem+json"


async def test_pages_are_newest_first_and_cursor_walks_all_without_overlap(client: AsyncClient, app: Litestar) -> None:
    user, key = await create_user(app, "a@example.com")
    other, _ = await create_user(app, "b@example.com")
    scans = await add_scans(app, user, 25)
    await add_scans(app, other, 5)
    expected = [str(s.id) for s in reversed(scans)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 10}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/api/v1/scans", params=params, headers=bearer(key))
        assert response.status_code == 200
        body = response.json()
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == expected


async def test_scans_with_the_same_timestamp_are_ordered_by_id_and_not_lost(client: AsyncClient, app: Litestar) -> None:
    user, key = await create_user(app, "a@example.com")
    same = datetime(2026, 5, 1, tzinfo=UTC)
    scans = []
    for _ in range(6):
        scans += await add_scans(app, user, 1, start=same)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/api/v1/scans", params=params, headers=bearer(key))).json()
        seen += [item["id"] for item in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert sorted(seen) == sorted(str(s.id) for s in scans)
    assert seen == sorted(seen, reverse=True)


async def test_bad_limit_and_cursor_are_problems(client: AsyncClient, app: Litestar) -> None:
    _, key = await create_user(app, "a@example.com")
    for params in ({"limit": 0}, {"limit": 1000}, {"cursor": "garbage!"}, {"limit": "ten"}):
        response = await client.get("/api/v1/scans", params=params, headers=bearer(key))
        assert response.status_code in (400, 422), params
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["invalid-params"], params


def _finding() -> Finding:
    return Finding(
        id="GHSA-m2qf-hxjv-5gpq",
        aliases=("CVE-2023-30861",),
        package=PackageRef(name="flask", version="2.2.4", ecosystem="PyPI"),
        installed_version="2.2.4",
        fixed_versions=("2.2.5",),
        severity=Severity.HIGH,
        score=7.5,
        vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        summary="Flask vulnerable to possible disclosure of permanent session cookie",
        references=("https://github.com/pallets/flask/security/advisories/GHSA-m2qf-hxjv-5gpq",),
        published=datetime(2023, 5, 2, 18, 14, tzinfo=UTC),
    )


async def _stored(app: Litestar, user: User, documents: list[dict[str, Any]]) -> list[Scan]:
    """Completed scans whose stored result documents are `documents` as written (by an older release, say)."""
    scans = await add_scans(app, user, len(documents))
    sessions = await container_of(app).get(async_sessionmaker[AsyncSession])
    async with sessions() as session:
        for scan, document in zip(scans, documents, strict=True):
            digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
            stored = insert(ScanResultModel).values(digest=digest, document=document)
            await session.execute(stored.on_conflict_do_nothing())
            await session.execute(update(ScanModel).where(ScanModel.id == scan.id).values(result_digest=digest))
        await session.commit()
    return scans


async def test_a_completed_scan_whose_result_document_is_missing_says_so(client: AsyncClient, app: Litestar) -> None:
    """Never a completed scan that reads as clean: a digest naming no document is shown as a result that is gone."""
    user, key = await create_user(app, "a@example.com")
    (scan,) = await add_scans(app, user, 1)
    sessions = await container_of(app).get(async_sessionmaker[AsyncSession])
    async with sessions() as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))  # a copy without the foreign key
        await session.execute(update(ScanModel).where(ScanModel.id == scan.id).values(result_digest="f" * 64))
        await session.commit()

    body = (await client.get(f"/api/v1/scans/{scan.id}", headers=bearer(key))).json()
    assert (body["status"], body["result"]) == ("completed", None)
    assert body["error"] == "the stored result cannot be read: its stored result document is missing"


async def test_results_stored_by_older_releases_read_with_the_fields_they_lacked_at_their_defaults(
    client: AsyncClient, app: Litestar
) -> None:
    user, key = await create_user(app, "a@example.com")
    flask = Package(name="flask", version="2.2.4", ecosystem="PyPI")
    current = as_json(scan_result(packages=[flask], vulnerabilities=[_finding()]))
    # Format 1: before `unscanned`, `informational`, `vulndb`, severity sources, EPSS, KEV and `risk`.
    old = {k: v for k, v in current.items() if k not in ("unscanned", "informational", "vulndb", "risk")}
    old["vulnerabilities"] = [
        {k: v for k, v in finding.items() if k not in ("severity_source", "epss", "kev")}
        for finding in current["vulnerabilities"]
    ]
    (scan,) = await _stored(app, user, [old])

    body = (await client.get(f"/api/v1/scans/{scan.id}", headers=bearer(key))).json()
    assert body["error"] is None
    assert body["result"] == current  # what it had, as it was; what it lacked, at the defaults
    assert body["result"]["vulnerabilities"][0]["fixed_versions"] == ["2.2.5"]


async def test_a_stored_result_that_does_not_fit_is_shown_without_it_and_says_why(
    client: AsyncClient, app: Litestar
) -> None:
    user, key = await create_user(app, "a@example.com")
    readable, unreadable = await _stored(app, user, [as_json(scan_result()), {"vulnerabilities": [{"id": "GHSA-x"}]}])

    listed = await client.get("/api/v1/scans", headers=bearer(key))
    assert listed.status_code == 200  # one bad row does not break the list
    items = {item["id"]: item for item in listed.json()["items"]}
    assert items[str(readable.id)]["result"] is not None
    shown = items[str(unreadable.id)]
    assert (shown["status"], shown["result"]) == ("completed", None)
    assert shown["error"].startswith("the stored result cannot be read: it does not fit this release's result format")
    assert "`aliases` - at `$.vulnerabilities[0]`" in shown["error"]  # what does not fit, and where
    one = await client.get(f"/api/v1/scans/{unreadable.id}", headers=bearer(key))
    assert (one.status_code, one.json()["error"]) == (200, shown["error"])
