"""CycloneDX 1.6 JSON: valid for cyclonedx-python-lib's strict validator, components with purls, and a VDR/VEX."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from secapi.adapters.formats.cyclonedx import CycloneDxFormat
from secapi.domain.model import Scan, ScanType
from secapi.domain.scan_inputs import SbomScanInput

from support.format_scans import cyclonedx_errors, empty_scan, image_scan, lockfile_scan, suppressed_scan


def _bom(scan: Scan) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(CycloneDxFormat().render(scan))
    return document


@pytest.mark.parametrize("scan", [lockfile_scan(), image_scan(), empty_scan()], ids=["lockfile", "image", "empty"])
def test_the_bom_is_valid_cyclonedx_1_6(scan: Scan) -> None:
    document = CycloneDxFormat().render(scan)
    assert cyclonedx_errors(document) == []
    bom = json.loads(document)
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")
    assert bom["serialNumber"] == f"urn:uuid:{scan.id}"


def test_the_strict_validator_catches_a_broken_bom() -> None:
    bom = _bom(lockfile_scan())
    bom["vulnerabilities"][0]["analysis"]["state"] = "probably-fine"
    bom["components"][0]["unknown"] = True
    assert cyclonedx_errors(json.dumps(bom).encode()) != []


def test_components_carry_their_purls_and_the_subject_is_the_lockfile() -> None:
    bom = _bom(lockfile_scan())
    purls = sorted(c.get("purl", "-") for c in bom["components"])
    assert purls == [
        "-",  # left-pad was listed without a purl: still a component, by name and version
        "pkg:npm/%40babel/traverse@7.22.5",
        "pkg:npm/lodash@4.17.15",
        "pkg:npm/lodash@4.17.4",
        "pkg:npm/minimist@1.2.5",
    ]
    subject = bom["metadata"]["component"]
    assert (subject["type"], subject["name"]) == ("file", "package-lock.json")
    assert subject["hashes"] == [{"alg": "SHA-256", "content": "0" * 64}]
    assert bom["metadata"]["timestamp"].startswith("2026-12-02T08:00:01")
    assert {"name": "secapi:unscannable", "value": "local-lib: installed from a local path"} in bom["metadata"][
        "properties"
    ]


def test_one_vulnerability_per_advisory_affecting_each_component_it_was_found_in() -> None:
    bom = _bom(lockfile_scan())
    refs = {c["bom-ref"]: c for c in bom["components"]}
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert sorted(vulns) == ["GHSA-35jh-r3h4-6jhm", "GHSA-67hx-6x53-jw92", "GHSA-jf85-cpcp-j695", "MAL-2099-1"]
    command_injection = vulns["GHSA-35jh-r3h4-6jhm"]
    affected = sorted((refs[a["ref"]]["version"], a["versions"]) for a in command_injection["affects"])
    assert affected == [
        ("4.17.15", [{"version": "4.17.15", "status": "affected"}]),
        ("4.17.4", [{"version": "4.17.4", "status": "affected"}]),
    ]
    assert command_injection["ratings"] == [
        {
            "source": {"name": "GHSA-35jh-r3h4-6jhm", "url": "https://osv.dev/vulnerability/GHSA-35jh-r3h4-6jhm"},
            "severity": "high",
        }
    ]
    assert command_injection["recommendation"] == (
        "Upgrade lodash 4.17.4 to 4.17.21; upgrade lodash 4.17.15 to 4.17.21"
    )
    assert command_injection["references"] == [
        {"id": "CVE-2021-23337", "source": {"name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2021-23337"}}
    ]


def test_ratings_carry_cvss_scores_methods_and_vectors() -> None:
    vulns = {v["id"]: v for v in _bom(lockfile_scan())["vulnerabilities"]}
    (v31,) = vulns["GHSA-jf85-cpcp-j695"]["ratings"]
    assert (v31["score"], v31["severity"], v31["method"]) == (9.8, "critical", "CVSSv31")
    assert v31["vector"] == "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    (v40,) = vulns["GHSA-67hx-6x53-jw92"]["ratings"]
    assert (v40["score"], v40["method"]) == (9.3, "CVSSv4")
    (unknown,) = vulns["MAL-2099-1"]["ratings"]
    assert unknown["severity"] == "unknown"
    assert "score" not in unknown


def test_analysis_says_exploitable_for_kev_and_in_triage_otherwise() -> None:
    vulns = {v["id"]: v for v in _bom(lockfile_scan())["vulnerabilities"]}
    kev = vulns["GHSA-jf85-cpcp-j695"]
    assert kev["analysis"]["state"] == "exploitable"
    assert kev["analysis"]["response"] == ["update"]
    assert {"name": "secapi:epss:score", "value": "0.42"} in kev["properties"]
    assert vulns["GHSA-67hx-6x53-jw92"]["analysis"]["state"] == "in_triage"
    assert "response" not in vulns["MAL-2099-1"]["analysis"]  # nothing to update to


def test_an_image_bom_describes_the_container_and_its_distro_packages() -> None:
    bom = _bom(image_scan())
    subject = bom["metadata"]["component"]
    assert (subject["type"], subject["name"], subject["version"]) == (
        "container",
        "docker.io/library/debian:12",
        "sha256:" + "cd" * 32,
    )
    (dependency,) = [d for d in bom["dependencies"] if d["ref"] == subject["bom-ref"]]
    assert len(dependency["dependsOn"]) == 2
    assert {c["purl"] for c in bom["components"]} == {
        "pkg:deb/debian/openssl@3.0.11-1~deb12u1?distro=debian-12",
        "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1",
    }


def test_an_empty_scan_lists_its_packages_and_no_vulnerabilities() -> None:
    bom = _bom(empty_scan())
    assert [c["purl"] for c in bom["components"]] == ["pkg:pypi/six@1.16.0"]
    assert bom.get("vulnerabilities", []) == []


def test_suppressed_findings_and_vex_notes_become_the_analysis_of_a_vex() -> None:
    document = CycloneDxFormat().render(suppressed_scan())
    assert cyclonedx_errors(document) == []
    bom = json.loads(document)
    versions = {c["bom-ref"]: c["version"] for c in bom["components"]}
    states = {
        (v["id"], versions[a["ref"]]): (v["analysis"]["state"], v["analysis"].get("justification"), a["versions"])
        for v in bom["vulnerabilities"]
        for a in v["affects"]
    }
    assert states == {
        ("GHSA-jf85-cpcp-j695", "4.17.4"): ("exploitable", None, [{"version": "4.17.4", "status": "affected"}]),
        ("GHSA-35jh-r3h4-6jhm", "4.17.15"): ("in_triage", None, [{"version": "4.17.15", "status": "affected"}]),
        ("GHSA-35jh-r3h4-6jhm", "4.17.4"): ("not_affected", None, [{"version": "4.17.4", "status": "unaffected"}]),
        ("GHSA-67hx-6x53-jw92", "7.22.5"): (
            "not_affected",
            "code_not_reachable",
            [{"version": "7.22.5", "status": "unaffected"}],
        ),
        ("MAL-2099-1", "1.2.5"): ("resolved", None, [{"version": "1.2.5", "status": "unaffected"}]),
    }
    details = {v["bom-ref"]: v["analysis"]["detail"] for v in bom["vulnerabilities"]}
    assert details["secapi:vulnerability:GHSA-jf85-cpcp-j695"].endswith("upgrade lodash before the release")
    assert "ignore rule rule-1: lodash is only used at build time" in " ".join(details.values())
    # One advisory, two assessments: two entries with distinct bom-refs.
    assert {"secapi:vulnerability:GHSA-35jh-r3h4-6jhm", "secapi:vulnerability:GHSA-35jh-r3h4-6jhm#2"} <= set(details)
    (ignored,) = [v for v in bom["vulnerabilities"] if "rule-1" in v["analysis"]["detail"]]
    assert "response" not in ignored["analysis"]  # settled: nothing to update


def test_an_sbom_scan_names_the_uploaded_document_and_its_digest() -> None:
    scan = dataclasses.replace(
        lockfile_scan(),
        scan_type=ScanType.SBOM,
        input_data=SbomScanInput(format="cyclonedx-json", sha256="3" * 64, size=10, filename="bom.json"),
    )
    document = CycloneDxFormat().render(scan)
    assert cyclonedx_errors(document) == []
    subject = json.loads(document)["metadata"]["component"]
    assert (subject["name"], subject["hashes"]) == ("bom.json", [{"alg": "SHA-256", "content": "3" * 64}])
