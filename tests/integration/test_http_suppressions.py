"""Suppressions over HTTP on PostgreSQL and Redis: ignore rules and OpenVEX applied per tenant at answer time,
on fresh scans, cache hits and stored scans, never to another tenant sharing the same cached result."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar
from sqlalchemy import Table, update

from secapi.adapters.sql.models import IgnoreRuleModel
from secapi.adapters.sql.suppressions import SqlSuppressionRepository
from secapi.domain.services.suppressions import SuppressionService
from secapi.domain.suppressions import SuppressionRepository
from secapi.entrypoints.vulndb import import_sample

from support.seed import bearer, container_of, create_user
from support.suppressions import document, statement

REQUIREMENTS = "flask==2.2.4\nJinja2==3.1.2\n"
FLASK = "GHSA-m2qf-hxjv-5gpq"  # alias CVE-2023-30861
JINJA = "GHSA-h5c8-rqwp-cp95"  # alias CVE-2024-22195
RULES: Table = IgnoreRuleModel.__table__  # type: ignore[assignment]
BOTH = sorted([FLASK, JINJA])
LOCKFILE = {"filename": "requirements.txt", "content": REQUIREMENTS, "shared": True}


@pytest.fixture
async def keys(app: Litestar, client: AsyncClient) -> tuple[str, str]:
    await import_sample(container_of(app))
    _, alice = await create_user(app, "alice@example.com")
    _, bob = await create_user(app, "bob@example.com")
    return alice, bob


async def scan(client: AsyncClient, key: str) -> tuple[dict[str, Any], str]:
    response = await client.post("/api/v1/scan/dependencies", json=LOCKFILE, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json(), response.headers["x-cache-status"]


def found(body: dict[str, Any]) -> list[str]:
    return sorted(v["id"] for v in body["result"]["vulnerabilities"])


def hidden(body: dict[str, Any]) -> list[str]:
    return sorted(v["id"] for v in body["result"].get("suppressed", []))


async def read_scan(client: AsyncClient, key: str, scan_id: str) -> dict[str, Any]:
    for _ in range(100):
        response = await client.get(f"/api/v1/scans/{scan_id}", headers=bearer(key))
        if response.status_code == 200:
            return dict(response.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"scan {scan_id} was never stored")


async def add_rule(client: AsyncClient, key: str, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/ignores", json=body, headers=bearer(key))
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_rule_on_a_cve_applies_to_fresh_scans_hits_and_stored_scans_of_its_tenant_only(
    client: AsyncClient, keys: tuple[str, str]
) -> None:
    alice, bob = keys
    rule = await add_rule(client, alice, advisory="CVE-2023-30861", package="pkg:pypi/flask", reason="not exposed")
    fresh, status = await scan(client, alice)
    assert status == "MISS"
    assert found(fresh) == [JINJA]
    assert hidden(fresh) == [FLASK]
    (suppressed,) = fresh["result"]["suppressed"]
    assert suppressed["suppressed_by"]["kind"] == "ignore"
    assert suppressed["suppressed_by"]["id"] == rule["id"]
    assert suppressed["suppressed_by"]["reason"] == "not exposed"
    assert suppressed["package"]["name"] == "flask"
    assert fresh["result"]["counts"]["HIGH"] == 0
    assert fresh["result"]["counts"]["MEDIUM"] == 1

    shared, status = await scan(client, bob)  # the same shared cache entry, another tenant
    assert status == "HIT"
    assert found(shared) == BOTH
    assert hidden(shared) == []
    assert shared["result"]["counts"]["HIGH"] == 1

    hit, status = await scan(client, alice)
    assert status == "HIT"
    assert found(hit) == [JINJA]
    assert hidden(hit) == [FLASK]

    stored = await read_scan(client, bob, shared["id"])  # a hit's row is written behind
    assert found(stored) == BOTH
    mine = await client.get(f"/api/v1/scans/{fresh['id']}", headers=bearer(alice))
    assert found(mine.json()) == [JINJA]
    listed = await client.get("/api/v1/scans", headers=bearer(alice))
    assert {tuple(found(item)) for item in listed.json()["items"]} == {(JINJA,)}


async def test_deleting_the_rule_restores_the_finding_and_changes_the_etag(
    client: AsyncClient, keys: tuple[str, str]
) -> None:
    alice, _ = keys
    rule = await add_rule(client, alice, advisory=JINJA, reason="accepted risk")
    first, _ = await scan(client, alice)
    url = f"/api/v1/scans/{first['id']}"
    before = await client.get(url, headers=bearer(alice))
    assert found(before.json()) == [FLASK]
    etag = before.headers["etag"]
    assert (await client.get(url, headers={**bearer(alice), "If-None-Match": etag})).status_code == 304
    deleted = await client.delete(f"/api/v1/ignores/{rule['id']}", headers=bearer(alice))
    assert deleted.status_code == 204
    after = await client.get(url, headers={**bearer(alice), "If-None-Match": etag})
    assert after.status_code == 200
    assert found(after.json()) == BOTH
    hit, status = await scan(client, alice)
    assert status == "HIT"
    assert found(hit) == BOTH
    assert (await client.delete(f"/api/v1/ignores/{rule['id']}", headers=bearer(alice))).status_code == 404


async def test_an_expired_rule_stops_applying(app: Litestar, client: AsyncClient, keys: tuple[str, str]) -> None:
    alice, _ = keys
    rule = await add_rule(
        client,
        alice,
        advisory=FLASK,
        reason="until the upgrade",
        expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    )
    fresh, _ = await scan(client, alice)
    assert hidden(fresh) == [FLASK]
    assert fresh["result"]["suppressed"][0]["suppressed_by"]["expires_at"] is not None
    # Move the stored expiry into the past (the clock port decides; no job runs).
    async with container_of(app)() as request:
        store = await request.get(SuppressionRepository)
        assert isinstance(store, SqlSuppressionRepository)
    engine = store._engine
    async with engine.begin() as connection:
        await connection.execute(
            update(RULES).where(RULES.c.id == rule["id"]).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    # Another process would see it within the memo's TTL; this one is told through a change of its own.
    other = await add_rule(client, alice, advisory="CVE-2000-0001", reason="unrelated")
    hit, status = await scan(client, alice)
    assert status == "HIT"
    assert found(hit) == BOTH
    assert hidden(hit) == []
    listed = (await client.get("/api/v1/ignores", headers=bearer(alice))).json()
    assert [item["id"] for item in listed["items"]] == [other["id"], rule["id"]]


async def test_vex_not_affected_suppresses_and_affected_does_not(client: AsyncClient, keys: tuple[str, str]) -> None:
    alice, bob = keys
    vex = document(
        statement(
            "CVE-2023-30861",
            "not_affected",
            {"@id": "pkg:pypi/flask@2.2.4"},
            justification="vulnerable_code_not_in_execute_path",
        ),
        statement(JINJA, "affected", {"@id": "pkg:pypi/jinja2"}, action_statement="upgrade to 3.1.3"),
    )
    created = await client.post("/api/v1/vex", json=vex, headers=bearer(alice))
    assert created.status_code == 201, created.text
    vex_id = created.json()["id"]
    assert created.json()["statements"] == 2
    fetched = await client.get(f"/api/v1/vex/{vex_id}", headers=bearer(alice))
    assert fetched.json()["document"]["@id"] == vex["@id"]
    assert (await client.get(f"/api/v1/vex/{vex_id}", headers=bearer(bob))).status_code == 404
    listed = (await client.get("/api/v1/vex", headers=bearer(alice))).json()
    assert [item["id"] for item in listed["items"]] == [vex_id]

    body, _ = await scan(client, alice)
    assert found(body) == [JINJA]
    (suppressed,) = body["result"]["suppressed"]
    assert suppressed["suppressed_by"]["kind"] == "vex"
    assert suppressed["suppressed_by"]["id"] == vex_id
    assert suppressed["suppressed_by"]["statement"] == 0
    assert suppressed["suppressed_by"]["justification"] == "vulnerable_code_not_in_execute_path"
    (note,) = body["result"]["vex"]
    assert note["finding"] == JINJA
    assert note["status"] == "affected"

    assert found((await scan(client, bob))[0]) == BOTH
    assert (await client.delete(f"/api/v1/vex/{vex_id}", headers=bearer(alice))).status_code == 204
    assert found((await scan(client, alice))[0]) == BOTH


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"advisory": "log4shell", "reason": "r"}, 400),
        ({"advisory": "CVE-2021-44228", "reason": "r", "package": "pkg:npm/x?arch=1"}, 422),
        ({"advisory": "CVE-2021-44228", "reason": "r", "expires_at": "2000-01-01T00:00:00Z"}, 422),
        ({"advisory": "CVE-2021-44228", "reason": "r", "expires_at": "2030-01-01T00:00:00"}, 400),
        ({"advisory": "CVE-2021-44228"}, 400),
        ({"advisory": "CVE-2021-44228", "reason": "r", "severity": "low"}, 400),
    ],
)
async def test_invalid_rules_are_refused(
    client: AsyncClient, keys: tuple[str, str], body: dict[str, Any], status: int
) -> None:
    response = await client.post("/api/v1/ignores", json=body, headers=bearer(keys[0]))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_invalid_vex_is_refused(client: AsyncClient, keys: tuple[str, str]) -> None:
    no_justification = document(statement(FLASK, "not_affected", {"@id": "pkg:pypi/flask"}))
    response = await client.post("/api/v1/vex", json=no_justification, headers=bearer(keys[0]))
    assert response.status_code == 422, response.text
    assert "justification" in response.json()["detail"]
    unknown_status = document(statement(FLASK, "mitigated", {"@id": "pkg:pypi/flask"}))
    assert (await client.post("/api/v1/vex", json=unknown_status, headers=bearer(keys[0]))).status_code == 400


async def test_the_rule_count_is_bounded(client: AsyncClient, keys: tuple[str, str], app: Litestar) -> None:
    async with container_of(app)() as request:
        service = await request.get(SuppressionService)
    service._max_rules = 2
    for n in range(2):
        await add_rule(client, keys[0], advisory=f"CVE-2021-{n:04d}", reason="r")
    over = await client.post(
        "/api/v1/ignores", json={"advisory": "CVE-2021-0009", "reason": "r"}, headers=bearer(keys[0])
    )
    assert over.status_code == 409
    assert "2 ignore rules" in over.json()["detail"]
    await add_rule(client, keys[1], advisory="CVE-2021-0009", reason="r")


async def test_sbom_scans_are_answered_with_the_tenants_suppressions(
    client: AsyncClient, keys: tuple[str, str]
) -> None:
    alice, bob = keys
    await add_rule(client, alice, advisory="CVE-2023-30861", reason="not exposed")
    sbom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "components": [{"type": "library", "name": "flask", "version": "2.2.4", "purl": "pkg:pypi/flask@2.2.4"}],
    }
    for key, shown, suppressed in ((alice, [], [FLASK]), (bob, [FLASK], [])):
        response = await client.post(
            "/api/v1/scan/sbom?shared=true",
            json=sbom,
            headers={**bearer(key), "Content-Type": "application/vnd.cyclonedx+json"},
        )
        assert response.status_code == 200, response.text
        assert found(response.json()) == shown
        assert hidden(response.json()) == suppressed
