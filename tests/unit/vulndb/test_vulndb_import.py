"""Importing OSV records: upsert by `modified`, withdrawn records, rejections, versions."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from secapi.adapters.osv.reader import SAMPLE_DIR, SourceError, iter_records
from secapi.domain.advisories import OsvRecordError
from secapi.domain.osv_imports import RawRecord
from secapi.domain.osv_records import parse_osv_record
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.severity import Severity

from support.fakes import InMemoryVulnerabilityStore


def record(vuln_id: str, modified: str = "2024-01-01T00:00:00Z", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": vuln_id,
        "modified": modified,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Demo_Pkg"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
            }
        ],
    }
    base.update(extra)
    return base


def raw(*records: dict[str, Any]) -> list[RawRecord]:
    return [RawRecord(source=f"test:{n}", data=r) for n, r in enumerate(records)]


async def test_first_import_adds_and_advances_the_version() -> None:
    store = InMemoryVulnerabilityStore()
    summary = await VulnDbImporter(store, batch_size=2).run(
        raw(record("A-1"), record("A-2"), record("A-3")), source="t"
    )
    assert (summary.counts.added, summary.counts.updated, summary.counts.unchanged) == (3, 0, 0)
    assert summary.version is not None
    assert summary.version.version == 1
    assert store.advisories["A-1"].affected[0].name == "demo-pkg"  # PEP 503


async def test_reimport_honours_modified() -> None:
    store = InMemoryVulnerabilityStore()
    importer = VulnDbImporter(store)
    await importer.run(raw(record("A-1"), record("A-2")), source="t")
    summary = await importer.run(
        raw(record("A-1", "2024-06-01T00:00:00Z", summary="newer"), record("A-2", "2023-01-01T00:00:00Z")),
        source="t",
    )
    assert (summary.counts.added, summary.counts.updated, summary.counts.unchanged) == (0, 1, 1)
    assert store.advisories["A-1"].summary == "newer"
    assert store.advisories["A-2"].modified.year == 2024  # the older copy did not win
    assert summary.version is not None
    assert summary.version.version == 2


async def test_unchanged_import_keeps_the_version() -> None:
    store = InMemoryVulnerabilityStore()
    importer = VulnDbImporter(store)
    await importer.run(raw(record("A-1")), source="t")
    again = await importer.run(raw(record("A-1")), source="t")
    assert again.counts.unchanged == 1
    assert again.version is not None
    assert again.version.version == 1


async def test_malformed_records_are_rejected_with_id_and_reason_and_the_rest_go_on() -> None:
    store = InMemoryVulnerabilityStore()
    bad_events = record("BAD-2")
    bad_events["affected"][0]["ranges"][0]["events"] = [{"introduced": "0", "fixed": "1"}]
    records = [
        RawRecord(source="x.json", error="not valid JSON: Expecting value"),
        *raw(
            {"modified": "2024-01-01T00:00:00Z"},
            record("BAD-1", modified="yesterday"),
            bad_events,
            record("OK-1"),
        ),
    ]
    summary = await VulnDbImporter(store).run(records, source="t")
    assert summary.counts.added == 1
    reasons = {(r.record_id, r.reason) for r in summary.rejected}
    assert (None, "not valid JSON: Expecting value") in reasons
    assert ("BAD-1", "'modified' is not an RFC 3339 timestamp: 'yesterday'") in reasons
    assert any(rid is None and "not an OSV record" in why and "id" in why for rid, why in reasons)
    assert ("BAD-2", "affected[0].ranges[0].events[0] must have exactly one key") in reasons


def test_withdrawn_records_are_stored_but_never_candidates() -> None:
    advisory = parse_osv_record(record("W-1", withdrawn="2024-02-01T00:00:00Z"))
    assert advisory.withdrawn is not None


async def test_withdrawn_records_do_not_match() -> None:
    store = InMemoryVulnerabilityStore()
    await VulnDbImporter(store).run(raw(record("W-1", withdrawn="2024-02-01T00:00:00Z"), record("L-1")), source="t")
    found = {c.advisory.id for c in await store.candidates([("PyPI", "demo-pkg")])}
    assert found == {"L-1"}


@pytest.mark.parametrize(
    ("severity", "database_specific", "level", "score"),
    [
        ([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}], None, Severity.CRITICAL, 9.8),
        ([], {"severity": "MODERATE"}, Severity.MEDIUM, None),
        ([], None, Severity.UNKNOWN, None),
    ],
)
def test_record_severity(
    severity: list[dict[str, str]], database_specific: dict[str, str] | None, level: Severity, score: float | None
) -> None:
    advisory = parse_osv_record(record("S-1", severity=severity, database_specific=database_specific))
    assert advisory.severity is level
    assert advisory.score == score


def test_ubuntu_ecosystem_qualifiers_are_dropped_for_lookup() -> None:
    rec = record("USN-1")
    rec["affected"][0]["package"] = {"ecosystem": "Ubuntu:22.04:LTS", "name": "OpenSSL"}
    advisory = parse_osv_record(rec)
    assert (advisory.affected[0].ecosystem, advisory.affected[0].name) == ("Ubuntu:22.04", "openssl")


async def test_reader_streams_zips_directories_and_files(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for n in range(3):
            zf.writestr(f"PYSEC-{n}.json", json.dumps(record(f"PYSEC-{n}")))
        zf.writestr("broken.json", "{nope")
        zf.writestr("README.txt", "not a record")
    from_zip = list(iter_records(archive))
    assert [r.source for r in from_zip] == [f"all.zip:PYSEC-{n}.json" for n in range(3)] + ["all.zip:broken.json"]
    summary = await VulnDbImporter(InMemoryVulnerabilityStore()).run(from_zip, source="zip")
    assert summary.counts.added == 3
    assert [(r.source, r.reason[:15]) for r in summary.rejected] == [("all.zip:broken.json", "not valid JSON:")]

    single = tmp_path / "one.json"
    single.write_text(json.dumps(record("ONE")))
    assert [parse_osv_record(r.data).id for r in iter_records(single) if r.data] == ["ONE"]
    array = tmp_path / "many.json"
    array.write_text(json.dumps([record("ARR-1"), record("ARR-2")]))
    assert [parse_osv_record(r.data).id for r in iter_records(array) if r.data] == ["ARR-1", "ARR-2"]

    from_dir = list(iter_records(SAMPLE_DIR))
    assert len(from_dir) >= 40
    assert all(r.error is None for r in from_dir)

    with pytest.raises(SourceError):
        list(iter_records(tmp_path / "missing.zip"))


def test_every_bundled_sample_record_parses() -> None:
    for raw_record in iter_records(SAMPLE_DIR):
        try:
            assert raw_record.data is not None
            parse_osv_record(raw_record.data)
        except OsvRecordError as exc:  # pragma: no cover - the assertion names it
            pytest.fail(f"{raw_record.source}: {exc}")
