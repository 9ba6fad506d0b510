"""A report for people: one scan as a self-contained HTML page.

The page needs nothing but itself — inline CSS, an inline SVG chart, no script,
no font, no image fetched — so a CI job can keep it as an artefact and a log
can link to it. A `Content-Security-Policy` meta element forbids every fetch and
every script, so even a mistake in escaping could not run anything.

Every string that comes from a scan is hostile input: package names, versions,
advisory ids and summaries, file names, image references, error messages. Each
one passes through `_text` (HTML-escaped, quotes included) on its way into the
page, and a link is only made of an `http`/`https` URL; anything else is shown
as text. Markup is written only by this module.

A clean answer must be earned, so an empty report says what was looked at (how
many packages, which ecosystems, which database) and what was not (unscannable
entries, content not looked into, ecosystems the database is weak on, findings this
tenant suppressed — listed with the ignore rule or VEX statement that moved each aside).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from secapi.domain.findings import (
    SEVERITY_ORDER,
    Finding,
    ScanResult,
    SuppressedBy,
    VexAnnotation,
    VulnDbInfo,
    severity_counts,
)
from secapi.domain.model import Scan, ScanStatus
from secapi.domain.scan_inputs import ArchiveImageInput, LockfileScanInput, RegistryImageInput, SbomScanInput
from secapi.domain.severity import Severity

MEDIA_TYPE = "text/html; charset=utf-8"

OSV_VULNERABILITY_URL = "https://osv.dev/vulnerability/"

SEVERITY_COLOURS = {
    Severity.CRITICAL: "#8b1a1a",
    Severity.HIGH: "#d9480f",
    Severity.MEDIUM: "#e6a700",
    Severity.LOW: "#2f7d32",
    Severity.UNKNOWN: "#6c757d",
}

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1d2127; background: #f6f7f9; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.6em; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 1.2em; margin: 28px 0 10px; border-bottom: 1px solid #d5d9df; padding-bottom: 4px; }
h3 { font-size: 1.02em; margin: 18px 0 6px; overflow-wrap: anywhere; }
section { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; padding: 4px 18px 16px; margin-top: 18px; }
table { border-collapse: collapse; width: 100%; font-size: 0.93em; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid #eceef1;
  overflow-wrap: anywhere; }
th { background: #f3f4f6; font-weight: 600; overflow-wrap: normal; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 8px 0; }
dl.facts dt { font-weight: 600; color: #4a5360; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
code { font: 0.92em ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
.status { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff; font-weight: 600;
  font-size: 0.85em; text-transform: uppercase; letter-spacing: 0.03em; }
.status-completed { background: #2f7d32; } .status-failed { background: #8b1a1a; }
.status-queued, .status-running { background: #6c757d; }
.sev { display: inline-block; white-space: nowrap; min-width: 5.5em; text-align: center; padding: 1px 6px;
  border-radius: 4px; color: #fff; font-size: 0.8em; font-weight: 700; }
.sev-MEDIUM { color: #1d2127; }
.kev { color: #8b1a1a; font-weight: 700; }
.vex { color: #4a5360; font-style: italic; }
.notice { border-left: 4px solid #d9480f; background: #fff4ec; padding: 8px 12px; margin: 10px 0; }
.error { border-left: 4px solid #8b1a1a; background: #fdecec; padding: 10px 14px; margin: 10px 0;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.clean { border-left: 4px solid #2f7d32; background: #eef7ee; padding: 10px 14px; margin: 10px 0; }
.muted { color: #5f6873; }
ul.refs { margin: 4px 0 0; padding-left: 18px; }
footer { margin-top: 28px; color: #5f6873; font-size: 0.85em; }
"""

_CSS += "".join(f".sev-{level.value} {{ background: {colour}; }}\n" for level, colour in SEVERITY_COLOURS.items())

# default-src 'none' forbids every fetch (and script); inline styles are the page's only other need.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


class HtmlReport:
    """The `html` output format: a self-contained page for people (see the module's docstring)."""

    name = "html"
    media_type = MEDIA_TYPE
    any_state = True

    def render(self, scan: Scan) -> bytes:
        """The page for `scan`, UTF-8 encoded."""
        return render_html_report(scan).encode("utf-8")


