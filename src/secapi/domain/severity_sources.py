"""A finding's severity when its own record has no score: borrowed from records that share an alias.

Most PyPA (PYSEC) and all Go vulndb records carry no CVSS vector, while the
GHSA or CVE record describing the same flaw does. The order, first that
applies wins:

1. the finding's own CVSS score;
2. a CVSS score of a related record (same id among aliases, or a shared
   alias: GHSA <-> PYSEC <-> CVE <-> GO);
3. the finding's own label (`database_specific.severity`, Debian urgency, ...);
4. a related record's label;
5. UNKNOWN.

Among several related records at one step, the most severe wins (then the
higher score, then the id, so answers are stable): two databases that
disagree about one flaw should not let a scanner under-report it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import msgspec

from secapi.domain.advisories import RelatedSeverity
from secapi.domain.findings import Finding, SeveritySource
from secapi.domain.severity import Severity

_RANK = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1, Severity.UNKNOWN: 0}


def needs_borrowing(finding: Finding) -> bool:
    """True when the finding's own record has no CVSS score."""
    return finding.score is None


def identifiers(findings: Iterable[Finding]) -> set[str]:
    """Every id and alias of `findings`: what related records are looked up by."""
    return {name for finding in findings for name in (finding.id, *finding.aliases)}


def index_related(related: Iterable[RelatedSeverity]) -> dict[str, list[RelatedSeverity]]:
    """Related records by each name they answer to (their id and their aliases), for `resolve`."""
    index: dict[str, list[RelatedSeverity]] = defaultdict(list)
    for record in related:
        for name in {record.id, *record.aliases}:
            index[name].append(record)
    return index


def _most_severe(records: Iterable[RelatedSeverity]) -> RelatedSeverity | None:
    ranked = sorted(records, key=lambda r: (-_RANK[r.severity], -(r.score or 0.0), r.id))
    return ranked[0] if ranked else None


def resolve(finding: Finding, related: Mapping[str, Sequence[RelatedSeverity]]) -> Finding:
    """`finding` with its severity (and score, vector) settled by the module's order, and its source named.

    `related` is `index_related` of the records found for the findings' identifiers.
    """
    if finding.score is not None:
        return msgspec.structs.replace(finding, severity_source=SeveritySource(advisory=finding.id, basis="cvss"))
    others_by_id = {r.id: r for name in (finding.id, *finding.aliases) for r in related.get(name, ())}
    others_by_id.pop(finding.id, None)
    others = list(others_by_id.values())
    scored = _most_severe(r for r in others if r.score is not None)
    if scored is not None:
        return msgspec.structs.replace(
            finding,
            severity=scored.severity,
            score=scored.score,
            vector=scored.vector,
            severity_source=SeveritySource(advisory=scored.id, basis="cvss"),
        )
    if finding.severity is not Severity.UNKNOWN:
        return msgspec.structs.replace(finding, severity_source=SeveritySource(advisory=finding.id, basis="label"))
    labelled = _most_severe(r for r in others if r.severity is not Severity.UNKNOWN)
    if labelled is not None:
        return msgspec.structs.replace(
            finding, severity=labelled.severity, severity_source=SeveritySource(advisory=labelled.id, basis="label")
        )
    return msgspec.structs.replace(finding, severity_source=SeveritySource(advisory=finding.id, basis="none"))
