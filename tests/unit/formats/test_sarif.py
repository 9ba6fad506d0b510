"""SARIF 2.1.0: valid against the OASIS schema, and what GitHub code scanning reads from it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from secapi.adapters.formats.sarif import FINGERPRINT_KEY, SarifFormat
from secapi.domain.model import Scan

from support.format_scans import LAYER, empty_scan, image_scan, lockfile_scan, sarif_errors, suppressed_scan


def _log(scan: Scan) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SarifFormat().render(scan))
    return document


@pytest.mark.parametrize("scan", [lockfile_scan(), image_scan(), empty_scan()], ids=["lockfile", "image", "empty"])
def test_the_log_is_valid_against_the_sarif_2_1_0_schema(scan: Scan) -> None:
    log = _log(scan)
    assert sarif_errors(log) == []
    assert log["version"] == "2.1.0"
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"


def test_the_schema_check_catches_a_broken_log() -> None:
    log = _log(lockfile_scan())
    del log["runs"][0]["tool"]["driver"]["name"]
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert len(sarif_errors(log)) == 2


def test_one_rule_per_advisory_with_help_and_github_security_severity() -> None:
    run = _log(lockfile_scan())["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert list(rules) == ["GHSA-jf85-cpcp-j695", "GHSA-67hx-6x53-jw92", "GHSA-35jh-r3h4-6jhm", "MAL-2099-1"]
    lodash = rules["GHSA-jf85-cpcp-j695"]
    assert lodash["properties"]["security-severity"] == "9.8"
    assert lodash["shortDescription"]["text"] == "Prototype Pollution in lodash"
    assert lodash["helpUri"] == "https://osv.dev/vulnerability/GHSA-jf85-cpcp-j695"
    assert "lodash 4.17.4 (npm): fixed in 4.17.12" in lodash["help"]["text"]
    assert "https://nvd.nist.gov/vuln/detail/CVE-2019-10744" in lodash["help"]["text"]
    assert "not a link" not in lodash["help"]["text"]
    assert lodash["defaultConfiguration"]["level"] == "error"
    # A label without a score: the middle of the level's CVSS range, so GitHub still ranks it "high".
    assert rules["GHSA-35jh-r3h4-6jhm"]["properties"]["security-severity"] in ("7.9", "8.0")
    # Nothing known of the severity: no number is made up.
    assert "security-severity" not in rules["MAL-2099-1"]["properties"]
    assert rules["MAL-2099-1"]["defaultConfiguration"]["level"] == "warning"  # unknown is not minor
    markdown = rules["MAL-2099-1"]["help"]["markdown"]
    assert "\\<b\\>markdown\\</b\\> \\| table \\*breaker\\*" in markdown


def test_one_result_per_finding_at_the_lockfile_line() -> None:
    run = _log(lockfile_scan())["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert len(results) == 5
    for result in results:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        assert result["message"]["text"]
        assert result["level"] in ("error", "warning", "note")
    places = [
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in results
    ]
    assert places == [
        ("GHSA-jf85-cpcp-j695", "package-lock.json", 1),  # a path in the JSON, no line: the file's first
        ("GHSA-67hx-6x53-jw92", "package-lock.json", 12),
        ("GHSA-35jh-r3h4-6jhm", "package-lock.json", 1),
        ("GHSA-35jh-r3h4-6jhm", "package-lock.json", 41),
        ("MAL-2099-1", "package-lock.json", 27),
    ]
    first = results[0]
    assert "CISA's Known Exploited Vulnerabilities" in first["message"]["text"]
    assert first["properties"]["purl"] == "pkg:npm/lodash@4.17.4"
    assert first["properties"]["epss"] == 0.42
    fingerprints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in results]
    assert len(set(fingerprints)) == 5


def test_the_fingerprint_is_stable_across_scans_of_the_same_file() -> None:
    again = lockfile_scan()
    assert _log(again)["runs"][0]["results"] == _log(lockfile_scan())["runs"][0]["results"]


def test_an_image_finding_is_located_at_its_path_in_the_image_and_names_the_layer() -> None:
    run = _log(image_scan())["runs"][0]
    result = run["results"][0]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "var/lib/dpkg/status"
    assert location["region"]["startLine"] == 1
    assert result["properties"]["imageLayer"] == LAYER
    assert result["properties"]["image"] == "docker.io/library/debian:12"
    assert run["properties"]["manifestDigest"] == "sha256:" + "cd" * 32


def test_what_was_not_scanned_is_reported_as_notifications() -> None:
    (invocation,) = _log(lockfile_scan())["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is True
    (note,) = invocation["toolExecutionNotifications"]
    assert note["message"]["text"] == "not scanned: local-lib: installed from a local path"
    assert note["locations"][0]["physicalLocation"]["region"]["startLine"] == 55
    (image_note,) = _log(image_scan())["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert image_note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "usr/bin/app"


def test_an_empty_scan_is_a_run_without_results() -> None:
    run = _log(empty_scan())["runs"][0]
    assert run["results"] == []
    assert run["tool"]["driver"]["rules"] == []
    assert run["tool"]["driver"]["name"] == "SecAPI"


def test_suppressed_findings_are_results_with_an_accepted_external_suppression() -> None:
    log = _log(suppressed_scan())
    assert sarif_errors(log) == []
    results = log["runs"][0]["results"]
    assert len(results) == 5  # suppressed findings stay in the log, closed
    suppressions = {(r["ruleId"], r["properties"]["installedVersion"]): r.get("suppressions") for r in results}
    assert suppressions[("GHSA-35jh-r3h4-6jhm", "4.17.4")] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "ignore rule rule-1: lodash is only used at build time",
        }
    ]
    (vex,) = suppressions[("GHSA-67hx-6x53-jw92", "7.22.5")]
    assert vex["justification"].startswith("VEX document vex-1, statement 0 (not_affected): ")
    assert suppressions[("GHSA-jf85-cpcp-j695", "4.17.4")] is None
    noted = {(r["ruleId"], r["properties"]["installedVersion"]): r["properties"].get("vexStatus") for r in results}
    assert noted[("GHSA-35jh-r3h4-6jhm", "4.17.15")] == "under_investigation"
    assert noted[("GHSA-jf85-cpcp-j695", "4.17.4")] == "affected"
