"""Finished scans for the output-format tests (CycloneDX, SPDX, SARIF), and the official validators.

`lockfile_scan()`: an npm lockfile with findings at known lines, one advisory on two versions of a package,
a scoped package, CVSS v3.1 / v4 / label-only / unknown severities, EPSS and KEV data, an unscannable entry.
`image_scan()`: a Debian image whose packages were found in a layer's dpkg database.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from secapi.domain.exploits import Epss, Kev
from secapi.domain.findings import (
    Finding,
    ImageDetails,
    LayerDetails,
    PackageRef,
    ScanResult,
    SeveritySource,
    SuppressedBy,
    SuppressedFinding,
    Timings,
    VexAnnotation,
    VulnDbInfo,
    severity_counts,
)
from secapi.domain.model import Scan, ScanType
from secapi.domain.packages import Package, UnscannableEntry, UnscannedItem
from secapi.domain.scan_inputs import LockfileCompanion, LockfileScanInput, RegistryImageInput
from secapi.domain.severity import Severity

USER = UUID("00000000-0000-4000-8000-0000000000f1")
STARTED = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
FINISHED = STARTED + timedelta(seconds=1)
LAYER = "sha256:" + "ab" * 32
SARIF_SCHEMA = Path(__file__).resolve().parent.parent / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"

V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N"


def _package(name: str, version: str, ecosystem: str, purl: str | None, location: str | None) -> Package:
    return Package(name=name, version=version, ecosystem=ecosystem, purl=purl, location=location)


def _finding(
    advisory: str,
    package: Package,
    severity: Severity,
    *,
    score: float | None = None,
    vector: str | None = None,
    fixed: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
    summary: str = "",
    references: tuple[str, ...] = (),
    epss: Epss | None = None,
    kev: Kev | None = None,
) -> Finding:
    return Finding(
        id=advisory,
        aliases=aliases,
        package=PackageRef(name=package.name, version=package.version, ecosystem=package.ecosystem, purl=package.purl),
        installed_version=package.version,
        fixed_versions=fixed,
        severity=severity,
        score=score,
        vector=vector,
        summary=summary,
        references=references,
        published=STARTED - timedelta(days=400),
        modified=STARTED - timedelta(days=3),
        location=package.location,
        severity_source=SeveritySource(advisory=advisory, basis="cvss" if vector else "label"),
        epss=epss,
        kev=kev,
    )


def _result(
    scan_type: str, target: str, packages: tuple[Package, ...], found: tuple[Finding, ...], **extra: Any
) -> ScanResult:
    return ScanResult(
        scan_type=scan_type,
        target=target,
        ecosystems=tuple(sorted({p.ecosystem for p in packages})),
        packages=packages,
        unscannable=extra.pop("unscannable", ()),
        vulnerabilities=found,
        counts=severity_counts(found),
        vulndb_version=7,
        timings=Timings(parse_ms=1.0, match_ms=2.0, total_ms=3.0),
        vulndb=VulnDbInfo(version=7, updated_at=STARTED - timedelta(hours=5)),
        **extra,
    )


def _finished(scan_id: str, kind: ScanType, source: LockfileScanInput | RegistryImageInput, result: ScanResult) -> Scan:
    scan = Scan.running(USER, kind, source, "input-hash", STARTED)
    return dataclasses.replace(scan, id=UUID(scan_id)).completed(result, FINISHED, duration_ms=1000.0)


LODASH_OLD = _package("lodash", "4.17.4", "npm", "pkg:npm/lodash@4.17.4", 'packages["node_modules/lodash"]')
LODASH_NESTED = _package("lodash", "4.17.15", "npm", "pkg:npm/lodash@4.17.15", "line 41")
SCOPED = _package("@babel/traverse", "7.22.5", "npm", "pkg:npm/%40babel/traverse@7.22.5", "line 12")
MINIMIST = _package("minimist", "1.2.5", "npm", "pkg:npm/minimist@1.2.5", "line 27")
CLEAN = _package("left-pad", "1.3.0", "npm", None, None)


def lockfile_scan() -> Scan:
    """A finished scan of `package-lock.json` with four advisories on four package entries."""
    packages = (LODASH_OLD, LODASH_NESTED, SCOPED, MINIMIST, CLEAN)
    found = (
        _finding(
            "GHSA-jf85-cpcp-j695",
            LODASH_OLD,
            Severity.CRITICAL,
            score=9.8,
            vector=V31,
            fixed=("4.17.12",),
            aliases=("CVE-2019-10744",),
            summary="Prototype Pollution in lodash",
            references=("https://nvd.nist.gov/vuln/detail/CVE-2019-10744", "not a link"),
            epss=Epss(cve="CVE-2019-10744", score=0.42, percentile=0.97, date=date(2026, 12, 1)),
            kev=Kev(cve="CVE-2019-10744", date_added=date(2025, 1, 2), due_date=None, known_ransomware_use=None),
        ),
        _finding(
            "GHSA-67hx-6x53-jw92",
            SCOPED,
            Severity.CRITICAL,
            score=9.3,
            vector=V40,
            fixed=("7.23.2",),
            aliases=("CVE-2023-45133",),
            summary="Babel vulnerable to arbitrary code execution when compiling specifically crafted code",
        ),
        _finding(
            "GHSA-35jh-r3h4-6jhm",
            LODASH_OLD,
            Severity.HIGH,
            fixed=("4.17.21",),
            aliases=("CVE-2021-23337",),
            summary="Command Injection in lodash",
        ),
        _finding(
            "GHSA-35jh-r3h4-6jhm",
            LODASH_NESTED,
            Severity.HIGH,
            fixed=("4.17.21",),
            aliases=("CVE-2021-23337",),
            summary="Command Injection in lodash",
        ),
        _finding("MAL-2099-1", MINIMIST, Severity.UNKNOWN, summary="A <b>markdown</b> | table *breaker*"),
    )
    unscannable = (UnscannableEntry(name="local-lib", reason="installed from a local path", location="line 55"),)
    source = LockfileScanInput(
        filename="package-lock.json",
        sha256="0" * 64,
        size=2048,
        companions=(LockfileCompanion(filename="extra.lock", sha256="1" * 64),),
    )
    result = _result("dependencies", "package-lock.json", packages, found, unscannable=unscannable)
    return _finished("11111111-1111-4111-8111-111111111111", ScanType.DEPENDENCIES, source, result)


def image_scan() -> Scan:
    """A finished scan of a Debian image: packages found in one layer's dpkg database."""
    where = f"{LAYER}:var/lib/dpkg/status"
    openssl = _package(
        "openssl", "3.0.11-1~deb12u1", "Debian:12", "pkg:deb/debian/openssl@3.0.11-1~deb12u1?distro=debian-12", where
    )
    zlib = _package("zlib1g", "1:1.2.13.dfsg-1", "Debian:12", "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1", where)
    found = (
        _finding(
            "DSA-5532-1",
            openssl,
            Severity.MEDIUM,
            score=5.3,
            vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L",
            fixed=("3.0.11-1~deb12u2",),
            aliases=("CVE-2023-5678",),
            summary="openssl - security update",
        ),
        _finding("CVE-2023-45853", zlib, Severity.LOW, summary="MiniZip integer overflow"),
    )
    image = ImageDetails(
        reference="docker.io/library/debian:12",
        manifest_digest="sha256:" + "cd" * 32,
        platform="linux/amd64",
        os="debian 12",
        os_ecosystem="Debian:12",
        layers=(
            LayerDetails(
                digest=LAYER, size=1000, media_type="application/vnd.oci.image.layer.v1.tar+gzip", fetched=True
            ),
        ),
        resolve_ms=5.0,
    )
    unscanned = (
        UnscannedItem(path=f"{LAYER}:usr/bin/app", kind="rust-binary", reason="a Rust binary without an audit list"),
    )
    result = _result("docker", "docker.io/library/debian:12", (openssl, zlib), found, image=image, unscanned=unscanned)
    source = RegistryImageInput(image="docker.io/library/debian:12", platform="linux/amd64")
    return _finished("22222222-2222-4222-8222-222222222222", ScanType.DOCKER, source, result)


