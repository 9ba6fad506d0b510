"""SPDX 2.3 JSON (`?format=spdx`): the packages a scan found, as an SBOM.

Written with spdx-tools (the SPDX project's own model and JSON converter). The document describes one
package for what was scanned (the lockfile, with its SHA-256, or the image, its manifest digest as version)
that `CONTAINS` one package per package found: its name, version, and purl as a `PACKAGE-MANAGER` external
reference. SPDX 2.3 has no vulnerability section, so each finding is a `SECURITY` `advisory` reference to the
advisory's page and an annotation on the package (id, aliases, severity, fixed versions, and for a finding
the tenant suppressed, the rule or VEX statement and its reason); CycloneDX is the
format for vulnerability exchange. Licences and copyrights are not read by a scan: `NOASSERTION`.

The document is converted without spdx-tools' validation on every request (the tests validate it): that
check is a full pass over the document with no finding to add for a document written from typed data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec
from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.annotation import Annotation, AnnotationType
from spdx_tools.spdx.model.checksum import Checksum, ChecksumAlgorithm
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.package import ExternalPackageRef, ExternalPackageRefCategory, Package, PackagePurpose
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion

from secapi.adapters.formats._scans import (
    TOOL_NAME,
    TOOL_URL,
    advisory_url,
    produced_at,
    result_of,
    subject_of,
    tool_version,
    weak_ecosystems,
)
from secapi.domain.findings import Finding, SuppressedFinding
from secapi.domain.model import Scan
from secapi.domain.packages import Package as FoundPackage
from secapi.domain.ports import ResultFormat

MEDIA_TYPE = "application/spdx+json"
DOCUMENT_ID = "SPDXRef-DOCUMENT"
SUBJECT_ID = "SPDXRef-Subject"
_NOT_ID = re.compile(r"[^A-Za-z0-9.-]+")


class SpdxFormat(ResultFormat):
    """Writes a scan's packages as an SPDX 2.3 JSON document."""

    name = "spdx"
    media_type = MEDIA_TYPE
    any_state = False

    def render(self, scan: Scan) -> bytes:
        converter = DocumentConverter()  # type: ignore[no-untyped-call]  # spdx-tools leaves __init__ unannotated
        return msgspec.json.encode(converter.convert(spdx_document(scan)))


def spdx_document(scan: Scan) -> Document:
    """The SPDX document of a completed scan."""
    result = result_of(scan)
    subject = subject_of(scan, result)
    created = produced_at(scan).replace(microsecond=0)
    tool = Actor(ActorType.TOOL, f"{TOOL_NAME}-{tool_version()}")
    findings = _findings_by_package((*result.vulnerabilities, *result.suppressed))
    packages = [_subject_package(scan)]
    annotations: list[Annotation] = []
    relationships = [Relationship(DOCUMENT_ID, RelationshipType.DESCRIBES, SUBJECT_ID)]
    for index, found in enumerate(result.packages, start=1):
        spdx_id = f"SPDXRef-Package-{index}-{_NOT_ID.sub('-', found.name).strip('-')[:60] or 'package'}"
        own = findings.get(_identity(found.ecosystem, found.name, found.version, found.location)) or findings.get(
            _identity(found.ecosystem, found.name, found.version, None), []
        )
        packages.append(_package(spdx_id, found, own))
        relationships.append(Relationship(SUBJECT_ID, RelationshipType.CONTAINS, spdx_id))
        annotations += [
            Annotation(spdx_id, AnnotationType.OTHER, tool, created, _finding_note(finding)) for finding in own
        ]
    # What the scan could not read is said in the document, on the scanned subject: a package list without
    # findings must not read as "all clear" for entries it never matched (SPDX has no field of its own for it).
    annotations += [
        Annotation(SUBJECT_ID, AnnotationType.OTHER, tool, created, f"Not scanned: {entry.name}: {entry.reason}")
        for entry in result.unscannable
    ]
    annotations += [
        Annotation(SUBJECT_ID, AnnotationType.OTHER, tool, created, f"Not looked into: {item.path}: {item.reason}")
        for item in result.unscanned
    ]
    annotations += [
        Annotation(SUBJECT_ID, AnnotationType.OTHER, tool, created, f"Weaker data for {ecosystem}: {why}")
        for ecosystem, why in weak_ecosystems(result)
    ]
    creation = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id=DOCUMENT_ID,
        name=f"SecAPI scan of {subject.name}",
        document_namespace=f"{TOOL_URL}/spdxdocs/scans/{scan.id}",
        creators=[tool],
        created=created,
        creator_comment=f"Scan {scan.id}, vulnerability database version {result.vulndb_version}.",
    )
    return Document(creation, packages=packages, annotations=annotations, relationships=relationships)


