"""Finished scans for the HTML report's tests: one with findings (and hostile strings), an empty one, a failed one."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import msgspec

from secapi.domain.exploits import Epss, Kev, RiskSummary
from secapi.domain.findings import (
    EcosystemCoverage,
    Finding,
    ImageDetails,
    LayerDetails,
    PackageRef,
    ScanResult,
    SuppressedBy,
    SuppressedFinding,
    Timings,
    VexAnnotation,
    VulnDbInfo,
    severity_counts,
    sort_findings,
)
from secapi.domain.model import Scan, ScanType
from secapi.domain.packages import Package, UnscannableEntry, UnscannedItem
from secapi.domain.scan_inputs import LockfileScanInput, RegistryImageInput
from secapi.domain.severity import Severity

USER = UUID("00000000-0000-4000-8000-000000000001")
REQUESTED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
FINISHED = REQUESTED + timedelta(seconds=2)
DB_UPDATED = FINISHED - timedelta(days=3, hours=2)

HOSTILE_PACKAGE = "<script>alert('pkg')</script>"
HOSTILE_SUMMARY = '"><img src=x onerror="alert(1)">summary & more'
HOSTILE_FILENAME = "requirements<b>bold</b>.txt"
HOSTILE_REFERENCE = "javascript:alert(document.cookie)"
HOSTILE_ERROR = "registry said: <iframe src=//evil.example></iframe>"


def _finding(
    advisory: str,
    package: str,
    version: str,
    severity: Severity,
    *,
    ecosystem: str = "PyPI",
    fixed: tuple[str, ...] = (),
    score: float | None = None,
    summary: str = "",
    references: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
    epss: Epss | None = None,
    kev: Kev | None = None,
    informational: str | None = None,
) -> Finding:
    return Finding(
        id=advisory,
        aliases=aliases,
        package=PackageRef(name=package, version=version, ecosystem=ecosystem),
        installed_version=version,
        fixed_versions=fixed,
        severity=severity,
        score=score,
        vector=None,
        summary=summary,
        references=references,
        location="line 3",
        informational=informational,
        epss=epss,
        kev=kev,
    )


def _vulndb(*ecosystems: EcosystemCoverage) -> VulnDbInfo:
    return VulnDbInfo(version=42, updated_at=DB_UPDATED, ecosystems=ecosystems)


def _running(scan_id: str, source: LockfileScanInput | RegistryImageInput) -> Scan:
    kind = ScanType.DOCKER if isinstance(source, RegistryImageInput) else ScanType.DEPENDENCIES
    scan = Scan.running(USER, kind, source, "input-hash", REQUESTED)
    return dataclasses.replace(scan, id=UUID(scan_id))


def scan_with_findings() -> Scan:
    """A lockfile scan: two findings on one (hostile-named) package, one on another, an informational advisory,
    an unscannable entry, EPSS and KEV on one finding, hostile strings where a scan's data goes."""
    hostile = [
        _finding(
            "GHSA-aaaa-bbbb-cccc",
            HOSTILE_PACKAGE,
            "1.0.0",
            Severity.CRITICAL,
            fixed=("1.0.1",),
            score=9.8,
            summary=HOSTILE_SUMMARY,
            references=(HOSTILE_REFERENCE, "https://github.com/advisories/GHSA-aaaa-bbbb-cccc"),
            aliases=("CVE-2026-0001",),
            epss=Epss(cve="CVE-2026-0001", score=0.42, percentile=0.97, date=date(2026, 11, 30)),
            kev=Kev(cve="CVE-2026-0001", date_added=date(2026, 11, 1), due_date=None, known_ransomware_use=True),
        ),
        _finding("PYSEC-2026-7", HOSTILE_PACKAGE, "1.0.0", Severity.MEDIUM, fixed=("1.2.0",), summary="second one"),
    ]
    other = [
        _finding("GHSA-dddd-eeee-ffff", "requests", "2.0.0", Severity.HIGH, score=7.5, summary="requests leaks"),
        _finding("GHSA-gggg-hhhh-iiii", "requests", "2.0.0", Severity.LOW, fixed=("2.31.0",), summary="minor"),
    ]
    found = sort_findings([*hostile, *other])
    packages = (
        Package(name=HOSTILE_PACKAGE, version="1.0.0", ecosystem="PyPI", location="line 3"),
        Package(name="requests", version="2.0.0", ecosystem="PyPI", location="line 4"),
        Package(name="idna", version="3.7", ecosystem="PyPI", location="line 5"),
    )
    result = ScanResult(
        scan_type="dependencies",
        target=HOSTILE_FILENAME,
        ecosystems=("PyPI",),
        packages=packages,
        unscannable=(UnscannableEntry(name="flask>=2", reason="no exact version", location="line 9"),),
        vulnerabilities=found,
        counts=severity_counts(found),
        vulndb_version=42,
        timings=Timings(parse_ms=1.0, match_ms=2.0, total_ms=3.0),
        informational=(
            _finding(
                "RUSTSEC-2026-0100", "idna", "3.7", Severity.UNKNOWN, informational="unmaintained", summary="gone"
            ),
        ),
        vulndb=_vulndb(EcosystemCoverage(ecosystem="PyPI", advisories=12345, version_order="pep440")),
        risk=RiskSummary(
            epss_loaded=True,
            kev_loaded=True,
            kev=1,
            kev_ransomware=1,
            scored=1,
            epss_max=0.42,
            epss_at_least_0_1=1,
            top=("GHSA-aaaa-bbbb-cccc",),
            epss_date=date(2026, 11, 30),
            epss_model="v2025.03.14",
            kev_catalog_version="2026.11.30",
        ),
    )
    source = LockfileScanInput(filename=HOSTILE_FILENAME, sha256="ab" * 32, size=2048)
    return _running("11111111-1111-4111-8111-111111111111", source).completed(result, FINISHED)


