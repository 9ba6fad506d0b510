"""Scanning an SBOM (CycloneDX or SPDX): the SBOM strategy of the scan pipeline (read, map purls, match)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from secapi.domain.findings import ScanResult, Timings
from secapi.domain.model import ScanType
from secapi.domain.sbom import SbomError, SbomFormat, SbomReader, ecosystems_of, inventory
from secapi.domain.scan_inputs import SbomScanInput
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.off_loop import OFF_LOOP_BYTES, cpu_bound
from secapi.domain.services.scan_pipeline import InlineScans, ScanSubject
from secapi.domain.text import refuse_nul


@dataclass(frozen=True, slots=True)
class SbomInput:
    """An SBOM as a client sent it: the bytes, the format its media type declares (None: sniffed), a file name."""

    content: bytes
    declared: SbomFormat | None = None
    filename: str | None = None


class SbomScan:
    """The SBOM scan type: private by default (like lockfiles), identified by its bytes, read and matched inline."""

    scan_type = ScanType.SBOM
    shared = False
    input_errors: tuple[type[Exception], ...] = (SbomError,)

    def __init__(self, reader: SbomReader, matcher: VulnerabilityMatcher) -> None:
        self._reader = reader
        self._matcher = matcher

    def subject(self, scan_input: SbomInput) -> ScanSubject:
        """Refuse an empty body or a format none of the readers knows (at no cost); the identity and the row."""
        if scan_input.filename is not None:
            refuse_nul(scan_input.filename, "file")
        if not scan_input.content.strip():
            raise SbomError("the SBOM is empty: there is nothing to scan")
        kind = scan_input.declared or self._reader.sniff(scan_input.content)
        digest = hashlib.sha256(scan_input.content).hexdigest()
        kept = SbomScanInput(
            format=kind.value, sha256=digest, size=len(scan_input.content), filename=scan_input.filename
        )
        # The format is part of the identity: the same bytes declared as another format are another answer.
        identity = {"format": kind.value, "content_sha256": digest}
        return ScanSubject(identity=identity, kept=kept, large=len(scan_input.content) >= OFF_LOOP_BYTES)

    async def run(self, scan_input: SbomInput, subject: ScanSubject, version: int) -> ScanResult:
        """Read the document, turn its purls into packages and match them against database `version`."""
        started = time.perf_counter()
        declared = SbomFormat(subject.identity["format"])
        parsed = await cpu_bound(subject.large, self._reader.read, scan_input.content, declared)
        found = await cpu_bound(subject.large, inventory, parsed)
        parsed_at = time.perf_counter()
        ecosystems = ecosystems_of(found.packages)
        assessment = await self._matcher.assess(found.packages, ecosystems=ecosystems)
        matched_at = time.perf_counter()
        return assessment.result(
            scan_type=ScanType.SBOM,
            target=scan_input.filename or f"{parsed.format.value} {parsed.spec_version}",
            ecosystems=ecosystems,
            packages=found.packages,
            unscannable=found.unscannable,
            version=version,
            timings=Timings.between(started, parsed_at, matched_at),
        )


class SbomScanService(InlineScans[SbomInput]):
    """Runs SBOM scans synchronously: `SbomScan` through the scan pipeline (cached, charged and recorded like
    lockfiles; private unless `shared`)."""
