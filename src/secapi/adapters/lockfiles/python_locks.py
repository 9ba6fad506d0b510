"""Python lockfiles with exact versions: `poetry.lock`, `uv.lock` and `Pipfile.lock`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    StructureError,
    TomlPackagesParser,
    as_mapping,
    child,
    field,
    keyed,
    load_json,
    optional_field,
    redact,
    section,
    unreadable,
)
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import pypi_purl

ECOSYSTEM = "PyPI"
_NOT_A_RELEASE = "installed from {kind} {target}, not a released version on PyPI"
_UV_LOCAL = frozenset({"editable", "virtual", "path", "directory"})


def _package(name: str, version: str, where: str) -> Package:
    return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=pypi_purl(name, version), location=where)


class PoetryLockParser(TomlPackagesParser):
    """Reads `poetry.lock`; packages from git, URLs or local paths are reported as unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "poetry.lock"

    @staticmethod
    def _entry(table: Mapping[str, object], where: str) -> Entry:
        name, version = field(table, "name", where), field(table, "version", where)
        source = section(table, "source", where)
        kind = optional_field(source, "type", child(where, "source"))
        # `legacy` is a private package index: still a PyPI-style release.
        if kind in (None, "legacy"):
            return _package(name, version, where)
        target = optional_field(source, "url", child(where, "source")) or "an unknown location"
        reason = _NOT_A_RELEASE.format(kind=f"{kind} source", target=redact(target))
        return UnscannableEntry(name=name, reason=reason, location=where)


class UvLockParser(TomlPackagesParser):
    """Reads `uv.lock`; editable, virtual, path, directory, git and URL sources are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "uv.lock"

    @staticmethod
    def _entry(table: Mapping[str, object], where: str) -> Entry:
        name = field(table, "name", where)
        source_where = child(where, "source")
        source = section(table, "source", where)
        # No source table means the default index, as for a registry source.
        if not source or "registry" in source:
            version = optional_field(table, "version", where)
            if version is None:
                return UnscannableEntry(name=name, reason="no version is recorded for it", location=where)
            return _package(name, version, where)
        kind = next(iter(source))
        target = redact(optional_field(source, kind, source_where) or "an unknown location")
        if kind in _UV_LOCAL:
            # The project itself is listed this way too: it is installed, so it is reported, not dropped.
            reason = f"local code ({kind} source {target}: the project itself or a local path), not a release on PyPI"
        else:
            reason = _NOT_A_RELEASE.format(kind=f"{kind} source", target=target)
        return UnscannableEntry(name=name, reason=reason, location=where)


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
                try:
                    yield self._entry(name, raw, where)
                except StructureError as error:
                    yield unreadable(where, name, error)

    @staticmethod
    def _entry(name: str, raw: object, where: str) -> Entry:
        entry = as_mapping(raw, where)
        version = optional_field(entry, "version", where)
        for kind in ("git", "hg", "svn", "bzr", "file", "path"):
            target = optional_field(entry, kind, where) if kind in entry else None
            if target is None:
                continue
            if kind == "path" and entry.get("editable") is True:
                # Usually the project itself (`-e .`); installed all the same, so reported, never dropped.
                reason = f"an editable install of local code ({target}: the project itself or a local path)"
            else:
                reason = _NOT_A_RELEASE.format(kind=kind, target=redact(target))
            return UnscannableEntry(name=name, reason=reason, location=where)
        if version is not None and version.startswith("==="):
            return _package(name, version[3:], where)
        if version is not None and version.startswith("==") and not version.endswith(".*"):
            return _package(name, version[2:], where)
        reason = f"not pinned to one exact version ({version or 'no version'})"
        return UnscannableEntry(name=name, reason=reason, location=where)