def empty_scan() -> Scan:
    """An image scan with no findings, but content it did not look into and an ecosystem the database is weak on."""
    result = ScanResult(
        scan_type="docker",
        target="docker.io/library/alpine:3.20",
        ecosystems=("Alpine:v3.20",),
        packages=(Package(name="musl", version="1.2.5-r0", ecosystem="Alpine:v3.20", location="sha256:" + "1" * 64),),
        unscannable=(),
        vulnerabilities=(),
        counts=severity_counts(()),
        vulndb_version=42,
        timings=Timings(),
        image=ImageDetails(
            reference="docker.io/library/alpine:3.20",
            manifest_digest="sha256:" + "9" * 64,
            platform="linux/amd64",
            os="alpine 3.20.3",
            os_ecosystem="Alpine:v3.20",
            layers=(LayerDetails(digest="sha256:" + "1" * 64, size=3_600_000, media_type="layer", fetched=True),),
            resolve_ms=12.0,
        ),
        unscanned=(UnscannedItem(path="usr/local/bin/tool", kind="rust-binary", reason="Rust binaries are not read."),),
        vulndb=_vulndb(
            EcosystemCoverage(
                ecosystem="Alpine:v3.20", advisories=0, version_order="apk", note="no records loaded for Alpine:v3.20"
            )
        ),
    )
    source = RegistryImageInput(image="docker.io/library/alpine:3.20", platform="linux/amd64")
    return _running("22222222-2222-4222-8222-222222222222", source).completed(result, FINISHED)


def failed_scan() -> Scan:
    """An image scan that failed, its error message carrying markup."""
    source = RegistryImageInput(image="registry.example/<team>/app:1", platform="linux/amd64")
    return _running("33333333-3333-4333-8333-333333333333", source).failed(HOSTILE_ERROR, FINISHED)


def suppressed_scan() -> Scan:
    """The findings scan with GHSA-dddd-eeee-ffff moved aside by an ignore rule (its reason hostile), another by a
    VEX statement, and an `under_investigation` statement annotating the critical finding."""
    scan = scan_with_findings()
    assert scan.result is not None
    kept, moved = [], []
    for finding in scan.result.vulnerabilities:
        if finding.id == "GHSA-dddd-eeee-ffff":
            by = SuppressedBy(kind="ignore", id="rule-1", reason="<b>not</b> reachable", expires_at=FINISHED)
        elif finding.id == "PYSEC-2026-7":
            by = SuppressedBy(
                kind="vex", id="doc-9", reason="code not present", statement=0, status="not_affected",
                justification="vulnerable_code_not_present",
            )  # fmt: skip
        else:
            kept.append(finding)
            continue
        moved.append(SuppressedFinding(**msgspec.structs.asdict(finding), suppressed_by=by))
    critical = kept[0]
    annotation = VexAnnotation(
        finding=critical.id, package=critical.package, status="under_investigation", document="doc-9", statement=1,
        status_notes="<i>checking</i>",
    )  # fmt: skip
    result = msgspec.structs.replace(
        scan.result, vulnerabilities=tuple(kept), suppressed=tuple(moved), vex=(annotation,)
    )
    return dataclasses.replace(scan, result=result)
