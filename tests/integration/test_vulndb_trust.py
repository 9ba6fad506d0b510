"""The SQL store's answers behind trustworthy findings, on PostgreSQL and on SQLite: records related by alias,
informational kinds, per-ecosystem counts, and migration 0005 filling them in for data imported before it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.osv.reader import iter_records
from secapi.adapters.sql.engine import create_engine
from secapi.adapters.sql.migrate import upgrade
from secapi.adapters.sql.vulnerabilities import SqlVulnerabilityStore
from secapi.config import Settings
from secapi.domain.osv_records import parse_osv_record
from secapi.domain.services.vulndb_import import VulnDbImporter

REAL_OSV = Path(__file__).parents[1] / "fixtures" / "osv"


@pytest.fixture(params=["postgresql", "sqlite"])
async def engine(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "postgresql":
        engine = create_engine(settings)
    else:
        # The application's engine factory: SQLite gets the same pragmas (foreign keys on) as in production.
        engine = create_engine(Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/store.db"))
        await upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_records_sharing_an_alias_are_found_and_follow_replacements(engine: AsyncEngine) -> None:
    store = SqlVulnerabilityStore(engine)
    await VulnDbImporter(store).run(iter_records(REAL_OSV), source="real fixtures")
    related = {r.id: r for r in await store.related_severities({"PYSEC-2023-135", "CVE-2023-37920"})}
    # PYSEC-2023-135 by its id; GHSA-xqr8-7jwr-rhp7 because it lists CVE-2023-37920 as an alias.
    assert set(related) == {"PYSEC-2023-135", "GHSA-xqr8-7jwr-rhp7"}
    assert related["GHSA-xqr8-7jwr-rhp7"].score is not None
    assert "CVE-2023-37920" in related["GHSA-xqr8-7jwr-rhp7"].aliases
    # A newer copy of the GHSA record without that alias replaces its alias rows, and a withdrawn one drops out.
    record = json.loads((REAL_OSV / "ghsa" / "GHSA-xqr8-7jwr-rhp7.json").read_text())
    record.update(modified="2030-01-01T00:00:00Z", aliases=["CVE-2099-0001"])
    await store.upsert([parse_osv_record(record)])
    assert {r.id for r in await store.related_severities({"CVE-2023-37920"})} == {"PYSEC-2023-135"}
    assert {r.id for r in await store.related_severities({"CVE-2099-0001"})} == {"GHSA-xqr8-7jwr-rhp7"}
    record.update(modified="2030-01-02T00:00:00Z", withdrawn="2030-01-02T00:00:00Z")
    await store.upsert([parse_osv_record(record)])
    assert await store.related_severities({"CVE-2099-0001"}) == []


async def test_informational_kinds_and_ecosystem_counts_are_stored(engine: AsyncEngine) -> None:
    store = SqlVulnerabilityStore(engine)
    summary = await VulnDbImporter(store).run(iter_records(REAL_OSV), source="real fixtures")
    (unsound,) = await store.candidates([("crates.io", "totally-safe")])
    assert unsound.advisory.informational == "unsound"
    (rustls,) = await store.candidates([("crates.io", "rustls")])
    assert rustls.advisory.informational is None
    version = await store.current_version()
    assert version.version == summary.version.version
    assert version.ecosystems is not None
    assert version.ecosystems["Go"] == len(list((REAL_OSV / "govulndb").glob("*.json"))) + 1  # + a GHSA twin
    assert version.ecosystems["crates.io"] == len(list((REAL_OSV / "rustsec").glob("*.json"))) + 1  # + a GHSA record
    assert "Hackage" not in version.ecosystems


async def test_migration_0005_fills_in_data_imported_before_it(tmp_path: Path) -> None:
    engine = create_engine(Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/old.db"))
    try:
        await upgrade(engine, "0004")
        now = datetime(2024, 1, 1, tzinfo=UTC).isoformat()
        rows = [
            ("GHSA-aaaa", ["CVE-1"], {"id": "GHSA-aaaa"}),
            ("RUSTSEC-2099-0001", [], {"affected": [{"database_specific": {"informational": "unmaintained"}}]}),
        ]
        async with engine.begin() as connection:
            for vuln_id, aliases, record in rows:
                await connection.execute(
                    text(
                        'INSERT INTO vulnerabilities (id, modified, summary, severity, aliases, "references", record)'
                        " VALUES (:id, :modified, '', 'UNKNOWN', :aliases, '[]', :record)"
                    ),
                    {"id": vuln_id, "modified": now, "aliases": json.dumps(aliases), "record": json.dumps(record)},
                )
            await connection.execute(
                text(
                    "INSERT INTO affected_packages (vulnerability_id, ecosystem, name, ranges)"
                    " VALUES ('GHSA-aaaa', 'PyPI', 'x', '{}'), ('RUSTSEC-2099-0001', 'crates.io', 'y', '{}')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO vulndb_versions (created_at, source, added, updated, withdrawn, advisories)"
                    " VALUES (:now, 'old import', 2, 0, 0, 2)"
                ),
                {"now": now},
            )
        await upgrade(engine)
        store = SqlVulnerabilityStore(engine)
        assert [r.id for r in await store.related_severities({"CVE-1"})] == ["GHSA-aaaa"]
        (notice,) = await store.candidates([("crates.io", "y")])
        assert notice.advisory.informational == "unmaintained"
        assert (await store.current_version()).ecosystems == {"PyPI": 1, "crates.io": 1}
    finally:
        await engine.dispose()
