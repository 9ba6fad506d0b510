"""Python lockfiles with exact versions: `poetry.lock`, `uv.lock` and `Pipfile.lock`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    as_mapping,
    child,
    field,
    keyed,
    load_json,
    optional_field,
    redact,
    section,
    toml_packages,
)
from secapi.adapters.lockfiles.purl import pypi_purl
from secapi.domain.packages import Package, UnscannableEntry

ECOSYSTEM = "PyPI"
_NOT_A_RELEASE = "installed from {kind} {target}, not a released version on PyPI"


def _package(name: str, version: str, where: str) -> Package:
    return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=pypi_purl(name, version), location=where)


class PoetryLockParser(EntryParser):
    """Reads `poetry.lock`; packages from git, URLs or local paths are reported as unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "poetry.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """The `[[package]]` tables of a Poetry lockfile."""
        for where, table in toml_packages(content):
            name, version = field(table, "name", where), field(table, "version", where)
            source = section(table, "source", where)
            kind = optional_field(source, "type", child(where, "source"))
            # `legacy` is a private package index: still a PyPI-style release.
            if kind in (None, "legacy"):
                yield _package(name, version, where)
                continue
            target = optional_field(source, "url", child(where, "source")) or "an unknown location"
            reason = _NOT_A_RELEASE.format(kind=f"{kind} source", target=redact(target))
            yield UnscannableEntry(name=name, reason=reason, location=where)


class UvLockParser(EntryParser):
    """Reads `uv.lock`; the project's own editable or virtual entries are skipped."""

    ecosystem = ECOSYSTEM
    default_filename = "uv.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """The `[[package]]` tables of a uv lockfile."""
        for where, table in toml_packages(content):
            name = field(table, "name", where)
            source_where = child(where, "source")
            source = as_mapping(table.get("source"), source_where)
            if "editable" in source or "virtual" in source:
                continue  # the workspace's own members, not dependencies
            if "registry" in source:
                yield _package(name, field(table, "version", where), where)
                continue
            kind = next(iter(source), "unknown")
            target = optional_field(source, kind, source_where) if kind in source else None
            reason = _NOT_A_RELEASE.format(kind=f"{kind} source", target=redact(target or "an unknown location"))
            yield UnscannableEntry(name=name, reason=reason, location=where)


class PipfileLockParser(EntryParser):
    """Reads `Pipfile.lock` (`default` and `develop`); versions are written `==1.2.3`."""

    ecosystem = ECOSYSTEM
    default_filename = "Pipfile.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """The `default` and `develop` groups of a Pipenv lockfile."""
        document = as_mapping(load_json(content), "")
        for group in ("default", "develop"):
            for name, raw in section(document, group).items():
                where = keyed(group, name)
                yield self._entry(name, as_mapping(raw, where), where)

    @staticmethod
    def _entry(name: str, entry: Mapping[str, object], where: str) -> Entry:
        version = optional_field(entry, "version", where)
        for kind in ("git", "hg", "svn", "bzr", "file", "path"):
            target = optional_field(entry, kind, where) if kind in entry else None
            if target is None:
                continue
            if kind == "path" and entry.get("editable") is True:
                return None  # an editable local path is the project's own code
            reason = _NOT_A_RELEASE.format(kind=kind, target=redact(target))
            return UnscannableEntry(name=name, reason=reason, location=where)
        if version is not None and version.startswith("==="):
            return _package(name, version[3:], where)
        if version is not None and version.startswith("==") and not version.endswith(".*"):
            return _package(name, version[2:], where)
        reason = f"not pinned to one exact version ({version or 'no version'})"
        return UnscannableEntry(name=name, reason=reason, location=where)
