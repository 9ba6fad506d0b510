""".NET: NuGet's `packages.lock.json` (dependencies per target framework)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    StructureError,
    as_mapping,
    keyed,
    load_json,
    optional_field,
    section,
    unreadable,
)
from secapi.adapters.lockfiles.purl import nuget_purl
from secapi.domain.packages import Package, UnscannableEntry

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
        reported: set[str] = set()  # unscannable names, reported once across target frameworks
        for framework, raw_packages in frameworks.items():
            parent = keyed("dependencies", framework)
            for name, raw in as_mapping(raw_packages, parent).items():
                where = keyed(parent, name)
                try:
                    entry = _entry(name, raw, where)
                except StructureError as error:
                    entry = unreadable(where, name, error)
                if isinstance(entry, UnscannableEntry):
                    if entry.name in reported:
                        continue
                    reported.add(entry.name)
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
