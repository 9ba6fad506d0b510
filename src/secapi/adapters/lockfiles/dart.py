"""Dart and Flutter: `pubspec.lock` packages from pub.dev."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    StructureError,
    as_mapping,
    child,
    field,
    optional_field,
    redact,
    unreadable,
)
from secapi.adapters.lockfiles._yaml import YamlReader
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import pub_purl

ECOSYSTEM = "Pub"
# pub writes the default host as `https://pub.dev`; lockfiles from before Dart 2.19 say pub.dartlang.org.
_PUB_DEV = frozenset({"https://pub.dev", "https://pub.dartlang.org"})
_SOURCES = {
    "git": "installed from git ({}), not a release published on pub.dev",
    "path": "a local path dependency ({}), not a release published on pub.dev",
    "sdk": "part of the {} SDK, versioned with it rather than published on pub.dev",
}


def _target(source: str, description: object) -> str:
    """What a non-hosted entry points at: the git URL, the path or the SDK name."""
    if isinstance(description, str):
        return description  # `description: flutter` for an SDK package
    if isinstance(description, dict):
        found = description.get("url") or description.get("path")
        if isinstance(found, str):
            return redact(found)
    return source


def _entry(name: str, fields: Mapping[str, object], where: str) -> Entry:
    source, version = field(fields, "source", where), field(fields, "version", where)
    description = fields.get("description")
    if source == "hosted":
        host = "https://pub.dev"
        if isinstance(description, dict):
            host = optional_field(as_mapping(description, child(where, "description")), "url", where) or host
        if host.rstrip("/") in _PUB_DEV:
            return Package(
                name=name, version=version, ecosystem=ECOSYSTEM, purl=pub_purl(name, version), location=where
            )
        reason = f"installed from another package server ({redact(host)}); pub.dev advisories may not apply"
    elif source in _SOURCES:
        reason = _SOURCES[source].format(_target(source, description))
    else:
        reason = f"installed from the unknown source {source!r}, not a release published on pub.dev"
    return UnscannableEntry(name=name, reason=reason, location=where)


class PubspecLockParser(EntryParser):
    """Reads `pubspec.lock`; git, path and SDK packages (and other package servers) are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "pubspec.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """The entries of the `packages` section; `sdks` only constrains the toolchain."""
        reader = YamlReader(content)
        for key, where in reader.document():
            if key != "packages":
                reader.skip()
                continue
            for name, at in reader.mapping(where):
                raw = reader.value(at)  # built whole, so an entry of the wrong shape is skipped cleanly
                try:
                    yield _entry(name, as_mapping(raw, at), at)
                except StructureError as error:
                    yield unreadable(at, name, error)
