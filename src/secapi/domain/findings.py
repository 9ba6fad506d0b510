"""What a scan reports: findings, counts by severity, and the result document."""

from __future__ import annotations

from datetime import datetime

import msgspec

from secapi.domain.exploits import Epss, Kev, RiskSummary
from secapi.domain.packages import Package, UnscannableEntry, UnscannedItem
from secapi.domain.severity import Severity

SEVERITY_ORDER = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.UNKNOWN)


class PackageRef(msgspec.Struct, frozen=True, kw_only=True):
    """The package a finding is about."""

    name: str
    version: str
    ecosystem: str
    purl: str | None = None


class SeveritySource(msgspec.Struct, frozen=True, kw_only=True):
    """Where a finding's severity came from.

    `advisory` is the record that gave it: the finding's own id, or a record
    sharing an alias with it (GHSA <-> PYSEC <-> CVE <-> GO). `basis` is
    `cvss` (a scored vector), `label` (a published level such as GHSA's
    `database_specific.severity`, Debian urgency) or `none` (nothing known).
    """

    advisory: str
    basis: str


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One advisory affecting one installed package."""

    id: str
    aliases: tuple[str, ...]
    package: PackageRef
    installed_version: str
    fixed_versions: tuple[str, ...]
    severity: Severity
    score: float | None
    vector: str | None
    summary: str
    references: tuple[str, ...]
    published: datetime | None = None
    modified: datetime | None = None
    location: str | None = None
    severity_source: SeveritySource | None = None
    informational: str | None = None
    """Informational advisories (RustSec `unmaintained`, `unsound`, `notice`): the kind; None for vulnerabilities."""
    epss: Epss | None = None
    """FIRST's EPSS score of the advisory's CVE (the highest of several); None when not scored or not loaded."""
    kev: Kev | None = None
    """The advisory's CVE is in CISA's Known Exploited Vulnerabilities catalogue; None otherwise or when not loaded."""


class SuppressedBy(msgspec.Struct, frozen=True, kw_only=True):
    """What suppressed a finding for this tenant: one of its ignore rules or a statement of one of its VEX documents."""

    kind: str
    """`ignore` (a rule of `/api/v1/ignores`) or `vex` (a statement of a document of `/api/v1/vex`)."""
    id: str
    """The rule's id, or the VEX document's id in SecAPI."""
    reason: str
    """The rule's reason; for VEX the statement's justification and impact statement (or `fixed`)."""
    statement: int | None = None
    """VEX: the statement's position in the document (0-based)."""
    status: str | None = None
    """VEX: `not_affected` or `fixed`."""
    justification: str | None = None
    """VEX: the `not_affected` justification label, when given."""
    expires_at: datetime | None = None
    """Ignore rules: when the rule stops applying (None: never)."""


class SuppressedFinding(Finding, frozen=True, kw_only=True):
    """A finding this tenant suppressed: the finding as found, and what suppressed it."""

    suppressed_by: SuppressedBy


class VexAnnotation(msgspec.Struct, frozen=True, kw_only=True):
    """A VEX statement with status `affected` or `under_investigation` about a finding still listed."""

    finding: str
    """The finding's advisory id."""
    package: PackageRef
    status: str
    document: str
    """The VEX document's id in SecAPI."""
    statement: int
    action_statement: str | None = None
    status_notes: str | None = None


class EcosystemCoverage(msgspec.Struct, frozen=True, kw_only=True):
    """What the vulnerability database holds for one ecosystem a scan matched against."""

    ecosystem: str
    advisories: int | None
    """Non-withdrawn records with an affected entry in this ecosystem; None when the database did not record it."""
    version_order: str
    """The scheme ranges were evaluated with (`dpkg`, `rpm`, `pep440`, ...), or `versions-list-only`."""
    note: str | None = None
    """Why this ecosystem's answer is weaker: no records loaded, or no version order known."""


class VulnDbInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The vulnerability database a result was matched against."""

    version: int
    updated_at: datetime | None
    ecosystems: tuple[EcosystemCoverage, ...] = ()


class Timings(msgspec.Struct, kw_only=True):
    """Where a scan's time went, in milliseconds."""

    parse_ms: float = 0.0
    match_ms: float = 0.0
    total_ms: float = 0.0

    @classmethod
    def between(cls, started: float, parsed: float, matched: float, *, parse_from: float | None = None) -> Timings:
        """From `perf_counter()` readings: parsing (from `parse_from`, default `started`) until `parsed`,
        matching until `matched`, and the total since `started`."""
        return cls(
            parse_ms=_ms(parsed - (started if parse_from is None else parse_from)),
            match_ms=_ms(matched - parsed),
            total_ms=_ms(matched - started),
        )


class LayerDetails(msgspec.Struct, frozen=True, kw_only=True):
    """One layer of a scanned image; `fetched` is False when its inventory came from the layer cache."""

    digest: str
    size: int
    media_type: str
    fetched: bool


class ImageDetails(msgspec.Struct, frozen=True, kw_only=True):
    """What was scanned, for an image scan."""

    reference: str
    manifest_digest: str
    platform: str
    os: str | None
    os_ecosystem: str | None
    layers: tuple[LayerDetails, ...]
    resolve_ms: float


class ScanResult(msgspec.Struct, kw_only=True):
    """The result document of a finished scan."""

    scan_type: str
    target: str
    ecosystems: tuple[str, ...]
    packages: tuple[Package, ...]
    unscannable: tuple[UnscannableEntry, ...]
    vulnerabilities: tuple[Finding, ...]
    counts: dict[str, int]
    vulndb_version: int
    timings: Timings
    image: ImageDetails | None = None
    unscanned: tuple[UnscannedItem, ...] = ()
    """Content seen but not looked into (see `UnscannedItem`): a clean answer does not cover it."""
    informational: tuple[Finding, ...] = ()
    """Informational advisories (unmaintained, unsound, notice): listed, never counted as vulnerabilities."""
    vulndb: VulnDbInfo | None = None
    risk: RiskSummary | None = None
    """Exploit risk of `vulnerabilities` (KEV, EPSS) and whether that data was loaded at all."""
    suppressed: tuple[SuppressedFinding, ...] = ()
    """Findings the requesting tenant suppressed (ignore rules, VEX `not_affected` / `fixed`), each naming the
    rule or statement; set at answer time for that tenant only, never in the shared stored result. `counts`
    excludes them."""
    vex: tuple[VexAnnotation, ...] = ()
    """VEX statements `affected` / `under_investigation` about listed findings (they annotate, never suppress)."""


def severity_counts(findings: tuple[Finding, ...]) -> dict[str, int]:
    """Findings per severity level, every level present (zeros included), most severe first."""
    counts = {level.value: 0 for level in SEVERITY_ORDER}
    for finding in findings:
        counts[finding.severity.value] += 1
    return counts


SEVERITY_MIDPOINT = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 7.95,
    Severity.MEDIUM: 5.45,
    Severity.LOW: 2.0,
    Severity.UNKNOWN: 5.0,
}
"""The CVSS weight of a finding without a score: the middle of its level's CVSS range (unknown: the scale's middle)."""


def risk_value(finding: Finding) -> float | None:
    """Severity weight (the CVSS score when known, else the level's midpoint) x EPSS probability; None without EPSS."""
    if finding.epss is None:
        return None
    weight = finding.score if finding.score is not None else SEVERITY_MIDPOINT[finding.severity]
    return weight * finding.epss.score


def sort_findings(findings: list[Finding]) -> tuple[Finding, ...]:
    """Riskiest first, in a stable order clients can diff.

    1. Findings in CISA's KEV catalogue (exploited in the wild) before the others.
    2. Within each group, findings with an EPSS score before those without, by risk value
       (`risk_value`: CVSS score, or the level's midpoint, x EPSS probability), highest first.
    3. Then as before enrichment: most severe level first, higher CVSS score, package name,
       package version, advisory id. Without any EPSS or KEV data this is the whole order.
    """
    rank = {level: n for n, level in enumerate(SEVERITY_ORDER)}

    def key(f: Finding) -> tuple[int, int, float, int, float, str, str, str]:
        risk = risk_value(f)
        return (
            0 if f.kev is not None else 1,
            0 if risk is not None else 1,
            -(risk or 0.0),
            rank[f.severity],
            -(f.score or 0.0),
            f.package.name,
            f.package.version,
            f.id,
        )

    return tuple(sorted(findings, key=key))


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