def empty_scan() -> Scan:
    """A finished scan that found packages but no vulnerabilities."""
    result = _result(
        "dependencies", "poetry.lock", (_package("six", "1.16.0", "PyPI", "pkg:pypi/six@1.16.0", "line 3"),), ()
    )
    source = LockfileScanInput(filename="poetry.lock", sha256="2" * 64, size=10)
    return _finished("33333333-3333-4333-8333-333333333333", ScanType.DEPENDENCIES, source, result)


def suppressed_scan() -> Scan:
    """`lockfile_scan()` as a tenant with suppressions sees it: the old lodash's command injection ignored by a
    rule, babel's advisory `not_affected` by a VEX statement, minimist's `fixed`; the nested lodash's command
    injection `under_investigation` and the prototype pollution `affected`, both still listed."""
    scan = lockfile_scan()
    assert scan.result is not None
    by_key = {(f.id, f.installed_version): f for f in scan.result.vulnerabilities}
    rule = SuppressedBy(kind="ignore", id="rule-1", reason="lodash is only used at build time")
    not_affected = SuppressedBy(
        kind="vex",
        id="vex-1",
        reason="vulnerable_code_not_in_execute_path: babel only compiles our own code",
        statement=0,
        status="not_affected",
        justification="vulnerable_code_not_in_execute_path",
    )
    fixed = SuppressedBy(kind="vex", id="vex-1", reason="fixed", statement=1, status="fixed")
    moved = {
        ("GHSA-35jh-r3h4-6jhm", "4.17.4"): rule,
        ("GHSA-67hx-6x53-jw92", "7.22.5"): not_affected,
        ("MAL-2099-1", "1.2.5"): fixed,
    }
    suppressed = tuple(
        SuppressedFinding(**msgspec.structs.asdict(by_key[key]), suppressed_by=by) for key, by in moved.items()
    )
    kept = tuple(f for f in scan.result.vulnerabilities if (f.id, f.installed_version) not in moved)
    notes = (
        VexAnnotation(
            finding="GHSA-35jh-r3h4-6jhm",
            package=by_key[("GHSA-35jh-r3h4-6jhm", "4.17.15")].package,
            status="under_investigation",
            document="vex-1",
            statement=2,
            status_notes="checking whether templates reach it",
        ),
        VexAnnotation(
            finding="GHSA-jf85-cpcp-j695",
            package=by_key[("GHSA-jf85-cpcp-j695", "4.17.4")].package,
            status="affected",
            document="vex-1",
            statement=3,
            action_statement="upgrade lodash before the release",
        ),
    )
    result = msgspec.structs.replace(
        scan.result, vulnerabilities=kept, counts=severity_counts(kept), suppressed=suppressed, vex=notes
    )
    return dataclasses.replace(scan, result=result)


def sarif_errors(document: Any) -> list[str]:
    """Where `document` breaks the OASIS SARIF 2.1.0 schema; empty when it is valid."""
    from jsonschema import Draft4Validator, FormatChecker

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator = Draft4Validator(schema, format_checker=FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def cyclonedx_errors(document: bytes) -> list[str]:
    """Where a JSON BOM breaks the CycloneDX 1.6 schema (cyclonedx-python-lib's strict validator)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document.decode(), all_errors=True)
    return [] if errors is None else [str(e) for e in errors]


def spdx_errors(document: bytes) -> list[str]:
    """Where an SPDX JSON document breaks SPDX 2.3 (spdx-tools' parser and validator)."""
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    parsed = JsonLikeDictParser().parse(json.loads(document))  # raises SPDXParsingError on a malformed document
    return [message.validation_message for message in validate_full_spdx_document(parsed, "SPDX-2.3")]
