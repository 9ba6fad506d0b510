"""The HTML report: escaping of hostile scan data, grouping by package, the clean, empty and failed pages.

The page is parsed back with the standard library's HTML parser, so the checks are on what a browser builds
(elements, attributes, text), not on substrings of the markup.
"""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from secapi.adapters.formats.html_report import HtmlReport, render_html_report
from secapi.domain.findings import ScanResult, Timings, severity_counts
from secapi.domain.model import ScanStatus
from secapi.domain.scan_inputs import ArchiveImageInput, SbomScanInput

from support.html_tree import parse
from support.report_scans import (
    FINISHED,
    HOSTILE_ERROR,
    HOSTILE_FILENAME,
    HOSTILE_PACKAGE,
    HOSTILE_REFERENCE,
    HOSTILE_SUMMARY,
    REQUESTED,
    empty_scan,
    failed_scan,
    scan_with_findings,
    suppressed_scan,
)

ALLOWED_TAGS = {
    "#document", "html", "head", "meta", "title", "style", "body", "main", "header", "footer", "section", "h1", "h2",
    "h3", "p", "span", "strong", "code", "a", "br", "div", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "th",
    "td", "ul", "li", "details", "summary", "svg", "text", "rect",
}  # fmt: skip


@pytest.mark.parametrize("make", [scan_with_findings, empty_scan, failed_scan, suppressed_scan])
def test_hostile_strings_stay_text(make: object) -> None:
    assert callable(make)
    page = render_html_report(make())
    tree = parse(page)

    assert {n.tag for n in tree.walk()} <= ALLOWED_TAGS  # no <script>, <img>, <iframe>, <b> smuggled in
    for node in tree.walk():
        assert not [name for name in node.attrs if name.startswith("on")], node
        assert "src" not in node.attrs  # nothing is fetched
        if node.tag == "a":
            assert node.attrs["href"].startswith(("https://", "http://")), node.attrs


def test_hostile_names_summaries_and_file_names_are_shown_as_written() -> None:
    tree = parse(render_html_report(scan_with_findings()))

    assert tree.by_id("title").text == HOSTILE_FILENAME
    assert tree.find_all("title")[0].text == f"SecAPI scan report: {HOSTILE_FILENAME}"
    findings = tree.by_id("findings").text
    assert HOSTILE_PACKAGE in findings
    assert HOSTILE_SUMMARY in findings
    # A javascript: reference is listed as text, never made a link.
    assert HOSTILE_REFERENCE in findings
    assert HOSTILE_REFERENCE not in [a.attrs["href"] for a in tree.find_all("a")]
    assert "https://github.com/advisories/GHSA-aaaa-bbbb-cccc" in [a.attrs["href"] for a in tree.find_all("a")]


def test_the_page_loads_nothing_and_runs_nothing() -> None:
    page = render_html_report(scan_with_findings())
    tree = parse(page)

    (csp,) = tree.find_all("meta", **{"http-equiv": "Content-Security-Policy"})
    assert "default-src 'none'" in csp.attrs["content"]
    assert not tree.find_all("script")
    assert not tree.find_all("link")
    assert "url(" not in page  # no CSS fetch either
    assert "@import" not in page


def test_findings_are_grouped_by_package_riskiest_package_first() -> None:
    tree = parse(render_html_report(scan_with_findings()))

    groups = [n for n in tree.by_id("findings").find_all("div") if n.attrs.get("class") == "package"]
    headings = [g.find_all("h3")[0].text for g in groups]
    advisories = [
        [row.find_all("td")[0].find_all("a")[0].text for row in g.find_all("tbody")[0].find_all("tr")] for g in groups
    ]

    assert len(groups) == 2
    assert headings[0].startswith(f"{HOSTILE_PACKAGE} 1.0.0 (PyPI) — 2 advisories")
    assert "fixed versions: 1.0.1, 1.2.0" in headings[0]
    assert headings[1].startswith("requests 2.0.0 (PyPI) — 2 advisories")
    assert "fixed versions: 2.31.0 (1 without a known fix)" in headings[1]
    assert advisories == [["GHSA-aaaa-bbbb-cccc", "PYSEC-2026-7"], ["GHSA-dddd-eeee-ffff", "GHSA-gggg-hhhh-iiii"]]


def test_advisories_link_to_osv_and_show_fixes_epss_and_kev() -> None:
    tree = parse(render_html_report(scan_with_findings()))
    row = tree.by_id("findings").find_all("tbody")[0].find_all("tr")[0]
    cells = [td.text for td in row.find_all("td")]

    assert row.find_all("a")[0].attrs["href"] == "https://osv.dev/vulnerability/GHSA-aaaa-bbbb-cccc"
    assert "CVE-2026-0001" in cells[0]
    assert cells[1] == "CRITICALCVSS 9.8"
    assert cells[2] == "1.0.1"
    assert "Known exploited (KEV, added 2026-11-01, ransomware use)" in cells[3]
    assert "EPSS 42.0 % (percentile 97)" in cells[3]


