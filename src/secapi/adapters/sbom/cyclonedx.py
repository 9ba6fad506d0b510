"""CycloneDX documents (JSON and XML, spec 1.2 to 1.7) into components, nested ones included.

cyclonedx-python-lib decides which spec versions exist (`SchemaVersion`); its deserialiser
(`Bom.from_json` / `Bom.from_xml`) is not used to read the components: it took 2.2 s for 5,000
components (msgspec: milliseconds), and it refuses the whole document for one malformed purl or an
unknown component type, where one bad entry must become one unscannable entry. XML is read with
defusedxml (no DTD, no entity expansion, no external entities).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

import msgspec
from cyclonedx.schema import SchemaVersion
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from secapi.adapters.sbom._common import check_count, os_of, text
from secapi.domain.packages import UnscannableEntry
from secapi.domain.sbom import ParsedSbom, SbomComponent, SbomError, SbomFormat

_XML_NAMESPACE = "http://cyclonedx.org/schema/bom/"
_NOT_PACKAGES = frozenset({"operating-system", "container"})
"""Component types that describe what was inventoried, not a package in it (a purl-less OS names the release)."""
_TRIVY = "aquasecurity:trivy:"
_TRIVY_SOURCE = frozenset(f"{_TRIVY}Src{part}" for part in ("Name", "Version", "Release", "Epoch"))


def supported_version(version: object) -> str:
    """`version` if cyclonedx-python-lib knows it and it is 1.2 or later (JSON began with 1.2), else `SbomError`."""
    known = [v.to_version() for v in SchemaVersion if v.value >= (1, 2)]
    if isinstance(version, str):
        try:
            if SchemaVersion.from_version(version).value >= (1, 2):
                return version
        except ValueError:
            pass
    shown = version if isinstance(version, str) else type(version).__name__
    raise SbomError(f"CycloneDX spec version {shown!r} is not supported; SecAPI reads {', '.join(sorted(known))}")


class _Document(msgspec.Struct, rename={"bom_format": "bomFormat", "spec_version": "specVersion"}):
    bom_format: Any = None
    spec_version: Any = None
    metadata: Any = None
    components: list[msgspec.Raw] = msgspec.field(default_factory=list)


class _Component(msgspec.Struct):
    name: Any = None
    version: Any = None
    group: Any = None
    type: Any = None
    purl: Any = None
    cpe: Any = None
    properties: Any = None
    components: list[msgspec.Raw] = msgspec.field(default_factory=list)


def read_json(content: bytes) -> ParsedSbom:
    """A CycloneDX JSON document's components (`SbomError` when it is not one)."""
    try:
        document = msgspec.json.decode(content, type=_Document)
    except msgspec.ValidationError as exc:
        raise SbomError(f"the CycloneDX JSON document is not valid: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise SbomError(f"the CycloneDX document is not valid JSON: {exc}") from exc
    if document.bom_format != "CycloneDX":
        raise SbomError('the JSON document is not a CycloneDX BOM: its "bomFormat" is not "CycloneDX"')
    version = supported_version(document.spec_version)
    components: list[SbomComponent] = []
    unscannable: list[UnscannableEntry] = []
    os: tuple[str, str | None] | None = None
    metadata = document.metadata.get("component") if isinstance(document.metadata, dict) else None
    if isinstance(metadata, dict) and metadata.get("type") == "operating-system":
        os = os_of(text(metadata.get("name")), text(metadata.get("version")))
    stack = [(f"components[{i}]", raw) for i, raw in reversed(list(enumerate(document.components)))]
    while stack:
        where, raw = stack.pop()
        try:
            component = msgspec.json.decode(raw, type=_Component)
        except msgspec.DecodeError as exc:  # a ValidationError too: one bad entry, not the document
            reason = f"this component could not be read: {exc}"
            unscannable.append(UnscannableEntry(name="(an unreadable component)", reason=reason, location=where))
            continue
        check_count(len(components) + 1 + len(stack) + len(component.components))
        stack.extend((f"{where}.components[{i}]", c) for i, c in reversed(list(enumerate(component.components))))
        if text(component.type) in _NOT_PACKAGES and text(component.purl) is None:
            if component.type == "operating-system":
                os = os or os_of(text(component.name), text(component.version))
            continue
        components.append(_json_component(component, where))
    return ParsedSbom(
        format=SbomFormat.CYCLONEDX_JSON,
        spec_version=version,
        components=tuple(components),
        operating_system=os,
        unscannable=tuple(unscannable),
    )


def _json_component(component: _Component, where: str) -> SbomComponent:
    properties = {}
    if isinstance(component.properties, list):
        for item in component.properties:
            if isinstance(item, dict) and text(item.get("name")) in _TRIVY_SOURCE:
                properties[str(item["name"])] = text(item.get("value"))
    source_name, source_version = _trivy_source(properties)
    name, group = text(component.name), text(component.group)
    return SbomComponent(
        name=(f"{group}/{name}" if group and name else name) or "(a component without a name)",
        version=text(component.version),
        purl=text(component.purl),
        cpe=text(component.cpe),
        location=where,
        source_name=source_name,
        source_version=source_version,
    )


def _trivy_source(properties: dict[str, str | None]) -> tuple[str | None, str | None]:
    """Trivy writes a distribution package's source as properties: name, and version, epoch and release apart
    (`SrcEpoch` 1, `SrcVersion` 1.2.13.dfsg, `SrcRelease` 1 → `1:1.2.13.dfsg-1`, as dpkg and rpm write it)."""
    name, version = properties.get(f"{_TRIVY}SrcName"), properties.get(f"{_TRIVY}SrcVersion")
    if name is None or version is None:
        return name, None
    release, epoch = properties.get(f"{_TRIVY}SrcRelease"), properties.get(f"{_TRIVY}SrcEpoch")
    version = f"{version}-{release}" if release else version
    return name, f"{epoch}:{version}" if epoch and epoch != "0" else version


def read_xml(content: bytes) -> ParsedSbom:
    """A CycloneDX XML document's components (`SbomError` when it is not one, or declares a DTD)."""
    try:
        root = fromstring(content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SbomError(f"the XML document is refused: {type(exc).__name__} (no DTD or entities are accepted)") from exc
    except ParseError as exc:
        raise SbomError(f"the CycloneDX document is not valid XML: {exc}") from exc
    namespace, _, tag = root.tag.rpartition("}")
    namespace = namespace.lstrip("{")
    if tag != "bom" or not namespace.startswith(_XML_NAMESPACE):
        raise SbomError(f"the XML document is not a CycloneDX BOM (its root is {root.tag!r})")
    version = supported_version(namespace.removeprefix(_XML_NAMESPACE))
    ns = f"{{{namespace}}}"
    components: list[SbomComponent] = []
    os: tuple[str, str | None] | None = None
    metadata = root.find(f"{ns}metadata/{ns}component")
    if metadata is not None and metadata.get("type") == "operating-system":
        os = os_of(_child(metadata, ns, "name"), _child(metadata, ns, "version"))
    stack = [(f"components[{i}]", c) for i, c in reversed(list(enumerate(_children(root, ns))))]
    while stack:
        where, element = stack.pop()
        nested = _children(element, ns)
        check_count(len(components) + 1 + len(stack) + len(nested))
        stack.extend((f"{where}.components[{i}]", c) for i, c in reversed(list(enumerate(nested))))
        purl, kind = _child(element, ns, "purl"), element.get("type")
        if kind in _NOT_PACKAGES and purl is None:
            if kind == "operating-system":
                os = os or os_of(_child(element, ns, "name"), _child(element, ns, "version"))
            continue
        properties = {
            str(p.get("name")): text(p.text)
            for p in element.findall(f"{ns}properties/{ns}property")
            if p.get("name") in _TRIVY_SOURCE
        }
        source_name, source_version = _trivy_source(properties)
        name, group = _child(element, ns, "name"), _child(element, ns, "group")
        components.append(
            SbomComponent(
                name=(f"{group}/{name}" if group and name else name) or "(a component without a name)",
                version=_child(element, ns, "version"),
                purl=purl,
                cpe=_child(element, ns, "cpe"),
                location=where,
                source_name=source_name,
                source_version=source_version,
            )
        )
    return ParsedSbom(
        format=SbomFormat.CYCLONEDX_XML, spec_version=version, components=tuple(components), operating_system=os
    )


def _children(element: Element, ns: str) -> list[Element]:
    return element.findall(f"{ns}components/{ns}component")


def _child(element: Element, ns: str, tag: str) -> str | None:
    found = element.find(f"{ns}{tag}")
    return None if found is None else text(found.text)
