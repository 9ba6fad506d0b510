"""Small, complete result documents for tests that need a finished scan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from secapi.domain.findings import Finding, ImageDetails, ScanResult, Timings, severity_counts
from secapi.domain.packages import Package


def scan_result(
    *,
    packages: Sequence[Package] = (),
    vulnerabilities: Sequence[Finding] = (),
    target: str = "requirements.txt",
    scan_type: str = "dependencies",
    image_digest: str | None = None,
) -> ScanResult:
    """A result with these packages and findings; an image's (with `image_digest`) names its manifest."""
    image = None
    if image_digest is not None:
        image = ImageDetails(
            reference=target,
            manifest_digest=image_digest,
            platform="linux/amd64",
            os=None,
            os_ecosystem=None,
            layers=(),
            resolve_ms=0.0,
        )
    found = tuple(vulnerabilities)
    return ScanResult(
        scan_type=scan_type,
        target=target,
        ecosystems=tuple(sorted({p.ecosystem for p in packages})),
        packages=tuple(packages),
        unscannable=(),
        vulnerabilities=found,
        counts=severity_counts(found),
        vulndb_version=1,
        timings=Timings(),
        image=image,
    )


def as_json(result: ScanResult) -> dict[str, Any]:
    """The result as a client reads it: the JSON document, decoded."""
    document: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(result))
    return document
