"""Python lockfiles with exact versions: `poetry.lock`, `uv.lock` and `Pipfile.lock`."""

from __future__ import annotations

from collections.abc import Mapping

from secapi.adapters.lockfiles._common import (
    as_mapping,
    child,
    field,
    keyed,
    load_json,
    optional_field,
    redact,
    section,
    toml_packages,
    translate_errors,
)
from secapi.adapters.lockfiles.purl import pypi_purl
from secapi.domain.lockfiles import ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry

ECOSYSTEM = "PyPI"
_NOT_A_RELEASE = "installed from {kind} {target}, not a released version on PyPI"


def _package(name: str, version: str, where: str) -> Package:
    return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=pypi_purl(name, version), location=where)


class PoetryLockParser:
    """Reads `poetry.lock`; packages from git, URLs or local paths are reported as unscannable."""

    def __init__(self, filename: str = "poetry.lock") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse the `[[package]]` tables of a Poetry lockfile."""
        packages: list[Package] = []
        unscannable: list[UnscannableEntry] = []
        with translate_errors(self._filename):
            for where, table in toml_packages(content):
                name, version = field(table, "name", where), field(table, "version", where)
                source = section(table, "source", where)
                kind = optional_field(source, "type", child(where, "source"))
                # `legacy` is a private package index: still a PyPI-style release.
                if kind in (None, "legacy"):
                    packages.append(_package(name, version, where))
                    continue
                target = optional_field(source, "url", child(where, "source")) or "an unknown location"
                reason = _NOT_A_RELEASE.format(kind=f"{kind} source", target=redact(target))
                unscannable.append(UnscannableEntry(name=name, reason=reason, location=where))
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)


class UvLockParser:
    """Reads `uv.lock`; the project's own editable or virtual entries are skipped."""

    def __init__(self, filename: str = "uv.lock") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse the `[[package]]` tables of a uv lockfile."""
        packages: list[Package] = []
        unscannable: list[UnscannableEntry] = []
        with translate_errors(self._filename):
            for where, table in toml_packages(content):
                name = field(table, "name", where)
                source_where = child(where, "source")
                source = as_mapping(table.get("source"), source_where)
                if "editable" in source or "virtual" in source:
                    continue  # the workspace's own members, not dependencies
                if "registry" in source:
                    packages.append(_package(name, field(table, "version", where), where))
                    continue
                kind = next(iter(source), "unknown")
                target = optional_field(source, kind, source_where) if kind in source else None
                reason = _NOT_A_RELEASE.format(kind=f"{kind} source", target=redact(target or "an unknown location"))
                unscannable.append(UnscannableEntry(name=name, reason=reason, location=where))
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)


class PipfileLockParser:
    """Reads `Pipfile.lock` (`default` and `develop`); versions are written `==1.2.3`."""

    def __init__(self, filename: str = "Pipfile.lock") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse the `default` and `develop` groups of a Pipenv lockfile."""
        packages: list[Package] = []
        unscannable: list[UnscannableEntry] = []
        with translate_errors(self._filename):
            document = as_mapping(load_json(content), "")
            for group in ("default", "develop"):
                for name, raw in section(document, group).items():
                    where = keyed(group, name)
                    entry = as_mapping(raw, where)
                    found = self._entry(name, entry, where)
                    if isinstance(found, Package):
                        packages.append(found)
                    elif found is not None:
                        unscannable.append(found)
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)

    @staticmethod
    def _entry(name: str, entry: Mapping[str, object], where: str) -> Package | UnscannableEntry | None:
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
