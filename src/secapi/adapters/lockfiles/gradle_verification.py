"""Java: Gradle's dependency verification file (`gradle/verification-metadata.xml`).

Gradle writes one `<component group= name= version=>` per module it resolved, for every build
configuration, with the checksums of the files it fetched (`<artifact name=...>`). That makes the
file a complete list of what the build downloaded, including plugins and the buildscript classpath.

Parser decisions:
- A component whose every artifact is a `.pom` (a parent POM, a BOM, a `pom`-packaged aggregator)
  holds no code: it is not an entry. A component with only a Gradle `.module` file is kept: it is the
  root of a Kotlin Multiplatform library, and advisories are filed under that root name.
- A component without a group (Kotlin/Native toolchains downloaded as plain files) is no Maven
  coordinate: it is unscannable, with that reason.
- `<configuration>` (trusted artifacts, keys) names no dependency and is not read.
"""

from __future__ import annotations

from collections.abc import Iterator

from secapi.adapters.lockfiles._common import Entry, EntryParser, StructureError, line, unreadable
from secapi.adapters.lockfiles._xml import XmlElement, load_xml
from secapi.adapters.lockfiles.gradle import ECOSYSTEM, coordinate_entry
from secapi.domain.packages import UnscannableEntry

_METADATA_ONLY = (".pom", ".pom.asc")


class GradleVerificationMetadataParser(EntryParser):
    """Reads the `<components>` of `verification-metadata.xml`: one entry per component with code."""

    ecosystem = ECOSYSTEM
    default_filename = "verification-metadata.xml"

    def entries(self, content: str) -> Iterator[Entry]:
        """Each `<component>` that is not a parent POM or BOM."""
        root = load_xml(content)
        if root.tag != "verification-metadata":
            raise StructureError(line(root.line), f"expected a <verification-metadata> root, found <{root.tag}>")
        for components in root.find_all("components"):
            for element in components.find_all("component"):
                where = line(element.line)
                try:
                    yield _entry(element, where)
                except StructureError as error:
                    yield unreadable(where, element.attributes.get("name"), error)


def _entry(element: XmlElement, where: str) -> Entry:
    attributes = element.attributes
    for attribute in ("name", "version"):
        if not attributes.get(attribute, "").strip():
            raise StructureError(where, f"missing required attribute {attribute!r}")
    group, name, version = (attributes.get(key, "").strip() for key in ("group", "name", "version"))
    artifacts = [artifact.attributes.get("name", "") for artifact in element.find_all("artifact")]
    if artifacts and all(artifact.endswith(_METADATA_ONLY) for artifact in artifacts):
        return None  # a parent POM or BOM: no code to match
    if not group:
        reason = "a file Gradle downloaded without a group (not a Maven module), so it has no Maven name"
        return UnscannableEntry(name=name, reason=reason, location=where)
    return coordinate_entry(group, name, version, where)
