"""CycloneDX 1.6 JSON (`?format=cyclonedx`): the scan's packages and findings as one BOM, a VDR/VEX in one document.

Written with cyclonedx-python-lib. `metadata.component` is what was scanned (the lockfile, with its SHA-256,
or the image, with its manifest digest); `components` are the packages found, each with its purl; every
advisory is one entry of `vulnerabilities` with its ratings (CVSS score, severity, method and vector, or the
published level alone), the components it `affects` (by `bom-ref`, the installed version `affected`), its
aliases, advisories and fixed versions, and an `analysis` (a VEX statement):

- findings the tenant suppressed are listed too, `not_affected` (a VEX `not_affected` statement, its OpenVEX
  justification mapped to CycloneDX's, or an ignore rule) or `resolved` (VEX `fixed`), the affected version
  `unaffected`, the statement or rule and its reason in `detail`;
- a finding with a VEX `affected` statement is `exploitable` (its action statement in `detail`), one under
  investigation `in_triage`;
- otherwise `exploitable` when the advisory's CVE is in CISA's KEV catalogue (exploited in the wild), else
  `in_triage` (matched by SecAPI, not assessed by anyone); both with the response `update` when a fix exists.

An advisory whose findings are assessed differently (one package suppressed, another not) is one entry per
assessment.

The library is slow on large BOMs: its sorted sets compare components field by field and its output step
checks the dependency graph with a linear search per component (O(n²)). The graph is therefore built at
once here, not with `Bom.register_dependency` (another O(n²) search); a result of 2,000 packages and 300
findings still takes 1.5-2.5 s on one core (SARIF: 10 ms), which is why the HTTP layer writes formats in a
worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from uuid import UUID

from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisAffectedStatus,
    ImpactAnalysisJustification,
    ImpactAnalysisResponse,
    ImpactAnalysisState,
)
from cyclonedx.model.tool import ToolRepository
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from secapi.adapters.formats._scans import (
    TOOL_NAME,
    TOOL_URL,
    advisory_url,
    by_advisory,
    http_urls,
    produced_at,
    result_of,
    subject_of,
    tool_version,
    weak_ecosystems,
)
from secapi.domain.findings import Finding, ScanResult, SuppressedFinding, VexAnnotation
from secapi.domain.model import Scan
from secapi.domain.packages import Package
from secapi.domain.ports import ResultFormat
from secapi.domain.severity import Severity

MEDIA_TYPE = "application/vnd.cyclonedx+json"

_SEVERITIES = {
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL,
    Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM,
    Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.UNKNOWN: VulnerabilitySeverity.UNKNOWN,
}
SUBJECT_REF = "secapi:subject"


class CycloneDxFormat(ResultFormat):
    """Writes a scan as a CycloneDX 1.6 JSON BOM with its vulnerabilities."""

    name = "cyclonedx"
    media_type = MEDIA_TYPE
    any_state = False

    def render(self, scan: Scan) -> bytes:
        return JsonV1Dot6(cyclonedx_bom(scan)).output_as_string().encode()


def cyclonedx_bom(scan: Scan) -> Bom:
    """The BOM of a completed scan."""
    result = result_of(scan)
    refs = _ComponentRefs()
    components = [_component(package, refs.add(package)) for package in result.packages]
    subject = _subject_component(scan)
    leaves = [Dependency(ref=component.bom_ref) for component in components]
    return Bom(
        serial_number=UUID(int=scan.id.int),
        metadata=BomMetaData(
            timestamp=produced_at(scan),
            component=subject,
            tools=ToolRepository(
                components=[
                    Component(
                        type=ComponentType.APPLICATION,
                        name=TOOL_NAME,
                        version=tool_version(),
                        bom_ref="secapi:tool",
                        properties=[Property(name="secapi:url", value=TOOL_URL)],
                    )
                ]
            ),
            properties=_scan_properties(scan),
        ),
        components=components,
        vulnerabilities=_vulnerabilities(result, refs),
        # The graph `Bom.register_dependency` would build (the subject depends on every component, each component
        # on nothing known), built at once: registering one by one searches the graph for each, O(n²).
        dependencies=[Dependency(ref=subject.bom_ref, dependencies=leaves), *leaves],
    )


class _ComponentRefs:
    """A unique `bom-ref` per package (its purl where it has one), and a finding's package's ref."""

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._by_place: dict[tuple[str, str, str, str | None], str] = {}
        self._by_identity: dict[tuple[str, str, str], str] = {}

    def add(self, package: Package) -> str:
        base = package.purl or f"{package.ecosystem}/{package.name}@{package.version}"
        ref, n = base, 1
        while ref in self._taken:
            n += 1
            ref = f"{base}#{n}"
        self._taken.add(ref)
        self._by_place.setdefault((package.ecosystem, package.name, package.version, package.location), ref)
        self._by_identity.setdefault((package.ecosystem, package.name, package.version), ref)
        return ref

    def of(self, finding: Finding) -> str | None:
        package = finding.package
        place = (package.ecosystem, package.name, finding.installed_version, finding.location)
        return self._by_place.get(place) or self._by_identity.get(place[:3])


def _purl(text: str | None) -> PackageURL | None:
    if not text:
        return None
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None  # not a purl the library reads: the package is still listed, by name and version


def _component(package: Package, ref: str) -> Component:
    properties = [Property(name="secapi:ecosystem", value=package.ecosystem)]
    if package.location:
        properties.append(Property(name="secapi:location", value=package.location))
    if package.source_name:
        source = package.source_name + (f" {package.source_version}" if package.source_version else "")
        properties.append(Property(name="secapi:source_package", value=source))
    return Component(
        type=ComponentType.LIBRARY,
        name=package.name,
        version=package.version,
        purl=_purl(package.purl),
        bom_ref=ref,
        properties=properties,
    )


def _subject_component(scan: Scan) -> Component:
    result = result_of(scan)
    subject = subject_of(scan, result)
    if subject.is_image:
        return Component(type=ComponentType.CONTAINER, name=subject.name, version=subject.version, bom_ref=SUBJECT_REF)
    hashes = [HashType(alg=HashAlgorithm.SHA_256, content=subject.sha256)] if subject.sha256 else []
    return Component(type=ComponentType.FILE, name=subject.name, hashes=hashes, bom_ref=SUBJECT_REF)


def _scan_properties(scan: Scan) -> list[Property]:
    result = result_of(scan)
    properties = [
        Property(name="secapi:scan_id", value=str(scan.id)),
        Property(name="secapi:vulndb_version", value=str(result.vulndb_version)),
    ]
    if result.vulndb is not None and result.vulndb.updated_at is not None:
        properties.append(Property(name="secapi:vulndb_updated_at", value=result.vulndb.updated_at.isoformat()))
    properties += [
        Property(name="secapi:unscannable", value=f"{entry.name}: {entry.reason}") for entry in result.unscannable
    ]
    properties += [Property(name="secapi:unscanned", value=f"{item.path}: {item.reason}") for item in result.unscanned]
    properties += [
        Property(name="secapi:weak_ecosystem", value=f"{ecosystem}: {why}")
        for ecosystem, why in weak_ecosystems(result)
    ]
    return properties


def _rating(finding: Finding) -> VulnerabilityRating:
    source = VulnerabilitySource(
        name=finding.severity_source.advisory if finding.severity_source else finding.id,
        url=XsUri(advisory_url(finding.severity_source.advisory if finding.severity_source else finding.id)),
    )
    if finding.score is None:
        return VulnerabilityRating(source=source, severity=_SEVERITIES[finding.severity])
    method = VulnerabilityScoreSource.get_from_vector(finding.vector or "")
    return VulnerabilityRating(
        source=source,
        score=Decimal(str(finding.score)),
        severity=_SEVERITIES[finding.severity],
        method=method,
        vector=finding.vector,
    )


def _references(aliases: Iterable[str]) -> list[VulnerabilityReference]:
    return [
        VulnerabilityReference(
            id=alias,
            source=VulnerabilitySource(
                name="NVD" if alias.startswith("CVE-") else "OSV",
                url=XsUri(
                    f"https://nvd.nist.gov/vuln/detail/{alias}" if alias.startswith("CVE-") else advisory_url(alias)
                ),
            ),
        )
        for alias in dict.fromkeys(aliases)
    ]


_JUSTIFICATIONS = {
    "component_not_present": ImpactAnalysisJustification.CODE_NOT_PRESENT,
    "vulnerable_code_not_present": ImpactAnalysisJustification.CODE_NOT_PRESENT,
    "vulnerable_code_not_in_execute_path": ImpactAnalysisJustification.CODE_NOT_REACHABLE,
    "vulnerable_code_cannot_be_controlled_by_adversary": ImpactAnalysisJustification.REQUIRES_ENVIRONMENT,
    "inline_mitigations_already_exist": ImpactAnalysisJustification.PROTECTED_BY_MITIGATING_CONTROL,
}
"""OpenVEX `not_affected` justifications as CycloneDX states them (the CISA VEX minimum elements' mapping)."""

_UNASSESSED = "The installed version is in the advisory's affected ranges; no one has assessed its impact here."

Assessment = tuple[ImpactAnalysisState, ImpactAnalysisJustification | None, str]
"""An analysis without its responses: state, justification, detail."""


def _assessment(finding: Finding, notes: dict[tuple[str, str, str, str], VexAnnotation]) -> Assessment:
    """What is known of one finding's impact: the tenant's suppression or VEX statement, else KEV, else nothing."""
    if isinstance(finding, SuppressedFinding):
        by = finding.suppressed_by
        if by.kind == "vex" and by.status == "fixed":
            return ImpactAnalysisState.RESOLVED, None, f"VEX document {by.id}, statement {by.statement}: {by.reason}"
        if by.kind == "vex":
            justification = _JUSTIFICATIONS.get(by.justification or "")
            detail = f"VEX document {by.id}, statement {by.statement}: {by.reason}"
            return ImpactAnalysisState.NOT_AFFECTED, justification, detail
        until = f" (until {by.expires_at.isoformat()})" if by.expires_at is not None else ""
        return ImpactAnalysisState.NOT_AFFECTED, None, f"Suppressed by ignore rule {by.id}{until}: {by.reason}"
    package = finding.package
    note = notes.get((finding.id, package.ecosystem, package.name, package.version))
    if note is not None and note.status == "affected":
        detail = f"VEX document {note.document}, statement {note.statement}: {note.action_statement or 'affected'}"
        return ImpactAnalysisState.EXPLOITABLE, None, detail
    if note is not None:
        detail = f"VEX document {note.document}, statement {note.statement}: {note.status_notes or note.status}"
        return ImpactAnalysisState.IN_TRIAGE, None, detail
    if finding.kev is not None:
        added = finding.kev.date_added
        detail = f"{finding.kev.cve} is in CISA's Known Exploited Vulnerabilities catalogue (added {added})."
        return ImpactAnalysisState.EXPLOITABLE, None, detail
    return ImpactAnalysisState.IN_TRIAGE, None, _UNASSESSED


def _analysis(assessment: Assessment, findings: list[Finding]) -> VulnerabilityAnalysis:
    state, justification, detail = assessment
    open_issue = state in (ImpactAnalysisState.EXPLOITABLE, ImpactAnalysisState.IN_TRIAGE)
    fixable = open_issue and any(f.fixed_versions for f in findings)
    responses = [ImpactAnalysisResponse.UPDATE] if fixable else []
    return VulnerabilityAnalysis(state=state, justification=justification, responses=responses, detail=detail)


def _vulnerabilities(result: ScanResult, refs: _ComponentRefs) -> list[Vulnerability]:
    """One entry per advisory and assessment: the findings still listed and those the tenant suppressed (with
    why), each advisory's findings split only where their assessments differ."""
    notes = {(n.finding, n.package.ecosystem, n.package.name, n.package.version): n for n in result.vex}
    entries: list[Vulnerability] = []
    for advisory, findings in by_advisory((*result.vulnerabilities, *result.suppressed)):
        groups: dict[Assessment, list[Finding]] = {}
        for finding in findings:
            groups.setdefault(_assessment(finding, notes), []).append(finding)
        for n, (assessment, group) in enumerate(groups.items(), start=1):
            ref = f"secapi:vulnerability:{advisory}" + (f"#{n}" if n > 1 else "")
            entries.append(_vulnerability(ref, advisory, group, _analysis(assessment, group), refs))
    return entries


def _recommendation(findings: list[Finding]) -> str | None:
    fixes = [
        f"upgrade {f.package.name} {f.installed_version} to {' or '.join(f.fixed_versions)}"
        for f in findings
        if f.fixed_versions
    ]
    return "; ".join(dict.fromkeys(fixes)).capitalize() or None


def _vulnerability(
    ref: str, advisory: str, findings: list[Finding], analysis: VulnerabilityAnalysis, refs: _ComponentRefs
) -> Vulnerability:
    first = findings[0]
    properties = [Property(name="secapi:severity", value=first.severity.value)]
    epss = max((f.epss for f in findings if f.epss is not None), key=lambda e: e.score, default=None)
    if epss is not None:
        properties += [
            Property(name="secapi:epss:cve", value=epss.cve),
            Property(name="secapi:epss:score", value=str(epss.score)),
            Property(name="secapi:epss:percentile", value=str(epss.percentile)),
        ]
    settled = analysis.state in (ImpactAnalysisState.NOT_AFFECTED, ImpactAnalysisState.RESOLVED)
    status = ImpactAnalysisAffectedStatus.UNAFFECTED if settled else ImpactAnalysisAffectedStatus.AFFECTED
    affects: dict[str, BomTarget] = {}
    for finding in findings:
        component = refs.of(finding)
        if component is not None and component not in affects:
            version = BomTargetVersionRange(version=finding.installed_version, status=status)
            affects[component] = BomTarget(ref=component, versions=[version])
    ratings = {(r.score, r.severity, r.vector): r for r in (_rating(f) for f in findings)}
    return Vulnerability(
        bom_ref=ref,
        id=advisory,
        source=VulnerabilitySource(name="OSV", url=XsUri(advisory_url(advisory))),
        references=_references(first.aliases),
        ratings=list(ratings.values()),
        description=first.summary or None,
        recommendation=_recommendation(findings),
        advisories=[VulnerabilityAdvisory(url=XsUri(url)) for url in dict.fromkeys(http_urls(first.references))],
        published=first.published,
        updated=first.modified,
        analysis=analysis,
        affects=list(affects.values()),
        properties=properties,
    )
