"""SARIF 2.1.0 (`?format=sarif`): the findings of a scan as a static-analysis log for code scanning.

One rule per advisory (its summary, the affected packages and references as help, `security-severity` as
GitHub reads it: the CVSS base score as a string), one result per finding located at the lockfile (the
package's line when the parser knew it, else line 1) or, for an image, at the path in the image where the
package database was found (the layer in the result's properties). Findings the tenant suppressed (ignore
rules, VEX `not_affected` / `fixed`) are results with an external, accepted `suppression` saying why, so a
code-scanning dashboard shows them closed; a VEX `affected` / `under_investigation` note is in the result's
properties. What was not scanned (unscannable
entries, content not looked into) is reported as tool notifications of the run, so a clean log does not
claim more than the scan covered.

No library: the SARIF Python packages (`sarif-om`) are object models without a serializer or a release since
2019; the log is a plain JSON document, checked against the OASIS schema in the tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import msgspec

from secapi.adapters.formats._scans import (
    TOOL_NAME,
    TOOL_URL,
    Place,
    Subject,
    advisory_url,
    by_advisory,
    companions_of,
    http_urls,
    place_of,
    produced_at,
    result_of,
    subject_of,
    tool_version,
    weak_ecosystems,
)
from secapi.domain.findings import (
    SEVERITY_MIDPOINT,
    Finding,
    ScanResult,
    SuppressedBy,
    SuppressedFinding,
    VexAnnotation,
)
from secapi.domain.model import Scan
from secapi.domain.ports import ResultFormat
from secapi.domain.severity import Severity

MEDIA_TYPE = "application/sarif+json"
SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"

_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.UNKNOWN: "warning",  # not known to be minor (a malicious package's record often has no severity)
}
FINGERPRINT_KEY = "secapiFinding/v1"
"""The `partialFingerprints` key: advisory, package and place, so an alert keeps its identity across scans."""


class SarifFormat(ResultFormat):
    """Writes a scan as a SARIF 2.1.0 log that GitHub code scanning accepts."""

    name = "sarif"
    media_type = MEDIA_TYPE
    any_state = False

    def render(self, scan: Scan) -> bytes:
        return msgspec.json.encode(sarif_log(scan))


def sarif_log(scan: Scan) -> dict[str, Any]:
    """The SARIF log of a completed scan, as a JSON-ready dict."""
    result = result_of(scan)
    subject = subject_of(scan, result)
    companions = companions_of(scan)
    rules: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    notes = {(n.finding, n.package.ecosystem, n.package.name, n.package.version): n for n in result.vex}
    for index, (advisory, findings) in enumerate(by_advisory((*result.vulnerabilities, *result.suppressed))):
        rules.append(_rule(advisory, findings))
        for finding in findings:
            place = place_of(finding.location, subject, companions)
            package = finding.package
            note = notes.get((finding.id, package.ecosystem, package.name, package.version))
            results.append(_result(finding, index, place, subject, note))
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": tool_version(),
                "semanticVersion": tool_version(),
                "informationUri": TOOL_URL,
                "rules": rules,
            }
        },
        "invocations": [_invocation(scan, result, subject, companions)],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": _run_properties(scan, result, subject),
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def security_severity(findings: Iterable[Finding]) -> str | None:
    """GitHub's `security-severity`: the highest CVSS score of the advisory's findings; for a level without
    a score the middle of its CVSS range; None when nothing at all is known of its severity."""
    weights = [
        f.score if f.score is not None else SEVERITY_MIDPOINT[f.severity]
        for f in findings
        if f.score is not None or f.severity is not Severity.UNKNOWN
    ]
    return f"{max(weights):.1f}" if weights else None


def _most_severe(findings: list[Finding]) -> Finding:
    order = list(_LEVELS)
    return min(findings, key=lambda f: (order.index(f.severity), -(f.score or 0.0)))


def _rule(advisory: str, findings: list[Finding]) -> dict[str, Any]:
    first = _most_severe(findings)
    summary = first.summary.strip() or f"{advisory} affects {first.package.name}"
    properties: dict[str, Any] = {
        "tags": ["security", "vulnerability", first.severity.value.lower(), first.package.ecosystem],
        "precision": "very-high",
    }
    score = security_severity(findings)
    if score is not None:
        properties["security-severity"] = score
    if first.aliases:
        properties["aliases"] = list(first.aliases)
    return {
        "id": advisory,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": _full_description(advisory, first)},
        "helpUri": advisory_url(advisory),
        "help": {"text": _help_text(advisory, findings), "markdown": _help_markdown(advisory, findings)},
        "defaultConfiguration": {"level": _LEVELS[first.severity]},
        "properties": properties,
    }


def _full_description(advisory: str, finding: Finding) -> str:
    aliases = f" (also {', '.join(finding.aliases)})" if finding.aliases else ""
    return f"{advisory}{aliases}: {finding.summary.strip() or 'no summary published'}"


def _severity_text(finding: Finding) -> str:
    if finding.score is None:
        return finding.severity.value
    vector = f", {finding.vector}" if finding.vector else ""
    return f"{finding.severity.value} (CVSS {finding.score:.1f}{vector})"


def _fix_text(finding: Finding) -> str:
    if finding.fixed_versions:
        return f"fixed in {', '.join(finding.fixed_versions)}"
    return "no fixed version is known"


def _help_text(advisory: str, findings: list[Finding]) -> str:
    first = _most_severe(findings)
    lines = [_full_description(advisory, first), "", f"Severity: {_severity_text(first)}", "Affected packages:"]
    lines += [f"- {f.package.name} {f.installed_version} ({f.package.ecosystem}): {_fix_text(f)}" for f in findings]
    links = [advisory_url(advisory), *http_urls(first.references)]
    lines += ["", "References:", *(f"- {url}" for url in dict.fromkeys(links))]
    return "\n".join(lines)


def _markdown(text: str) -> str:
    """Text shown as is in Markdown: characters that would format or link are escaped."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>" else c for c in text)


