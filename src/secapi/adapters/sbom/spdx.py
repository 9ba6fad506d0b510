"""SPDX documents (2.2 and 2.3; JSON and tag-value) into components.

JSON: each package is read by spdx-tools' own package parser (`PackageParser`), one at a time, so a
package it refuses becomes one unscannable entry instead of voiding the document (its document parser
refuses everything for one bad package). Tag-value is read here, line by line: spdx-tools' tag-value
parser (ply) regenerates its LALR tables for every parser built (~0.1 s) and writes `parser.out` and
`parsetab.py` into its installed package directory (which fails on a read-only install and races between
workers), and it too stops at the first line it refuses.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from spdx_tools.spdx.model.package import ExternalPackageRefCategory, PackagePurpose
from spdx_tools.spdx.parser.error import SPDXParsingError
from spdx_tools.spdx.parser.jsonlikedict.package_parser import PackageParser

from secapi.adapters.sbom._common import check_count, os_of, text
from secapi.domain.packages import UnscannableEntry
from secapi.domain.sbom import ParsedSbom, SbomComponent, SbomError, SbomFormat

VERSIONS = ("SPDX-2.2", "SPDX-2.3")
_BUILT_FROM = re.compile(r"built package from:\s*(?P<name>\S+)(?:\s+(?P<version>\S+))?", re.IGNORECASE)
"""Trivy's `sourceInfo` of a distribution package: `built package from: glibc 2.36-9+deb12u2`."""
_CPE_TYPES = ("cpe23type", "cpe22type")
_MAX_REASON = 300


def _check_version(version: object) -> str:
    if version not in VERSIONS:
        shown = version if isinstance(version, str) else type(version).__name__
        raise SbomError(f"SPDX version {shown!r} is not supported; SecAPI reads {' and '.join(VERSIONS)}")
    return str(version)


def _source(info: str | None) -> tuple[str | None, str | None]:
    match = _BUILT_FROM.match(info or "")
    return (match["name"], match["version"]) if match else (None, None)


class _Document(msgspec.Struct, rename={"spdx_version": "spdxVersion"}):
    spdx_version: Any = None
    packages: list[Any] = msgspec.field(default_factory=list)


