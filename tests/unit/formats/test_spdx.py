"""SPDX 2.3 JSON: valid for spdx-tools' parser and validator, packages with purls as external references."""

from __future__ import annotations

import json
from typing import Any

import pytest

from secapi.adapters.formats.spdx import SUBJECT_ID, SpdxFormat
from secapi.domain.model import Scan

from support.format_scans import empty_scan, image_scan, lockfile_scan, spdx_errors, suppressed_scan


def _document(scan: Scan) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SpdxFormat().render(scan))
    return document


@pytest.mark.parametrize("scan", [lockfile_scan(), image_scan(), empty_scan()], ids=["lockfile", "image", "empty"])
def test_the_document_is_valid_spdx_2_3(scan: Scan) -> None:
    document = SpdxFormat().render(scan)
    assert spdx_errors(document) == []
    assert json.loads(document)["spdxVersion"] == "SPDX-2.3"


def test_the_validator_catches_a_broken_document() -> None:
    document = _document(lockfile_scan())
    document["packages"][1]["externalRefs"][0]["referenceLocator"] = "not a purl"
    document["relationships"][0]["relatedSpdxElement"] = "SPDXRef-Nowhere"
    assert len(spdx_errors(json.dumps(document).encode())) >= 2


def _purls(document: dict[str, Any]) -> dict[str, list[str]]:
    return {
        package["name"] + " " + package.get("versionInfo", ""): [
            ref["referenceLocator"]
            for ref in package.get("externalRefs", [])
            if (ref["referenceCategory"], ref["referenceType"]) == ("PACKAGE_MANAGER", "purl")
        ]
        for package in document["packages"]
    }


def test_packages_carry_purls_as_package_manager_references() -> None:
    document = _document(lockfile_scan())
    assert _purls(document) == {
        "package-lock.json ": [],
        "lodash 4.17.4": ["pkg:npm/lodash@4.17.4"],
        "lodash 4.17.15": ["pkg:npm/lodash@4.17.15"],
        "@babel/traverse 7.22.5": ["pkg:npm/%40babel/traverse@7.22.5"],
        "minimist 1.2.5": ["pkg:npm/minimist@1.2.5"],
        "left-pad 1.3.0": [],
    }


def test_the_document_describes_the_scanned_file_which_contains_every_package() -> None:
    document = _document(lockfile_scan())
    relationships = {
        (r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in document["relationships"]
    }
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", SUBJECT_ID) in relationships
    contained = {related for element, kind, related in relationships if (element, kind) == (SUBJECT_ID, "CONTAINS")}
    assert contained == {p["SPDXID"] for p in document["packages"]} - {SUBJECT_ID}
    (subject,) = [p for p in document["packages"] if p["SPDXID"] == SUBJECT_ID]
    assert subject["checksums"] == [{"algorithm": "SHA256", "checksumValue": "0" * 64}]
    assert subject["primaryPackagePurpose"] == "FILE"
    (creator,) = document["creationInfo"]["creators"]
    assert creator.startswith("Tool: SecAPI-")


def test_findings_are_advisory_references_and_annotations_on_their_package() -> None:
    document = _document(lockfile_scan())
    (old_lodash,) = [p for p in document["packages"] if p.get("versionInfo") == "4.17.4"]
    advisories = [r["referenceLocator"] for r in old_lodash["externalRefs"] if r["referenceCategory"] == "SECURITY"]
    assert advisories == [
        "https://osv.dev/vulnerability/GHSA-jf85-cpcp-j695",
        "https://osv.dev/vulnerability/GHSA-35jh-r3h4-6jhm",
    ]
    notes = [a["comment"] for a in old_lodash["annotations"]]
    assert notes[0] == (
        "Vulnerability GHSA-jf85-cpcp-j695 (CVE-2019-10744), severity CRITICAL, CVSS 9.8; fixed in 4.17.12: "
        "Prototype Pollution in lodash"
    )
    (clean,) = [p for p in document["packages"] if p["name"] == "left-pad"]
    assert "annotations" not in clean


def test_an_image_document_describes_the_container() -> None:
    document = _document(image_scan())
    (subject,) = [p for p in document["packages"] if p["SPDXID"] == SUBJECT_ID]
    assert (subject["name"], subject["versionInfo"], subject["primaryPackagePurpose"]) == (
        "docker.io/library/debian:12",
        "sha256:" + "cd" * 32,
        "CONTAINER",
    )
    assert _purls(document)["openssl 3.0.11-1~deb12u1"] == ["pkg:deb/debian/openssl@3.0.11-1~deb12u1?distro=debian-12"]


def test_a_suppressed_finding_is_annotated_with_what_suppressed_it() -> None:
    document = SpdxFormat().render(suppressed_scan())
    assert spdx_errors(document) == []
    (old_lodash,) = [p for p in json.loads(document)["packages"] if p.get("versionInfo") == "4.17.4"]
    notes = sorted(a["comment"] for a in old_lodash["annotations"])
    assert len(notes) == 2
    assert notes[0].endswith("[suppressed by ignore rule rule-1: lodash is only used at build time]")
    assert "suppressed" not in notes[1]


def _subject_notes(document: dict[str, Any]) -> list[str]:
    subject = next(p for p in document["packages"] if p["SPDXID"] == SUBJECT_ID)
    return [a["comment"] for a in subject.get("annotations", [])]


def test_what_was_not_scanned_is_annotated_on_the_subject() -> None:
    assert "Not scanned: local-lib: installed from a local path" in _subject_notes(_document(lockfile_scan()))
    assert any(note.startswith("Not looked into: ") for note in _subject_notes(_document(image_scan())))
    assert _subject_notes(_document(empty_scan())) == []
    assert spdx_errors(SpdxFormat().render(lockfile_scan())) == []
