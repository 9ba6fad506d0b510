"""Java: Gradle's dependency lock state (`gradle.lockfile`, `buildscript-gradle.lockfile`)."""

from __future__ import annotations

from collections.abc import Iterator

from secapi.adapters.lockfiles._common import Entry, EntryParser, line, lines
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import maven_purl

ECOSYSTEM = "Maven"


class GradleLockfileParser(EntryParser):
    """Reads `group:artifact:version=configurations` lines; `empty=` lists configurations, not packages."""

    ecosystem = ECOSYSTEM
    default_filename = "gradle.lockfile"

    def entries(self, content: str) -> Iterator[Entry]:
        """One entry per coordinate line; comments, blank lines and the `empty=` line are not entries."""
        for number, text in lines(content):
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            # Gradle 6+ appends `=configurations`; the older per-configuration files have bare coordinates.
            coordinates, _, _ = stripped.partition("=")
            if coordinates == "empty":
                continue
            yield _entry(coordinates.strip(), line(number))


def _entry(coordinates: str, where: str) -> Entry:
    parts = coordinates.split(":")
    if len(parts) != 3 or not all(part.strip() for part in parts):
        return UnscannableEntry(
            name=coordinates or "(an entry without a name)",
            reason="this line is not a `group:artifact:version` coordinate",
            location=where,
        )
    group, artifact, version = (part.strip() for part in parts)
    return coordinate_entry(group, artifact, version, where)


def coordinate_entry(group: str, artifact: str, version: str, where: str) -> Entry:
    """The Maven package `group:artifact` at `version`; a `-SNAPSHOT` build is unscannable."""
    name = f"{group}:{artifact}"
    if version.endswith("-SNAPSHOT"):
        reason = f"the snapshot build {version!r} is not a released version"
        return UnscannableEntry(name=name, reason=reason, location=where)
    return Package(
        name=name, version=version, ecosystem=ECOSYSTEM, purl=maven_purl(group, artifact, version), location=where
    )
