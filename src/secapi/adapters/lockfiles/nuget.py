""".NET: NuGet's `packages.lock.json` and the runtime manifest `<app>.deps.json`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    StructureError,
    as_mapping,
    field,
    keyed,
    load_json,
    optional_field,
    section,
    unreadable,
)
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import nuget_purl

ECOSYSTEM = "NuGet"


def nuget_package(name: str, version: str, where: str) -> Package:
    """A package from nuget.org; a version's `+build` metadata is not part of its identity."""
    version = version.split("+", 1)[0]
    return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=nuget_purl(name, version), location=where)


class PackagesLockJsonParser(EntryParser):
    """Reads `packages.lock.json`; `Project` entries are references to other projects, not packages."""

    ecosystem = ECOSYSTEM
    default_filename = "packages.lock.json"

    def entries(self, content: str) -> Iterator[Entry]:
        """Every package of every target framework (and runtime), each project reference once."""
        frameworks = section(as_mapping(load_json(content), ""), "dependencies")
        # An unscannable entry is reported once across target frameworks, unless its reason differs.
        reported: set[tuple[str, str]] = set()
        for framework, raw_packages in frameworks.items():
            parent = keyed("dependencies", framework)
            for name, raw in as_mapping(raw_packages, parent).items():
                where = keyed(parent, name)
                try:
                    entry = _entry(name, raw, where)
                except StructureError as error:
                    entry = unreadable(where, name, error)
                if isinstance(entry, UnscannableEntry):
                    if (entry.name, entry.reason) in reported:
                        continue
                    reported.add((entry.name, entry.reason))
                yield entry


def _entry(name: str, raw: object, where: str) -> Entry:
    entry: Mapping[str, object] = as_mapping(raw, where)
    if optional_field(entry, "type", where) == "Project":
        reason = "a reference to another project in the solution, not a package from a NuGet feed"
        return UnscannableEntry(name=name, reason=reason, location=where)
    version = optional_field(entry, "resolved", where)
    if not version:
        raise StructureError(where, "missing required field 'resolved'")
    return nuget_package(name, version, where)


class DepsJsonParser(EntryParser):
    """Reads the `libraries` of a `.deps.json`: `package` entries are NuGet packages, projects are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "app.deps.json"

    def entries(self, content: str) -> Iterator[Entry]:
        """One entry per `Name/version` key of `libraries`."""
        libraries = section(as_mapping(load_json(content), ""), "libraries")
        for key, raw in libraries.items():
            where = keyed("libraries", key)
            try:
                yield _library(key, raw, where)
            except StructureError as error:
                yield unreadable(where, key.partition("/")[0], error)


_LIBRARY_KINDS = {
    "project": "a project built with the application, not a package from a NuGet feed",
    "reference": "an assembly referenced by file, not a package from a NuGet feed",
}


def _library(key: str, raw: object, where: str) -> Entry:
    library: Mapping[str, object] = as_mapping(raw, where)
    name, _, version = key.partition("/")
    if not name or not version:
        raise StructureError(where, "expected a `Name/version` key")
    kind = field(library, "type", where)
    if kind == "package":
        return nuget_package(name, version, where)
    if kind == "runtimepack":
        # A self-contained app's runtime, e.g. `runtimepack.Microsoft.NETCore.App.Runtime.linux-x64`, a NuGet id.
        return nuget_package(name.removeprefix("runtimepack."), version, where)
    reason = _LIBRARY_KINDS.get(kind, f"a library of type {kind!r}, not a package from a NuGet feed")
    return UnscannableEntry(name=name, reason=reason, location=where)
