""".NET: the legacy NuGet `packages.config` (`<package id="..." version="..." />`)."""

from __future__ import annotations

from collections.abc import Iterator

from secapi.adapters.lockfiles._common import Entry, EntryParser, StructureError, line, unreadable
from secapi.adapters.lockfiles._xml import XmlElement, load_xml
from secapi.adapters.lockfiles.nuget import ECOSYSTEM, nuget_package


class PackagesConfigParser(EntryParser):
    """Reads `packages.config`: every `<package>` names the exact version that is installed."""

    ecosystem = ECOSYSTEM
    default_filename = "packages.config"

    def entries(self, content: str) -> Iterator[Entry]:
        """The `<package>` elements of the `<packages>` root."""
        root = load_xml(content)
        if root.tag != "packages":
            raise StructureError(line(root.line), f"expected a <packages> root element, found <{root.tag}>")
        for element in root.find_all("package"):
            where = line(element.line)
            try:
                yield _entry(element, where)
            except StructureError as error:
                yield unreadable(where, element.attributes.get("id"), error)


def _entry(element: XmlElement, where: str) -> Entry:
    for attribute in ("id", "version"):
        if not element.attributes.get(attribute, "").strip():
            raise StructureError(where, f"missing required attribute {attribute!r}")
    return nuget_package(element.attributes["id"].strip(), element.attributes["version"].strip(), where)
