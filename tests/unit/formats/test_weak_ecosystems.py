"""Every machine format says which ecosystems were matched against weaker data (none loaded, no version order)."""

from __future__ import annotations

import dataclasses
import json

import msgspec

from secapi.adapters.formats.cyclonedx import CycloneDxFormat
from secapi.adapters.formats.sarif import SarifFormat
from secapi.adapters.formats.spdx import SUBJECT_ID, SpdxFormat
from secapi.domain.findings import EcosystemCoverage
from secapi.domain.model import Scan

from support.format_scans import empty_scan, sarif_errors, spdx_errors

NOTE = "no advisories for npm are loaded: its packages were not checked against any"


def _weak_scan() -> Scan:
    scan = empty_scan()
    assert scan.result is not None
    assert scan.result.vulndb is not None
    cover = EcosystemCoverage(ecosystem="npm", advisories=0, version_order="semver", note=NOTE)
    vulndb = msgspec.structs.replace(scan.result.vulndb, ecosystems=(cover,))
    return dataclasses.replace(scan, result=msgspec.structs.replace(scan.result, vulndb=vulndb))


def test_cyclonedx_spdx_and_sarif_name_the_weak_ecosystem() -> None:
    scan = _weak_scan()
    bom = json.loads(CycloneDxFormat().render(scan))
    assert {"name": "secapi:weak_ecosystem", "value": f"npm: {NOTE}"} in bom["metadata"]["properties"]

    spdx = SpdxFormat().render(scan)
    assert spdx_errors(spdx) == []
    subject = next(p for p in json.loads(spdx)["packages"] if p["SPDXID"] == SUBJECT_ID)
    assert f"Weaker data for npm: {NOTE}" in [a["comment"] for a in subject.get("annotations", [])]

    sarif = json.loads(SarifFormat().render(scan))
    assert sarif_errors(sarif) == []
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert {
        "descriptor": {"id": "vulndb"},
        "level": "warning",
        "message": {"text": f"weaker data for npm: {NOTE}"},
    } in notes
