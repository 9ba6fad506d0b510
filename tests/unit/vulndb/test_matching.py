"""Matching against the bundled real advisories: the findings a careful scanner reports."""

from __future__ import annotations

import pytest

from secapi.adapters.osv.reader import SAMPLE_DIR, iter_records
from secapi.domain.packages import Package
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.severity import Severity

from support.fakes import InMemoryVulnerabilityStore


@pytest.fixture(scope="module")
async def matcher() -> VulnerabilityMatcher:
    store = InMemoryVulnerabilityStore()
    await VulnDbImporter(store).run(iter_records(SAMPLE_DIR), source="sample")
    return VulnerabilityMatcher(store)


def pkg(ecosystem: str, name: str, version: str, **extra: str) -> Package:
    return Package(ecosystem=ecosystem, name=name, version=version, **extra)


@pytest.mark.parametrize(
    ("package", "expected"),
    [
        (pkg("PyPI", "Flask", "2.2.4"), {"GHSA-m2qf-hxjv-5gpq"}),
        (pkg("PyPI", "flask", "2.2.5"), set()),
        (pkg("PyPI", "Jinja2", "3.1.2"), {"GHSA-h5c8-rqwp-cp95"}),
        (pkg("PyPI", "PyYAML", "5.3.1"), {"PYSEC-2021-142"}),
        (pkg("PyPI", "pyyaml", "5.4"), set()),
        (pkg("npm", "minimist", "1.2.5"), {"GHSA-xvch-5gv4-984h"}),
        (pkg("npm", "minimist", "1.2.6"), set()),
        (pkg("npm", "lodash", "4.17.20"), {"GHSA-35jh-r3h4-6jhm"}),
        (pkg("npm", "jsonwebtoken", "8.5.1"), set()),  # its only advisory here is withdrawn
        (pkg("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1"), {"GHSA-jfh8-c2jp-5v3q", "GHSA-7rjr-3q55-vv33"}),
        (pkg("Maven", "org.apache.logging.log4j:log4j-core", "2.17.1"), set()),
        (pkg("Debian:12", "libc6", "2.36-9+deb12u2", source_name="glibc"), {"DSA-5514-1"}),
        (pkg("Debian:12", "libc6", "2.36-9+deb12u3", source_name="glibc"), set()),
        (pkg("Debian:11", "libc6", "2.31-13+deb11u5", source_name="glibc"), set()),  # other release
        (pkg("Alpine:v3.18", "libcrypto3", "3.1.0-r0", source_name="openssl"), {"ALPINE-CVE-2023-2650"}),
    ],
)
async def test_findings_for_real_advisories(
    matcher: VulnerabilityMatcher, package: Package, expected: set[str]
) -> None:
    found = {finding.id for finding in await matcher.match([package])}
    assert expected <= found
    if not expected:
        assert found == set()


async def test_finding_carries_fix_severity_and_package(matcher: VulnerabilityMatcher) -> None:
    (finding,) = await matcher.match([pkg("npm", "minimist", "1.2.5", purl="pkg:npm/minimist@1.2.5")])
    assert finding.severity is Severity.CRITICAL
    assert finding.score == 9.8
    assert "1.2.6" in finding.fixed_versions
    assert finding.package.purl == "pkg:npm/minimist@1.2.5"
    assert finding.installed_version == "1.2.5"
    assert "CVE-2021-44906" in finding.aliases


async def test_all_packages_are_looked_up_in_one_query(matcher: VulnerabilityMatcher) -> None:
    store = matcher._store
    assert isinstance(store, InMemoryVulnerabilityStore)
    before = store.candidate_queries
    packages = [pkg("npm", f"p{n}", "1.0.0") for n in range(500)] + [pkg("PyPI", "flask", "2.0.0")]
    findings = await matcher.match(packages)
    assert store.candidate_queries == before + 1
    assert [f.package.name for f in findings] == ["flask"]


async def test_findings_are_sorted_most_severe_first(matcher: VulnerabilityMatcher) -> None:
    findings = await matcher.match(
        [pkg("PyPI", "jinja2", "3.1.2"), pkg("npm", "minimist", "1.2.5"), pkg("PyPI", "flask", "2.2.4")]
    )
    assert [f.severity for f in findings] == [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM]
