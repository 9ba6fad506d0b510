"""SBOMs (CycloneDX, SPDX): the reader port, what a read yields, and the packages its purls name.

A reader turns a document into components as the document states them (name, version, purl, CPE,
where it sits); `inventory` turns those into the packages a lockfile or image scan would have found,
and every component it cannot match into an unscannable entry with the reason: nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol

import msgspec
from packageurl import PackageURL

from secapi.domain.errors import InvalidInput
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import SourcePackage, UnscannablePurl, purl_package
from secapi.domain.text import NUL, without_nul

MAX_COMPONENTS = 100_000
"""More components than this in one document is refused (422): the request body limit bounds the bytes."""
MAX_PURL_LENGTH = 2_000


class SbomFormat(StrEnum):
    """The SBOM formats SecAPI reads, each with the media type a client sends it as."""

    CYCLONEDX_JSON = "cyclonedx-json"
    CYCLONEDX_XML = "cyclonedx-xml"
    SPDX_JSON = "spdx-json"
    SPDX_TAG_VALUE = "spdx-tag-value"


MEDIA_TYPES = {
    "application/vnd.cyclonedx+json": SbomFormat.CYCLONEDX_JSON,
    "application/vnd.cyclonedx+xml": SbomFormat.CYCLONEDX_XML,
    "application/spdx+json": SbomFormat.SPDX_JSON,
    "text/spdx": SbomFormat.SPDX_TAG_VALUE,
}
"""Request media type → format; a multipart upload's format is sniffed from its content instead."""


class SbomComponent(msgspec.Struct, frozen=True, kw_only=True):
    """One component (CycloneDX) or package (SPDX) as the document states it."""

    name: str
    location: str
    """Where it is in the document: `components[2].components[0]`, `packages[5]`, `line 40`."""
    version: str | None = None
    purl: str | None = None
    cpe: str | None = None
    source_name: str | None = None
    """The source package a distribution package was built from, where the document says (Trivy does)."""
    source_version: str | None = None


class ParsedSbom(msgspec.Struct, frozen=True, kw_only=True):
    """What a reader found: the format and spec version, the components, and the document's operating system."""

    format: SbomFormat
    spec_version: str
    components: tuple[SbomComponent, ...] = ()
    operating_system: tuple[str, str | None] | None = None
    """(os-release ID, version) of the operating system component, for distribution purls without `distro`."""
    unscannable: tuple[UnscannableEntry, ...] = ()
    """Entries the reader could not read at all (one bad entry never voids the document)."""


class SbomError(InvalidInput):
    """A document SecAPI cannot read as an SBOM (a 422 at the HTTP edge)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="sbom")


class SbomReader(Protocol):
    """Reads an SBOM document (raises `SbomError` when it is not one SecAPI reads)."""

    def sniff(self, content: bytes) -> SbomFormat:
        """The format `content` shows (a multipart upload's); `SbomError` when it is none SecAPI reads."""
        ...

    def read(self, content: bytes, declared: SbomFormat | None) -> ParsedSbom:
        """Parse `content` as `declared`, or as the format its content shows when None (a multipart upload)."""
        ...


class Inventory(msgspec.Struct, frozen=True, kw_only=True):
    """The packages of an SBOM, ready for matching, and the components that could not be made one."""

    packages: tuple[Package, ...]
    unscannable: tuple[UnscannableEntry, ...]


def inventory(parsed: ParsedSbom) -> Inventory:
    """Each component as a package (from its purl), or as an unscannable entry saying why it is none."""
    packages: list[Package] = []
    unscannable = [_printable(entry) for entry in parsed.unscannable]
    for component in parsed.components:
        found = _package(component, parsed.operating_system)
        if isinstance(found, Package):
            packages.append(found)
        else:  # a reason may quote the document (an OS name), which may hold a NUL
            unscannable.append(_printable(found))
    unique = {(p.ecosystem, p.name, p.version, p.location): p for p in packages}
    return Inventory(
        packages=tuple(sorted(unique.values(), key=lambda p: (p.ecosystem, p.name, p.version, p.location or ""))),
        unscannable=tuple(dict.fromkeys(unscannable)),
    )


def ecosystems_of(packages: Iterable[Package]) -> tuple[str, ...]:
    """The distinct ecosystems, sorted."""
    return tuple(sorted({p.ecosystem for p in packages}))


def _package(component: SbomComponent, os: tuple[str, str | None] | None) -> Package | UnscannableEntry:
    label = f"{component.name}@{component.version}" if component.version else component.name
    stated = (component.name, component.version, component.purl, component.cpe, component.source_name)
    if any(NUL in text for text in (*stated, component.source_version or "") if text):
        # No released package has one, and no database can store one: listed, with the NUL shown as U+FFFD.
        reason = "it contains a NUL character (U+0000, shown as \ufffd), which no released package has"
        return UnscannableEntry(name=without_nul(label), reason=reason, location=component.location)
    if component.purl is None:
        if component.cpe:
            reason = (
                f"only a CPE identifies it ({component.cpe}); SecAPI matches packages by purl against OSV "
                "advisories, which are not keyed by CPE"
            )
        else:
            reason = "it has neither a purl nor a CPE: nothing says which package it is"
        return UnscannableEntry(name=label, reason=reason, location=component.location)
    if len(component.purl) > MAX_PURL_LENGTH:
        reason = f"its purl is longer than {MAX_PURL_LENGTH} characters"
        return UnscannableEntry(name=label, reason=reason, location=component.location)
    source = None
    if component.source_name:
        source = SourcePackage(name=component.source_name, version=component.source_version)
    try:
        purl = PackageURL.from_string(component.purl)
        where = component.location
        return purl_package(
            purl, declared_name=component.name, source=source, os=os, location=where, as_stated=component.purl
        )
    except UnscannablePurl as exc:
        reason = str(exc)
    except ValueError as exc:  # packageurl's refusals, and text it cannot encode (a lone surrogate)
        reason = f"its purl does not parse: {exc}"
    return UnscannableEntry(name=label, reason=reason, location=component.location)


def _printable(entry: UnscannableEntry) -> UnscannableEntry:
    """A reader's entry with any NUL (echoed from the document) shown as U+FFFD: PostgreSQL cannot store one."""
    texts = (entry.name, entry.reason, entry.location or "")
    if not any(NUL in text for text in texts):
        return entry
    location = None if entry.location is None else without_nul(entry.location)
    return UnscannableEntry(name=without_nul(entry.name), reason=without_nul(entry.reason), location=location)