def test_an_advisory_id_is_percent_encoded_into_its_link() -> None:
    scan = scan_with_findings()
    assert scan.result is not None
    odd = msgspec.structs.replace(scan.result.vulnerabilities[0], id='X/../"y"?z=1')
    result = msgspec.structs.replace(scan.result, vulnerabilities=(odd,))
    tree = parse(render_html_report(dataclasses.replace(scan, result=result)))

    assert tree.by_id("findings").find_all("a")[0].attrs["href"] == (
        "https://osv.dev/vulnerability/X%2F..%2F%22y%22%3Fz%3D1"
    )


def test_summary_chart_bars_follow_the_counts() -> None:
    tree = parse(render_html_report(scan_with_findings()))
    bars = {
        r.attrs["data-severity"]: int(r.attrs["width"])
        for r in tree.by_id("severity-chart").find_all("rect")
        if "data-severity" in r.attrs
    }

    assert bars == {"CRITICAL": 300, "HIGH": 300, "MEDIUM": 300, "LOW": 300, "UNKNOWN": 0}
    assert tree.by_id("verdict").text == "4 vulnerabilities in 2 packages of 3 packages scanned."


def test_database_version_and_age_at_scan_time() -> None:
    tree = parse(render_html_report(scan_with_findings()))
    text = tree.by_id("vulndb").text

    assert "Version42" in text
    assert "Updated2026-11-28 07:30:02 UTC" in text
    assert tree.by_id("vulndb-age").text == "3 days old when scanned"
    assert "12345" in text
    assert "pep440" in text


def test_what_was_scanned_for_a_lockfile_and_an_image() -> None:
    lockfile = parse(render_html_report(scan_with_findings())).by_id("scanned").text
    image = parse(render_html_report(empty_scan())).by_id("scanned").text

    assert f"File{HOSTILE_FILENAME}" in lockfile
    assert "SHA-256" + "ab" * 32 in lockfile
    assert "Scan id11111111-1111-4111-8111-111111111111" in lockfile
    assert f"Requested{REQUESTED:%Y-%m-%d %H:%M:%S} UTC" in lockfile
    assert f"Finished{FINISHED:%Y-%m-%d %H:%M:%S} UTC" in lockfile
    assert "Imagedocker.io/library/alpine:3.20" in image
    assert "Manifest digestsha256:" + "9" * 64 in image


def test_informational_and_unscannable_entries_are_listed() -> None:
    tree = parse(render_html_report(scan_with_findings()))

    informational = tree.by_id("informational").text
    assert "RUSTSEC-2026-0100" in informational
    assert "unmaintained" in informational
    not_scanned = tree.by_id("not-scanned").text
    assert "flask>=2" in not_scanned
    assert "line 9" in not_scanned
    assert "no exact version" in not_scanned


def test_an_empty_scan_says_what_was_and_was_not_looked_at() -> None:
    tree = parse(render_html_report(empty_scan()))
    verdict = tree.by_id("verdict")

    assert verdict.attrs["class"] == "notice"  # not the green all-clear: it has caveats
    assert "No known vulnerabilities in the 1 package scanned (Alpine:v3.20)" in verdict.text
    assert "1 item seen but not looked into" in verdict.text
    assert "weaker for Alpine:v3.20" in verdict.text
    assert tree.by_id("findings").text.endswith("None found.")
    not_scanned = tree.by_id("not-scanned").text
    assert "usr/local/bin/tool" in not_scanned
    assert "rust-binary" in not_scanned
    assert "no records loaded for Alpine:v3.20" in tree.by_id("vulndb").text
    bars = [r.attrs["width"] for r in tree.by_id("severity-chart").find_all("rect") if "data-severity" in r.attrs]
    assert bars == ["0"] * 5


def test_a_clean_scan_without_caveats_is_the_all_clear() -> None:
    scan = empty_scan()
    assert scan.result is not None
    assert scan.result.vulndb is not None
    vulndb = msgspec.structs.replace(scan.result.vulndb, ecosystems=())
    result = msgspec.structs.replace(scan.result, unscanned=(), vulndb=vulndb)
    tree = parse(render_html_report(dataclasses.replace(scan, result=result)))

    assert tree.by_id("verdict").attrs["class"] == "clean"
    assert "This does not cover everything" not in tree.by_id("verdict").text
    assert tree.by_id("not-scanned").text.endswith("Every entry found was scanned.")


