"""Findings on real public advisories (tests/fixtures/osv): ranges, borrowed severities, informational notices,
fix order, coverage of the database, and no answer at all from an empty one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secapi.adapters.catalog.gobuildinfo import stdlib_version
from secapi.adapters.osv.reader import iter_records
from secapi.domain.errors import VulnDbEmpty
from secapi.domain.findings import SeveritySource
from secapi.domain.packages import Package
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.severity import Severity

from support.fakes import InMemoryVulnerabilityStore

REAL_OSV = Path(__file__).parents[2] / "fixtures" / "osv"


@pytest.fixture(scope="module")
async def store() -> InMemoryVulnerabilityStore:
    store = InMemoryVulnerabilityStore()
    summary = await VulnDbImporter(store).run(iter_records(REAL_OSV), source="real fixtures")
    assert not summary.rejected
    return store


@pytest.fixture(scope="module")
def matcher(store: InMemoryVulnerabilityStore) -> VulnerabilityMatcher:
    return VulnerabilityMatcher(store)


def _records_naming(ecosystem: str) -> int:
    records = (json.loads(path.read_text()) for path in REAL_OSV.rglob("*.json"))
    return sum(1 for r in records if any(a.get("package", {}).get("ecosystem") == ecosystem for a in r["affected"]))


def pkg(ecosystem: str, name: str, version: str) -> Package:
    return Package(ecosystem=ecosystem, name=name, version=version)


async def ids(matcher: VulnerabilityMatcher, package: Package) -> set[str]:
    return {finding.id for finding in await matcher.match([package])}


@pytest.mark.parametrize(
    ("version", "affected"),
    [("3.0.0", True), ("3.1.1", True), ("3.2.0", True), ("3.2.1", True), ("3.2.2", False), ("3.3.0", False)],
)
async def test_pysec_2023_72_same_version_events_cover_pyspark_3_2_0_and_3_2_1(
    matcher: VulnerabilityMatcher, version: str, affected: bool
) -> None:
    assert ("PYSEC-2023-72" in await ids(matcher, pkg("PyPI", "pyspark", version))) is affected


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("0.22.4", False),
        ("0.23.0", False),
        ("0.23.12", False),
        ("0.23.13", True),
        ("0.23.17", True),
        ("0.23.18", False),
    ],
)
async def test_rustsec_2024_0399_empty_interval_stays_empty(
    matcher: VulnerabilityMatcher, version: str, affected: bool
) -> None:
    assert ("RUSTSEC-2024-0399" in await ids(matcher, pkg("crates.io", "rustls", version))) is affected


async def test_a_pysec_record_without_a_score_borrows_its_ghsa_twins_cvss(matcher: VulnerabilityMatcher) -> None:
    findings = {f.id: f for f in await matcher.match([pkg("PyPI", "certifi", "2022.12.7")])}
    pysec, ghsa = findings["PYSEC-2023-135"], findings["GHSA-xqr8-7jwr-rhp7"]
    assert ghsa.severity_source == SeveritySource(advisory="GHSA-xqr8-7jwr-rhp7", basis="cvss")
    assert (pysec.severity, pysec.score, pysec.vector) == (ghsa.severity, ghsa.score, ghsa.vector)
    assert pysec.severity is Severity.HIGH
    assert pysec.severity_source == SeveritySource(advisory="GHSA-xqr8-7jwr-rhp7", basis="cvss")


async def test_a_go_record_borrows_the_severity_of_the_ghsa_record_it_aliases(matcher: VulnerabilityMatcher) -> None:
    findings = {f.id: f for f in await matcher.match([pkg("Go", "golang.org/x/net", "v0.1.0")])}
    go = findings["GO-2023-1495"]
    assert go.severity is not Severity.UNKNOWN
    assert go.severity_source == SeveritySource(advisory="GHSA-fxg5-wq6x-vr4w", basis="cvss")


async def test_a_record_with_nothing_to_borrow_says_so(matcher: VulnerabilityMatcher) -> None:
    # GO-2023-2044's aliases name no imported record: the finding stays UNKNOWN and says why.
    (finding,) = [f for f in await matcher.match([pkg("Go", "stdlib", "1.21.0")]) if f.id == "GO-2023-2044"]
    assert finding.severity is Severity.UNKNOWN
    assert finding.severity_source == SeveritySource(advisory="GO-2023-2044", basis="none")


async def test_standard_library_advisories_match_the_stdlib_package(matcher: VulnerabilityMatcher) -> None:
    assert await ids(matcher, pkg("Go", "stdlib", "1.21.0")) == {"GO-2023-2044", "GO-2024-3107"}
    assert await ids(matcher, pkg("Go", "stdlib", "1.21.1")) == {"GO-2024-3107"}
    assert await ids(matcher, pkg("Go", "stdlib", "1.22.7")) == set()
    assert await ids(matcher, pkg("Go", "stdlib", "1.23.0")) == {"GO-2024-3107"}


@pytest.mark.parametrize(
    ("name", "kind", "advisory"),
    [
        ("totally-safe", "unsound", "RUSTSEC-2025-0029"),
        ("plutonium", "notice", "RUSTSEC-2020-0011"),
        ("anymap", "unmaintained", "RUSTSEC-2021-0065"),
    ],
)
async def test_informational_advisories_are_listed_apart_and_never_counted(
    matcher: VulnerabilityMatcher, name: str, kind: str, advisory: str
) -> None:
    assessment = await matcher.assess([pkg("crates.io", name, "0.1.0")])
    assert advisory not in {f.id for f in assessment.vulnerabilities}
    (notice,) = [f for f in assessment.informational if f.id == advisory]
    assert notice.informational == kind


async def test_the_nearest_fix_above_the_installed_version_comes_first(matcher: VulnerabilityMatcher) -> None:
    findings = {f.id: f for f in await matcher.match([pkg("PyPI", "urllib3", "1.24.1")])}
    # GHSA-v845-jxx5-vc9f names urllib3 twice (the 2.x and the 1.x branch): both fixes are choices.
    assert findings["GHSA-v845-jxx5-vc9f"].fixed_versions == ("1.26.17", "2.0.6")
    assert findings["PYSEC-2023-192"].fixed_versions[0] == "1.26.17"
    on_two = {f.id: f for f in await matcher.match([pkg("PyPI", "urllib3", "2.0.4")])}
    assert on_two["GHSA-v845-jxx5-vc9f"].fixed_versions[0] == "2.0.6"


async def test_references_are_listed_once(matcher: VulnerabilityMatcher) -> None:
    for finding in await matcher.match([pkg("PyPI", "urllib3", "1.24.1"), pkg("PyPI", "certifi", "2022.12.7")]):
        assert len(finding.references) == len(set(finding.references))


async def test_a_result_names_the_database_and_flags_ecosystems_without_data(matcher: VulnerabilityMatcher) -> None:
    assessment = await matcher.assess(
        [pkg("PyPI", "certifi", "2022.12.7"), pkg("Hackage", "aeson", "2.0.0.0"), pkg("SomeNewEcosystem", "x", "1")],
        ecosystems=("crates.io",),
    )
    assert assessment.vulndb.version == 1
    assert assessment.vulndb.updated_at is not None
    coverage = {c.ecosystem: c for c in assessment.vulndb.ecosystems}
    assert set(coverage) == {"PyPI", "Hackage", "SomeNewEcosystem", "crates.io"}
    assert coverage["PyPI"].advisories == _records_naming("PyPI") > 0
    assert coverage["PyPI"].note is None
    assert coverage["PyPI"].version_order == "pep440"
    assert coverage["crates.io"].advisories == _records_naming("crates.io") > 0
    assert coverage["Hackage"].advisories == 0
    assert "no advisories for Hackage" in (coverage["Hackage"].note or "")
    assert coverage["SomeNewEcosystem"].version_order == "versions-list-only"


async def test_with_no_advisories_matching_refuses_instead_of_answering_clean() -> None:
    with pytest.raises(VulnDbEmpty):
        await VulnerabilityMatcher(InMemoryVulnerabilityStore()).assess([pkg("PyPI", "certifi", "2022.12.7")])


async def test_a_go_toolchain_release_candidate_matches_as_the_prerelease_it_is(matcher: VulnerabilityMatcher) -> None:
    # A binary built by go1.21rc2 carries stdlib 1.21.0-rc.2: inside GO-2023-2044's range ("introduced 1.21.0-0").
    version = stdlib_version("go1.21rc2")
    assert version == "1.21.0-rc.2"
    assert await ids(matcher, pkg("Go", "stdlib", version)) == {"GO-2023-2044", "GO-2024-3107"}


def test_an_unrecorded_advisory_count_is_unknown_and_said_so_never_zero() -> None:
    from secapi.domain.advisories import VulnDbVersion
    from secapi.domain.services.matching import coverage

    (pypi,) = coverage(["PyPI"], VulnDbVersion(version=3, updated_at=None, advisories=10, ecosystems=None))
    assert pypi.advisories is None
    assert "unknown" in (pypi.note or "")