def read_json(content: bytes) -> ParsedSbom:
    """An SPDX JSON document's packages (`SbomError` when it is not one)."""
    try:
        document = msgspec.json.decode(content, type=_Document)
    except msgspec.ValidationError as exc:
        raise SbomError(f"the SPDX JSON document is not valid: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise SbomError(f"the SPDX document is not valid JSON: {exc}") from exc
    version = _check_version(document.spdx_version)
    check_count(len(document.packages))
    parser = PackageParser()  # type: ignore[no-untyped-call]
    components: list[SbomComponent] = []
    unscannable: list[UnscannableEntry] = []
    os: tuple[str, str | None] | None = None
    for index, raw in enumerate(document.packages):
        where = f"packages[{index}]"
        label = (text(raw.get("name")) if isinstance(raw, dict) else None) or "(a package without a name)"
        try:
            package = parser.parse_package(raw)
        except SPDXParsingError as exc:
            messages: list[str] = exc.get_messages()  # type: ignore[no-untyped-call]
            reason = f"spdx-tools could not read this package: {'; '.join(messages)}"[:_MAX_REASON]
            unscannable.append(UnscannableEntry(name=label, reason=reason, location=where))
            continue
        except Exception as exc:  # noqa: BLE001 - any failure on hostile input is this one entry's, never a 500
            reason = f"this package could not be read ({type(exc).__name__})"
            unscannable.append(UnscannableEntry(name=label, reason=reason, location=where))
            continue
        purls = [r.locator for r in package.external_references if r.reference_type == "purl"]
        cpes = [
            r.locator
            for r in package.external_references
            if r.category is ExternalPackageRefCategory.SECURITY and r.reference_type.lower() in _CPE_TYPES
        ]
        purpose = package.primary_package_purpose
        if not purls and purpose in (PackagePurpose.OPERATING_SYSTEM, PackagePurpose.CONTAINER):
            if purpose is PackagePurpose.OPERATING_SYSTEM:
                os = os or os_of(package.name, text(package.version))
            continue  # what was inventoried, not a package in it
        source_name, source_version = _source(text(package.source_info))
        components.append(
            SbomComponent(
                name=package.name or label,
                version=text(package.version),
                purl=text(purls[0]) if purls else None,
                cpe=text(cpes[0]) if cpes else None,
                location=where,
                source_name=source_name,
                source_version=source_version,
            )
        )
    return ParsedSbom(
        format=SbomFormat.SPDX_JSON,
        spec_version=version,
        components=tuple(components),
        operating_system=os,
        unscannable=tuple(unscannable),
    )


class _TagValuePackage:
    """The tags of one `PackageName:` section that matter here."""

    def __init__(self, name: str, line: int) -> None:
        self.name = name
        self.line = line
        self.version: str | None = None
        self.purl: str | None = None
        self.cpe: str | None = None
        self.source_info: str | None = None
        self.purpose: str | None = None

    def component(self) -> SbomComponent:
        source_name, source_version = _source(self.source_info)
        return SbomComponent(
            name=self.name,
            version=self.version,
            purl=self.purl,
            cpe=self.cpe,
            location=f"line {self.line}",
            source_name=source_name,
            source_version=source_version,
        )


def _tag_values(content: str) -> list[tuple[int, str, str]]:
    """(line, tag, value) of each `Tag: value` line; a `<text>` value spans lines up to `</text>`."""
    out: list[tuple[int, str, str]] = []
    lines = content.removeprefix("\ufeff").splitlines()
    index = 0
    while index < len(lines):
        number, raw = index + 1, lines[index]
        index += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        tag, sep, value = raw.partition(":")
        if not sep:
            raise SbomError(f"the SPDX tag-value document is malformed at line {number}: expected `Tag: value`")
        value = value.strip()
        if value.startswith("<text>"):
            parts = [value.removeprefix("<text>")]
            while "</text>" not in parts[-1] and index < len(lines):
                parts.append(lines[index])
                index += 1
            if "</text>" not in parts[-1]:
                raise SbomError(f"the SPDX tag-value document is malformed: the <text> of line {number} never ends")
            value = "\n".join(parts).rsplit("</text>", 1)[0].strip()
        out.append((number, tag.strip(), value))
    return out


def read_tag_value(content: bytes) -> ParsedSbom:
    """An SPDX tag-value document's packages (`SbomError` when it is not one)."""
    try:
        decoded = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SbomError(f"the SPDX tag-value document is not UTF-8 text (byte {exc.start})") from exc
    pairs = _tag_values(decoded)
    version = next((value for _, tag, value in pairs if tag == "SPDXVersion"), None)
    if version is None:
        raise SbomError("the document is not SPDX tag-value: it has no `SPDXVersion:` line")
    version = _check_version(version)
    packages: list[_TagValuePackage] = []
    for number, tag, value in pairs:
        if tag == "PackageName":
            packages.append(_TagValuePackage(value or "(a package without a name)", number))
            check_count(len(packages))
        elif tag in ("FileName", "Snippet"):
            packages.append(_TagValuePackage("", -1))  # a file section: tags until the next package are not its
        elif packages and packages[-1].line > 0:
            _apply(packages[-1], tag, value)
    components: list[SbomComponent] = []
    os: tuple[str, str | None] | None = None
    for package in packages:
        if package.line < 0:
            continue
        if package.purl is None and package.purpose in ("OPERATING-SYSTEM", "CONTAINER"):
            if package.purpose == "OPERATING-SYSTEM":
                os = os or os_of(package.name, package.version)
            continue
        components.append(package.component())
    return ParsedSbom(
        format=SbomFormat.SPDX_TAG_VALUE, spec_version=version, components=tuple(components), operating_system=os
    )


def _apply(package: _TagValuePackage, tag: str, value: str) -> None:
    if tag == "PackageVersion":
        package.version = value or None
    elif tag == "PackageSourceInfo":
        package.source_info = value
    elif tag == "PrimaryPackagePurpose":
        package.purpose = value.upper()
    elif tag == "ExternalRef":
        category, kind, locator = ([*value.split(None, 2), "", "", ""])[:3]
        category = category.upper().replace("_", "-")
        if kind == "purl" and package.purl is None and locator:
            package.purl = locator.split()[0]
        elif category == "SECURITY" and kind.lower() in _CPE_TYPES and package.cpe is None and locator:
            package.cpe = locator.split()[0]