def test_a_scan_that_found_no_packages_does_not_read_as_clean() -> None:
    scan = empty_scan()
    result = ScanResult(
        scan_type="dependencies",
        target="empty.txt",
        ecosystems=(),
        packages=(),
        unscannable=(),
        vulnerabilities=(),
        counts=severity_counts(()),
        vulndb_version=7,
        timings=Timings(),
    )
    tree = parse(render_html_report(dataclasses.replace(scan, result=result)))

    assert tree.by_id("verdict").attrs["class"] == "notice"
    assert "No packages were found" in tree.by_id("verdict").text
    assert "Version7" in tree.by_id("vulndb").text
    assert "Updatednot recorded" in tree.by_id("vulndb").text


def test_a_failed_scan_shows_its_error_and_no_result() -> None:
    tree = parse(render_html_report(failed_scan()))

    assert tree.by_id("status").text == "failed"
    assert tree.by_id("error").text == HOSTILE_ERROR
    assert not tree.find_all("iframe")
    for section in ("summary", "findings", "vulndb", "severity-chart"):
        assert not tree.has_id(section)


def test_an_unfinished_scan_and_an_unreadable_result() -> None:
    queued = dataclasses.replace(failed_scan(), status=ScanStatus.QUEUED, error=None, finished_at=None)
    unreadable = empty_scan().unreadable_result("missing field `target`")

    assert "result is not available yet" in parse(render_html_report(queued)).by_id("pending").text
    assert parse(render_html_report(unreadable)).by_id("error").text == (
        "the stored result cannot be read: missing field `target`"
    )


def test_the_format_writes_utf8_html() -> None:
    report = HtmlReport()
    body = report.render(scan_with_findings())

    assert report.name == "html"
    assert report.media_type.startswith("text/html")
    assert body.decode("utf-8") == render_html_report(scan_with_findings())
    assert body.startswith(b"<!DOCTYPE html>")


def test_what_was_scanned_for_an_sbom_and_an_uploaded_archive() -> None:
    sbom = SbomScanInput(format="cyclonedx-json", sha256="cd" * 32, size=5 * 1024 * 1024, filename="bom<1>.json")
    archive = ArchiveImageInput(
        image="app:latest", archive="app <x>.tar", archive_sha256="ef" * 32, archive_size="123456"
    )
    sbom_text = parse(render_html_report(dataclasses.replace(empty_scan(), input_data=sbom))).by_id("scanned").text
    archive_text = (
        parse(render_html_report(dataclasses.replace(empty_scan(), input_data=archive))).by_id("scanned").text
    )

    assert "Scannedan SBOM" in sbom_text
    assert "Filebom<1>.json" in sbom_text
    assert "Formatcyclonedx-json" in sbom_text
    assert "Size5.0 MiB (5,242,880 bytes)" in sbom_text
    assert "Scannedan uploaded image archive" in archive_text
    assert "Archiveapp <x>.tar" in archive_text
    assert "Archive size120.6 KiB (123,456 bytes)" in archive_text
    assert "Imageapp:latest" in archive_text


def test_suppressed_findings_are_listed_with_what_suppressed_them() -> None:
    tree = parse(render_html_report(suppressed_scan()))

    rows = tree.by_id("suppressed").find_all("tbody")[0].find_all("tr")
    cells = {row.find_all("a")[0].text: [td.text for td in row.find_all("td")] for row in rows}
    assert set(cells) == {"GHSA-dddd-eeee-ffff", "PYSEC-2026-7"}
    assert cells["GHSA-dddd-eeee-ffff"][3] == (
        f"ignore rule rule-1<b>not</b> reachableuntil {FINISHED:%Y-%m-%d %H:%M:%S} UTC"
    )
    assert cells["PYSEC-2026-7"][3] == (
        "VEX document doc-9, statement 0: not_affected (vulnerable_code_not_present)code not present"
    )
    assert (
        tree.by_id("verdict").text
        == "2 vulnerabilities in 2 packages of 3 packages scanned; 2 more suppressed (see below)."
    )
    groups = [n for n in tree.by_id("findings").find_all("div") if n.attrs.get("class") == "package"]
    assert [len(g.find_all("tbody")[0].find_all("tr")) for g in groups] == [1, 1]
    assert "VEX: under_investigation (document doc-9, statement 1) — <i>checking</i>" in groups[0].text
    assert not tree.find_all("b")
    assert not tree.find_all("i")


def test_a_scan_with_every_finding_suppressed_does_not_read_as_clean() -> None:
    scan = suppressed_scan()
    assert scan.result is not None
    result = msgspec.structs.replace(
        scan.result,
        vulnerabilities=(),
        unscannable=(),
        informational=(),
        vex=(),
        vulndb=msgspec.structs.replace(scan.result.vulndb, ecosystems=()),
    )
    verdict = parse(render_html_report(dataclasses.replace(scan, result=result))).by_id("verdict")

    assert verdict.attrs["class"] == "notice"
    assert "2 findings suppressed by this account's rules" in verdict.text
