"""The SQL vulnerability store on PostgreSQL: COPY bulk path, upsert by `modified`, versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from secapi.adapters.osv.reader import SAMPLE_DIR, iter_records
from secapi.adapters.sql.vulnerabilities import SqlVulnerabilityStore
from secapi.config import Settings
from secapi.domain.osv_records import parse_osv_record
from secapi.domain.services.vulndb_import import VulnDbImporter


def _record(vuln_id: str, modified: datetime, name: str = "demo", **extra: Any) -> dict[str, Any]:
    return {
        "id": vuln_id,
        "modified": modified.isoformat(),
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": name},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.4.2"}]}],
            }
        ],
        **extra,
    }


async def test_upsert_adds_replaces_newer_and_keeps_newest(settings: Settings) -> None:
    engine = create_async_engine(settings.database_url)
    store = SqlVulnerabilityStore(engine)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    try:
        first = await store.upsert([parse_osv_record(_record(f"V-{n}", t0)) for n in range(10)])
        assert (first.added, first.updated, first.unchanged) == (10, 0, 0)
        second = await store.upsert(
            [
                parse_osv_record(_record("V-0", t0 + timedelta(days=1), summary="fixed range", name="other")),
                parse_osv_record(_record("V-1", t0 - timedelta(days=1), summary="stale")),
                parse_osv_record(_record("V-2", t0)),
                parse_osv_record(_record("V-10", t0)),
            ]
        )
        assert (second.added, second.updated, second.unchanged) == (1, 1, 2)
        demo = {c.advisory.id for c in await store.candidates([("npm", "demo")])}
        assert demo == {f"V-{n}" for n in range(1, 11)}  # V-0 moved to "other"
        (moved,) = await store.candidates([("npm", "other")])
        assert moved.advisory.summary == "fixed range"
        assert (await store.get_record("V-1") or {}).get("summary") is None  # the stale copy did not win
    finally:
        await engine.dispose()


async def test_withdrawn_are_kept_out_of_candidates_and_versions_advance(settings: Settings) -> None:
    engine = create_async_engine(settings.database_url)
    store = SqlVulnerabilityStore(engine)
    importer = VulnDbImporter(store)
    try:
        assert (await store.current_version()).version == 0
        summary = await importer.run(iter_records(SAMPLE_DIR), source="sample")
        assert summary.rejected == []
        assert summary.version is not None
        assert summary.version.version >= 1
        assert summary.counts.withdrawn >= 1
        advisories = [parse_osv_record(r.data) for r in iter_records(SAMPLE_DIR) if r.data is not None]
        withdrawn_ids = {a.id for a in advisories if a.withdrawn is not None}
        keys = {(e.ecosystem, e.name) for a in advisories for e in a.affected}
        found = {c.advisory.id for c in await store.candidates(keys)}
        assert found
        assert not (found & withdrawn_ids)
        again = await importer.run(iter_records(SAMPLE_DIR), source="sample")
        assert again.counts.changed == 0
        assert again.version == summary.version
    finally:
        await engine.dispose()


async def test_large_lookups_are_chunked(settings: Settings) -> None:
    engine = create_async_engine(settings.database_url)
    store = SqlVulnerabilityStore(engine)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    try:
        await store.upsert([parse_osv_record(_record(f"B-{n}", t0, name=f"pkg-{n}")) for n in range(5000)])
        keys = [("npm", f"pkg-{n}") for n in range(0, 5000, 2)] + [("npm", f"absent-{n}") for n in range(3000)]
        found = await store.candidates(keys)
        assert len(found) == 2500
    finally:
        await engine.dispose()