def render_html_report(scan: Scan) -> str:
    """The self-contained HTML page of `scan`, whatever its status."""
    result = scan.result
    title = f"SecAPI scan report: {scan.input_data.label or scan.id}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_text(_CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_text(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        _header(scan),
        _scanned_section(scan),
    ]
    if scan.status is ScanStatus.FAILED:
        parts.append(_failed_section(scan))
    elif result is None:
        parts.append(_no_result_section(scan))
    else:
        parts.extend(_result_sections(scan, result))
    parts.extend(
        [
            f"<footer>Generated by SecAPI from scan <code>{_text(scan.id)}</code>. "
            "This page is self-contained: it loads nothing and runs no script.</footer>",
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )
    return "\n".join(parts)


# --- sections -------------------------------------------------------------------------------------------------------


def _header(scan: Scan) -> str:
    label = scan.input_data.label or "(unnamed input)"
    status = scan.status.value
    return (
        f'<header><h1 id="title">{_text(label)}</h1>'
        f'<p>SecAPI scan report · <span class="status status-{_text(status)}" id="status">{_text(status)}</span>'
        f" · scan <code>{_text(scan.id)}</code></p></header>"
    )


def _scanned_section(scan: Scan) -> str:
    facts: list[tuple[str, str]] = []
    source = scan.input_data
    result = scan.result
    if isinstance(source, LockfileScanInput):
        facts.append(("Scanned", "a lockfile"))
        facts.append(("File", f"<code>{_text(source.filename)}</code>"))
        facts.append(("SHA-256", f"<code>{_text(source.sha256)}</code>"))
        facts.append(("Size", f"{_text(_bytes(source.size))}"))
        for companion in source.companions:
            facts.append(
                ("With", f"<code>{_text(companion.filename)}</code> (SHA-256 <code>{_text(companion.sha256)}</code>)")
            )
    elif isinstance(source, ArchiveImageInput):
        facts.append(("Scanned", "an uploaded image archive"))
        facts.append(("Archive", f"<code>{_text(source.archive)}</code>"))
        facts.append(("Archive SHA-256", f"<code>{_text(source.archive_sha256)}</code>"))
        facts.append(("Archive size", _text(_archive_size(source.archive_size))))
        facts.append(("Image", f"<code>{_text(source.image)}</code>"))
    elif isinstance(source, RegistryImageInput):
        facts.append(("Scanned", "a registry image"))
        facts.append(("Image", f"<code>{_text(source.image)}</code>"))
        if source.platform:
            facts.append(("Requested platform", f"<code>{_text(source.platform)}</code>"))
    elif isinstance(source, SbomScanInput):
        facts.append(("Scanned", "an SBOM"))
        if source.filename:
            facts.append(("File", f"<code>{_text(source.filename)}</code>"))
        facts.append(("Format", f"<code>{_text(source.format)}</code>"))
        facts.append(("SHA-256", f"<code>{_text(source.sha256)}</code>"))
        facts.append(("Size", _text(_bytes(source.size))))
    else:
        facts.append(("Scanned", _text(scan.scan_type.value)))
    if result is not None and result.image is not None:
        image = result.image
        facts.append(("Manifest digest", f"<code>{_text(image.manifest_digest)}</code>"))
        facts.append(("Platform", f"<code>{_text(image.platform)}</code>"))
        facts.append(("Operating system", _text(image.os or "not identified")))
        facts.append(("Layers", _text(len(image.layers))))
    facts.append(("Scan id", f"<code>{_text(scan.id)}</code>"))
    facts.append(("Status", _text(scan.status.value)))
    facts.append(("Requested", _text(_when(scan.created_at))))
    if scan.started_at is not None:
        facts.append(("Started", _text(_when(scan.started_at))))
    if scan.finished_at is not None:
        facts.append(("Finished", _text(_when(scan.finished_at))))
    if scan.duration_ms is not None:
        facts.append(("Duration", _text(_duration(scan.duration_ms))))
    return '<section id="scanned"><h2>What was scanned</h2>' + _facts(facts) + "</section>"


def _failed_section(scan: Scan) -> str:
    reason = scan.error or "no reason was recorded"
    return (
        '<section id="failure"><h2>The scan failed</h2>'
        f'<div class="error" id="error">{_text(reason)}</div>'
        "<p>No result: nothing can be said about vulnerabilities in this input.</p></section>"
    )


def _no_result_section(scan: Scan) -> str:
    if scan.status is ScanStatus.COMPLETED:
        reason = scan.error or "the result is not available"
        return (
            '<section id="failure"><h2>No result to show</h2>'
            f'<div class="error" id="error">{_text(reason)}</div></section>'
        )
    return (
        '<section id="pending"><h2>Not finished yet</h2>'
        f"<p>The scan is {_text(scan.status.value)}; its result is not available yet.</p></section>"
    )


def _result_sections(scan: Scan, result: ScanResult) -> list[str]:
    return [
        _database_section(scan, result),
        _summary_section(result),
        _findings_section(result.vulnerabilities, result.vex),
        _informational_section(result.informational),
        _suppressed_section(result),
        _not_scanned_section(result),
        _packages_section(result),
    ]


def _database_section(scan: Scan, result: ScanResult) -> str:
    info: VulnDbInfo | None = result.vulndb
    version = info.version if info is not None else result.vulndb_version
    facts = [("Version", _text(version))]
    if info is not None and info.updated_at is not None:
        at = scan.finished_at or scan.created_at
        facts.append(("Updated", _text(_when(info.updated_at))))
        facts.append(("Age", f'<span id="vulndb-age">{_text(_age(info.updated_at, at))}</span>'))
    else:
        facts.append(("Updated", "not recorded"))
    body = _facts(facts)
    if info is not None and info.ecosystems:
        rows = [
            (
                _text(cover.ecosystem),
                _text("not recorded" if cover.advisories is None else cover.advisories),
                f"<code>{_text(cover.version_order)}</code>",
                _text(cover.note or ""),
            )
            for cover in info.ecosystems
        ]
        body += _table(("Ecosystem", "Advisories", "Version order", "Note"), rows)
    return '<section id="vulndb"><h2>Vulnerability database</h2>' + body + "</section>"


def _summary_section(result: ScanResult) -> str:
    counts = severity_counts(result.vulnerabilities)
    total = len(result.vulnerabilities)
    packages = len(result.packages)
    parts = ['<section id="summary"><h2>Summary</h2>', _severity_chart(counts)]
    affected = len({_package_key(f) for f in result.vulnerabilities})
    if total:
        parts.append(
            f'<p id="verdict"><strong>{_text(_plural(total, "vulnerability", "vulnerabilities"))}</strong> '
            f"in {_text(_plural(affected, 'package'))} of {_text(_plural(packages, 'package'))} scanned"
            + (f"; {_text(len(result.suppressed))} more suppressed (see below)" if result.suppressed else "")
            + ".</p>"
        )
    else:
        parts.append(_clean_verdict(result))
    risk = result.risk
    if risk is not None:
        facts = [
            ("Known exploited (CISA KEV)", _text(risk.kev) if risk.kev_loaded else "KEV catalogue not loaded"),
            (
                "EPSS ≥ 10 %",
                _text(risk.epss_at_least_0_1) if risk.epss_loaded else "EPSS scores not loaded",
            ),
        ]
        if risk.kev_ransomware:
            facts.append(("Known ransomware use", _text(risk.kev_ransomware)))
        parts.append(_facts(facts))
        if risk.note:
            parts.append(f'<p class="muted">{_text(risk.note)}</p>')
    parts.append("</section>")
    return "".join(parts)


def _clean_verdict(result: ScanResult) -> str:
    """What a result without vulnerabilities does and does not say."""
    packages = len(result.packages)
    if packages == 0:
        headline = "No packages were found, so nothing was matched against the database."
        css = "notice"
    else:
        ecosystems = ", ".join(result.ecosystems) or "no ecosystem"
        headline = (
            f"No known vulnerabilities in the {_plural(packages, 'package')} scanned ({ecosystems}), "
            "as far as the database below knows."
        )
        css = "clean"
    caveats = []
    if result.unscannable:
        caveats.append(f"{_plural(len(result.unscannable), 'entry', 'entries')} could not be scanned")
    if result.unscanned:
        caveats.append(f"{_plural(len(result.unscanned), 'item')} seen but not looked into")
    if result.suppressed:
        caveats.append(f"{_plural(len(result.suppressed), 'finding')} suppressed by this account's rules")
    weak = [cover.ecosystem for cover in (result.vulndb.ecosystems if result.vulndb else ()) if cover.note]
    if weak:
        caveats.append(f"the database's answer is weaker for {', '.join(weak)}")
    if caveats:
        css = "notice"
    text = f'<div class="{css}" id="verdict"><strong>{_text(headline)}</strong>'
    if caveats:
        text += f"<br>This does not cover everything: {_text('; '.join(caveats))} (see below)."
    return text + "</div>"


def _severity_chart(counts: dict[str, int]) -> str:
    """Horizontal bars, one per severity level, as inline SVG (with the counts as text for screen readers)."""
    bar_left, bar_width, row_height, width = 96, 300, 30, 460
    top = max(counts.values(), default=0) or 1
    height = row_height * len(SEVERITY_ORDER) + 8
    label = ", ".join(f"{level.value.lower()} {counts.get(level.value, 0)}" for level in SEVERITY_ORDER)
    rows = []
    for n, level in enumerate(SEVERITY_ORDER):
        count = counts.get(level.value, 0)
        y = 4 + n * row_height
        length = round(bar_width * count / top) if count else 0
        rows.append(
            f'<text x="{bar_left - 8}" y="{y + 19}" text-anchor="end" font-size="13" fill="#1d2127">'
            f"{_text(level.value.title())}</text>"
            f'<rect x="{bar_left}" y="{y + 4}" width="{bar_width}" height="20" fill="#eef0f3" rx="3"/>'
            f'<rect class="bar" data-severity="{_text(level.value)}" x="{bar_left}" y="{y + 4}" width="{length}" '
            f'height="20" fill="{SEVERITY_COLOURS[level]}" rx="3"/>'
            f'<text x="{bar_left + bar_width + 10}" y="{y + 19}" font-size="13" font-weight="600" '
            f'fill="#1d2127">{count}</text>'
        )
    return (
        f'<svg id="severity-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_text("Findings by severity: " + label)}">'
        f"<title>{_text('Findings by severity: ' + label)}</title>" + "".join(rows) + "</svg>"
    )


def _findings_section(findings: Sequence[Finding], vex: Sequence[VexAnnotation] = ()) -> str:
    if not findings:
        return '<section id="findings"><h2>Vulnerabilities by package</h2><p>None found.</p></section>'
    notes: dict[tuple[str, str, str], list[VexAnnotation]] = {}
    for note in vex:
        notes.setdefault((note.finding, note.package.name, note.package.version), []).append(note)
    parts = ['<section id="findings"><h2>Vulnerabilities by package</h2>']
    for key, group in _by_package(findings):
        ecosystem, name, version = key
        fixes = sorted({v for f in group for v in f.fixed_versions})
        unfixed = sum(1 for f in group if not f.fixed_versions)
        if not fixes:
            fix_note = " · no fixed version known"
        else:
            fix_note = " · fixed versions: " + _text(", ".join(fixes))
            if unfixed:
                fix_note += f" ({_text(unfixed)} without a known fix)"
        parts.append(
            f'<div class="package"><h3><code>{_text(name)}</code> {_text(version)} '
            f'<span class="muted">({_text(ecosystem)})</span> — {_text(_plural(len(group), "advisory", "advisories"))}'
            f"{fix_note}</h3>"
        )
        rows = [_finding_row(f, notes.get((f.id, f.package.name, f.package.version), ())) for f in group]
        parts.append(_table(("Advisory", "Severity", "Fixed in", "Exploit risk", "Summary and references"), rows))
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def _finding_row(finding: Finding, vex: Sequence[VexAnnotation] = ()) -> tuple[str, ...]:
    advisory = _advisory_link(finding.id)
    if finding.aliases:
        advisory += '<br><span class="muted">' + ", ".join(_text(a) for a in finding.aliases) + "</span>"
    severity = f'<span class="sev sev-{_text(finding.severity.value)}">{_text(finding.severity.value)}</span>'
    if finding.score is not None:
        severity += f"<br>CVSS {_text(f'{finding.score:.1f}')}"
    fixed = _text(", ".join(finding.fixed_versions)) if finding.fixed_versions else '<span class="muted">none</span>'
    risk = []
    if finding.kev is not None:
        kev = f'<span class="kev">Known exploited</span> (KEV, added {_text(finding.kev.date_added.isoformat())}'
        if finding.kev.known_ransomware_use:
            kev += ", ransomware use"
        risk.append(kev + ")")
    if finding.epss is not None:
        risk.append(
            f"EPSS {_text(f'{finding.epss.score * 100:.1f}')} % "
            f"(percentile {_text(f'{finding.epss.percentile * 100:.0f}')})"
        )
    summary = _text(finding.summary) if finding.summary else '<span class="muted">no summary</span>'
    if finding.location:
        summary += f'<br><span class="muted">at <code>{_text(finding.location)}</code></span>'
    summary += _vex_notes(vex) + _references(finding)
    return (advisory, severity, fixed, "<br>".join(risk) or '<span class="muted">—</span>', summary)


def _informational_section(findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    rows = [
        (
            _advisory_link(f.id),
            _text(f.informational or "notice"),
            f"<code>{_text(f.package.name)}</code> {_text(f.installed_version)}",
            _text(f.summary) + _references(f),
        )
        for f in findings
    ]
    return (
        '<section id="informational"><h2>Informational advisories</h2>'
        '<p class="muted">Unmaintained, unsound or notice advisories: listed, not counted as vulnerabilities.</p>'
        + _table(("Advisory", "Kind", "Package", "Summary"), rows)
        + "</section>"
    )


def _suppressed_section(result: ScanResult) -> str:
    """Findings the tenant's ignore rules or VEX statements moved aside, each with what moved it."""
    if not result.suppressed:
        return ""
    rows = [
        (
            _advisory_link(entry.id),
            f"<code>{_text(entry.package.name)}</code> {_text(entry.installed_version)}",
            f'<span class="sev sev-{_text(entry.severity.value)}">{_text(entry.severity.value)}</span>',
            _suppressed_by(entry.suppressed_by),
        )
        for entry in result.suppressed
    ]
    return (
        '<section id="suppressed"><h2>Suppressed findings</h2>'
        '<p class="muted">Moved aside by this account\'s ignore rules or VEX statements; not counted above.</p>'
        + _table(("Advisory", "Package", "Severity", "Suppressed by"), rows)
        + "</section>"
    )


def _suppressed_by(by: SuppressedBy) -> str:
    if by.kind == "vex":
        what = f"VEX document <code>{_text(by.id)}</code>"
        if by.statement is not None:
            what += f", statement {_text(by.statement)}"
        if by.status:
            what += f": {_text(by.status)}"
        if by.justification:
            what += f" ({_text(by.justification)})"
    else:
        what = f"ignore rule <code>{_text(by.id)}</code>"
    if by.reason:
        what += f"<br>{_text(by.reason)}"
    if by.expires_at is not None:
        what += f'<br><span class="muted">until {_text(_when(by.expires_at))}</span>'
    return what


def _vex_notes(annotations: Sequence[VexAnnotation]) -> str:
    """VEX statements (`affected`, `under_investigation`) about one listed finding."""
    notes = []
    for note in annotations:
        text = f"VEX: {_text(note.status)} (document <code>{_text(note.document)}</code>, statement {note.statement})"
        for extra in (note.status_notes, note.action_statement):
            if extra:
                text += f" — {_text(extra)}"
        notes.append(f'<br><span class="vex">{text}</span>')
    return "".join(notes)


def _not_scanned_section(result: ScanResult) -> str:
    parts = ['<section id="not-scanned"><h2>Not scanned</h2>']
    if not result.unscannable and not result.unscanned:
        parts.append("<p>Every entry found was scanned.</p></section>")
        return "".join(parts)
    if result.unscannable:
        parts.append(
            "<h3>Unscannable entries</h3>"
            '<p class="muted">Named a package SecAPI could not match: no exact version, a local path, '
            "a git source, a line that could not be parsed.</p>"
        )
        parts.append(
            _table(
                ("Name", "Location", "Reason"),
                [
                    (f"<code>{_text(u.name)}</code>", f"<code>{_text(u.location or '')}</code>", _text(u.reason))
                    for u in result.unscannable
                ],
            )
        )
    if result.unscanned:
        parts.append(
            "<h3>Seen but not looked into</h3>"
            '<p class="muted">No finding can come from this content; a clean answer does not cover it.</p>'
        )
        parts.append(
            _table(
                ("Path", "Kind", "Reason"),
                [
                    (f"<code>{_text(u.path)}</code>", f"<code>{_text(u.kind)}</code>", _text(u.reason))
                    for u in result.unscanned
                ],
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _packages_section(result: ScanResult) -> str:
    if not result.packages:
        return ""
    rows = [
        (
            f"<code>{_text(p.name)}</code>",
            _text(p.version),
            _text(p.ecosystem),
            f"<code>{_text(p.location or '')}</code>",
        )
        for p in result.packages
    ]
    return (
        f'<section id="packages"><h2>Packages scanned ({_text(len(result.packages))})</h2>'
        f"<details><summary>Show all {_text(len(result.packages))}</summary>"
        + _table(("Name", "Version", "Ecosystem", "Found at"), rows)
        + "</details></section>"
    )


# --- pieces ---------------------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    """`value` as HTML text or attribute content: &, <, >, " and ' escaped."""
    return html.escape(str(value), quote=True)


def _facts(facts: Sequence[tuple[str, str]]) -> str:
    """A definition list; the terms are this module's own words, the values already markup."""
    return '<dl class="facts">' + "".join(f"<dt>{term}</dt><dd>{value}</dd>" for term, value in facts) + "</dl>"


def _table(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table; the headings are this module's own words, the cells already markup."""
    head = "".join(f"<th>{h}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _advisory_link(advisory_id: str) -> str:
    """The advisory id linked to its page on osv.dev (the id percent-encoded into the path)."""
    url = OSV_VULNERABILITY_URL + quote(advisory_id, safe="")
    return f'<a href="{_text(url)}" rel="noopener noreferrer"><code>{_text(advisory_id)}</code></a>'


def _references(finding: Finding) -> str:
    """The finding's references: http(s) URLs as links, anything else as text."""
    if not finding.references:
        return ""
    items = []
    for ref in finding.references:
        if _is_web_url(ref):
            items.append(f'<li><a href="{_text(ref)}" rel="noopener noreferrer">{_text(ref)}</a></li>')
        else:
            items.append(f"<li>{_text(ref)}</li>")
    return '<ul class="refs">' + "".join(items) + "</ul>"


def _is_web_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in value)


PackageKey = tuple[str, str, str]


def _package_key(finding: Finding) -> PackageKey:
    return (finding.package.ecosystem, finding.package.name, finding.installed_version)


def _by_package(findings: Sequence[Finding]) -> list[tuple[PackageKey, list[Finding]]]:
    """Findings grouped by installed package, the groups in the order of their riskiest finding (the result's
    order is riskiest first), the findings within a group in the result's order."""
    groups: dict[PackageKey, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(_package_key(finding), []).append(finding)
    return list(groups.items())


def _when(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(updated_at: datetime, at: datetime) -> str:
    """How old the database was at `at` (the scan's finish): "3 days old", "less than a day old"."""
    if updated_at.tzinfo is None:
        updated_at = updated_at.replace(tzinfo=UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    days = (at - updated_at).days
    if days < 1:
        return "less than a day old when scanned"
    return f"{_plural(days, 'day')} old when scanned"


def _duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _bytes(size: int) -> str:
    if size < 1024:
        return _plural(size, "byte")
    value = size / 1024
    unit = "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit} ({size:,} bytes)"


def _archive_size(size: str) -> str:
    return _bytes(int(size)) if size.isdigit() else size


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"