def _identity(ecosystem: str, name: str, version: str, location: str | None) -> tuple[str, str, str, str | None]:
    return (ecosystem, name, version, location)


def _findings_by_package(findings: Iterable[Finding]) -> dict[tuple[str, str, str, str | None], list[Finding]]:
    """Findings by the package they are about: at its location, and (for a package listed without it) anywhere."""
    grouped: dict[tuple[str, str, str, str | None], list[Finding]] = {}
    for finding in findings:
        package = finding.package
        grouped.setdefault(_identity(package.ecosystem, package.name, finding.installed_version, finding.location), [])
        grouped[_identity(package.ecosystem, package.name, finding.installed_version, finding.location)].append(finding)
        grouped.setdefault(_identity(package.ecosystem, package.name, finding.installed_version, None), []).append(
            finding
        )
    return grouped


def _subject_package(scan: Scan) -> Package:
    result = result_of(scan)
    subject = subject_of(scan, result)
    checksums = [Checksum(ChecksumAlgorithm.SHA256, subject.sha256)] if subject.sha256 else []
    return Package(
        SUBJECT_ID,
        subject.name,
        SpdxNoAssertion(),
        version=subject.version,
        files_analyzed=False,
        checksums=checksums,
        license_concluded=SpdxNoAssertion(),
        license_declared=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(),
        primary_package_purpose=PackagePurpose.CONTAINER if subject.is_image else PackagePurpose.FILE,
        comment=f"What SecAPI scan {scan.id} looked at: {len(result.packages)} packages found.",
    )


def _package(spdx_id: str, found: FoundPackage, findings: list[Finding]) -> Package:
    references = []
    if found.purl:
        references.append(ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", found.purl))
    references += [
        ExternalPackageRef(ExternalPackageRefCategory.SECURITY, "advisory", advisory_url(advisory))
        for advisory in dict.fromkeys(f.id for f in findings)
    ]
    where = f", found at {found.location}" if found.location else ""
    return Package(
        spdx_id,
        found.name,
        SpdxNoAssertion(),
        version=found.version,
        files_analyzed=False,
        license_concluded=SpdxNoAssertion(),
        license_declared=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(),
        external_references=references,
        primary_package_purpose=PackagePurpose.LIBRARY,
        comment=f"Ecosystem {found.ecosystem}{where}.",
    )


def _finding_note(finding: Finding) -> str:
    aliases = f" ({', '.join(finding.aliases)})" if finding.aliases else ""
    score = f", CVSS {finding.score:.1f}" if finding.score is not None else ""
    fixed = f"fixed in {', '.join(finding.fixed_versions)}" if finding.fixed_versions else "no fixed version known"
    summary = f": {finding.summary}" if finding.summary else ""
    note = f"Vulnerability {finding.id}{aliases}, severity {finding.severity.value}{score}; {fixed}{summary}"
    if isinstance(finding, SuppressedFinding):
        by = finding.suppressed_by
        source = f"VEX document {by.id} ({by.status})" if by.kind == "vex" else f"ignore rule {by.id}"
        note += f" [suppressed by {source}: {by.reason}]"
    return note
