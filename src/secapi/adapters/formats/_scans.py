"""What the machine-readable formats (CycloneDX, SPDX, SARIF) read alike from a finished scan."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import quote

from secapi.domain.findings import Finding, ScanResult
from secapi.domain.model import Scan
from secapi.domain.scan_inputs import ArchiveImageInput, LockfileScanInput, RegistryImageInput, SbomScanInput

TOOL_NAME = "SecAPI"
TOOL_URL = "https://secapi.dev"
OSV_VULNERABILITY_URL = "https://osv.dev/vulnerability/"

_LINE = re.compile(r"(?:(?P<file>\S+) )?line (?P<line>\d+)\b")
_IMAGE_LOCATION = re.compile(r"(?P<layer>[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-f0-9]{32,}):(?P<path>.+)")


@cache
def tool_version() -> str:
    """SecAPI's version, as installed."""
    try:
        return version("secapi")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        return "0.0.0"


def result_of(scan: Scan) -> ScanResult:
    """The result of a completed scan (a `ResultFormat` is only asked to write those)."""
    if scan.result is None:
        raise ValueError(f"scan {scan.id} has no result to write")
    return scan.result


def weak_ecosystems(result: ScanResult) -> list[tuple[str, str]]:
    """(ecosystem, why) for each ecosystem the scan matched against weaker data: no advisories loaded, an
    unknown count, or no version order. Every format says these, so "no findings" is never read as clean there."""
    covered = result.vulndb.ecosystems if result.vulndb is not None else ()
    return [(cover.ecosystem, cover.note) for cover in covered if cover.note]


def produced_at(scan: Scan) -> datetime:
    """When the document's content came to be: the scan's end (its start or creation when not recorded)."""
    moment = scan.finished_at or scan.started_at or scan.created_at
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def advisory_url(advisory: str) -> str:
    """The advisory's page on osv.dev."""
    return OSV_VULNERABILITY_URL + quote(advisory, safe="")


def http_urls(references: tuple[str, ...]) -> list[str]:
    """The references that are web links (others are shown nowhere as links)."""
    return [ref for ref in references if ref.startswith(("https://", "http://"))]


@dataclass(frozen=True, slots=True)
class Subject:
    """What was scanned, as the formats name it."""

    name: str
    """The lockfile's name or the image reference."""
    is_image: bool
    version: str | None = None
    """An image's manifest digest."""
    sha256: str | None = None
    """The SHA-256 of an uploaded document (a lockfile, an SBOM)."""


def subject_of(scan: Scan, result: ScanResult) -> Subject:
    """The lockfile or image a scan looked at."""
    data = scan.input_data
    if isinstance(data, LockfileScanInput):
        return Subject(name=data.filename, is_image=False, sha256=data.sha256)
    if isinstance(data, RegistryImageInput | ArchiveImageInput) or result.image is not None:
        reference = result.image.reference if result.image is not None else (data.label or result.target)
        digest = result.image.manifest_digest if result.image is not None else None
        return Subject(name=reference, is_image=True, version=digest)
    if isinstance(data, SbomScanInput):
        return Subject(name=data.label or result.target, is_image=False, sha256=data.sha256)
    return Subject(name=data.label or result.target, is_image=False)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a package was found: a file (the lockfile, or a path in an image), a line, an image layer."""

    path: str
    line: int | None = None
    layer: str | None = None


def place_of(location: str | None, subject: Subject, companions: tuple[str, ...] = ()) -> Place:
    """A finding's or package's `location` read as a place.

    Lockfile parsers say `line 12` (or `go.sum line 3` for a companion file) when they know the line, else
    a path inside the document (`packages["node_modules/a"]`): the lockfile itself, no line. Image catalogers
    say `<layer digest>:<path in the image>`.
    """
    if location is None:
        return Place(path=subject.name)
    if subject.is_image:
        found = _IMAGE_LOCATION.fullmatch(location)
        if found is not None:
            return Place(path=found["path"].lstrip("/"), layer=found["layer"])
        return Place(path=location.lstrip("/") or subject.name)
    found = _LINE.match(location)
    if found is None:
        return Place(path=subject.name)
    file = found["file"]
    return Place(path=file if file in companions else subject.name, line=int(found["line"]))


def companions_of(scan: Scan) -> tuple[str, ...]:
    """The names of the files sent with a lockfile (a go.mod's go.sum)."""
    data = scan.input_data
    return tuple(c.filename for c in data.companions) if isinstance(data, LockfileScanInput) else ()


def by_advisory(findings: tuple[Finding, ...]) -> Iterator[tuple[str, list[Finding]]]:
    """Findings grouped by advisory id, in the order each advisory first appears."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.id, []).append(finding)
    yield from groups.items()