def _help_markdown(advisory: str, findings: list[Finding]) -> str:
    first = _most_severe(findings)
    lines = [
        f"**{_markdown(advisory)}**: {_markdown(first.summary.strip() or 'no summary published')}",
        "",
        f"Severity: {_markdown(_severity_text(first))}",
        "",
        "| Package | Installed | Fixed in |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {_markdown(f.package.name)} | {_markdown(f.installed_version)} | "
        f"{_markdown(', '.join(f.fixed_versions) or 'no fix known')} |"
        for f in findings
    ]
    links = [advisory_url(advisory), *http_urls(first.references)]
    lines += ["", *(f"- <{url}>" for url in dict.fromkeys(links) if ">" not in url and " " not in url)]
    return "\n".join(lines)


def _uri(path: str) -> str:
    return quote(path, safe="/@:+,;=-._~")


def _physical(place: Place) -> dict[str, Any]:
    return {"artifactLocation": {"uri": _uri(place.path)}, "region": {"startLine": place.line or 1}}


def _suppression(by: SuppressedBy) -> dict[str, Any]:
    """A finding the tenant suppressed, as SARIF says it: suppressed outside the source, accepted, and why."""
    if by.kind == "vex":
        why = f"VEX document {by.id}, statement {by.statement} ({by.status}): {by.reason}"
    else:
        until = f" (until {by.expires_at.isoformat()})" if by.expires_at is not None else ""
        why = f"ignore rule {by.id}{until}: {by.reason}"
    return {"kind": "external", "status": "accepted", "justification": why}


def _result(
    finding: Finding, rule_index: int, place: Place, subject: Subject, note: VexAnnotation | None = None
) -> dict[str, Any]:
    package = finding.package
    kev = " It is in CISA's Known Exploited Vulnerabilities catalogue." if finding.kev is not None else ""
    message = (
        f"{package.name} {finding.installed_version} is affected by {finding.id}, "
        f"severity {_severity_text(finding)}: {_fix_text(finding)}.{kev}"
    )
    fingerprint = hashlib.sha256(
        "\0".join((finding.id, package.ecosystem, package.name, finding.installed_version, place.path)).encode()
    ).hexdigest()
    properties: dict[str, Any] = {
        "package": package.name,
        "installedVersion": finding.installed_version,
        "ecosystem": package.ecosystem,
        "fixedVersions": list(finding.fixed_versions),
        "severity": finding.severity.value,
    }
    if package.purl:
        properties["purl"] = package.purl
    if finding.vector:
        properties["cvssVector"] = finding.vector
    if finding.epss is not None:
        properties["epss"] = finding.epss.score
    if finding.kev is not None:
        properties["kev"] = True
    if place.layer is not None:
        properties["imageLayer"] = place.layer
        properties["image"] = subject.name
    if note is not None:
        properties["vexStatus"] = note.status
        properties["vexStatement"] = f"{note.document}#{note.statement}"
    result: dict[str, Any] = {
        "ruleId": finding.id,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": message},
        "locations": [{"physicalLocation": _physical(place)}],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
        "properties": properties,
    }
    if isinstance(finding, SuppressedFinding):
        result["suppressions"] = [_suppression(finding.suppressed_by)]
    return result


def _invocation(scan: Scan, result: ScanResult, subject: Subject, companions: tuple[str, ...]) -> dict[str, Any]:
    notifications: list[dict[str, Any]] = []
    for entry in result.unscannable:
        note: dict[str, Any] = {
            "level": "warning",
            "message": {"text": f"not scanned: {entry.name}: {entry.reason}"},
            "descriptor": {"id": "unscannable"},
        }
        if entry.location is not None:
            note["locations"] = [{"physicalLocation": _physical(place_of(entry.location, subject, companions))}]
        notifications.append(note)
    for item in result.unscanned:
        notifications.append(
            {
                "level": "warning",
                "message": {"text": f"not looked into ({item.kind}): {item.path}: {item.reason}"},
                "descriptor": {"id": "unscanned"},
                "locations": [{"physicalLocation": _physical(place_of(item.path, subject, companions))}],
            }
        )
    notifications += [
        {"level": "warning", "message": {"text": f"weaker data for {ecosystem}: {why}"}, "descriptor": {"id": "vulndb"}}
        for ecosystem, why in weak_ecosystems(result)
    ]
    invocation: dict[str, Any] = {
        "executionSuccessful": True,
        "endTimeUtc": produced_at(scan).isoformat().replace("+00:00", "Z"),
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def _run_properties(scan: Scan, result: ScanResult, subject: Subject) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "scanId": str(scan.id),
        "scanType": scan.scan_type.value,
        "target": subject.name,
        "packages": len(result.packages),
        "vulndbVersion": result.vulndb_version,
    }
    if subject.version is not None:
        properties["manifestDigest"] = subject.version
    if result.vulndb is not None and result.vulndb.updated_at is not None:
        properties["vulndbUpdatedAt"] = result.vulndb.updated_at.isoformat()
    return properties
