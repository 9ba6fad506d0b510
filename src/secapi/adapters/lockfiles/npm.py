"""npm's `package-lock.json` and `npm-shrinkwrap.json`, lockfile versions 1, 2 and 3."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from secapi.adapters.lockfiles._common import (
    as_mapping,
    child,
    keyed,
    load_json,
    optional_field,
    redact,
    section,
    translate_errors,
)
from secapi.adapters.lockfiles.purl import npm_purl
from secapi.domain.lockfiles import ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry

ECOSYSTEM = "npm"
GIT_PREFIXES = ("git+", "git:", "git@", "github:", "gitlab:", "bitbucket:", "gist:")
LOCAL_PREFIXES = ("file:", "link:", "portal:")
_NODE_MODULES = "node_modules/"


def split_spec(spec: str) -> tuple[str, str]:
    """Split `name@range` (scoped names keep their leading `@`) into (name, range)."""
    at = spec.find("@", 1)
    return (spec, "") if at < 0 else (spec[:at], spec[at + 1 :])


def classify(name: str, version: str | None, resolved: str | None, where: str) -> Package | UnscannableEntry:
    """A registry package, or an unscannable entry for git, local or version-less ones."""
    if version is None:
        return UnscannableEntry(name=name, reason="no version is recorded for it", location=where)
    if version.startswith("npm:"):  # alias: `npm:real-name@1.2.3`
        real_name, version = split_spec(version[4:])
        name = real_name or name
    for origin in (version, resolved or ""):
        if origin.startswith(GIT_PREFIXES):
            reason = f"installed from git ({redact(origin)}), not a released version on the npm registry"
            return UnscannableEntry(name=name, reason=reason, location=where)
        if origin.startswith(LOCAL_PREFIXES):
            reason = f"installed from a local path ({origin}), not a released version on the npm registry"
            return UnscannableEntry(name=name, reason=reason, location=where)
    if not version:
        return UnscannableEntry(name=name, reason="no version is recorded for it", location=where)
    return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=npm_purl(name, version), location=where)


class PackageLockParser:
    """Reads npm lockfiles; workspace members and links are the project's own code and are skipped."""

    def __init__(self, filename: str = "package-lock.json") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse the `packages` map (v2, v3) or else the nested `dependencies` tree (v1)."""
        with translate_errors(self._filename):
            document = as_mapping(load_json(content), "")
            if document.get("packages") is not None:
                found = self._packages_map(section(document, "packages"))
            else:
                found = self._dependency_tree(section(document, "dependencies"))
            packages = [item for item in found if isinstance(item, Package)]
            unscannable = [item for item in found if isinstance(item, UnscannableEntry)]
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)

    @staticmethod
    def _packages_map(packages: Mapping[str, object]) -> list[Package | UnscannableEntry]:
        found: list[Package | UnscannableEntry] = []
        for path, raw in packages.items():
            where = keyed("packages", path)
            entry = as_mapping(raw, where)
            marker = path.rfind(_NODE_MODULES)
            # "" is the root project; paths outside node_modules are workspace members; links
            # point at those members (or other local directories).
            if marker < 0 or entry.get("link") is True:
                continue
            name = optional_field(entry, "name", where) or path[marker + len(_NODE_MODULES) :]
            version = optional_field(entry, "version", where)
            found.append(classify(name, version, optional_field(entry, "resolved", where), where))
        return found

    @staticmethod
    def _dependency_tree(dependencies: Mapping[str, object]) -> list[Package | UnscannableEntry]:
        found: list[Package | UnscannableEntry] = []
        # Breadth first and iterative: shallow copies come first and deep trees cannot overflow the stack.
        queue: deque[tuple[str, Mapping[str, object]]] = deque([("dependencies", dependencies)])
        while queue:
            parent, level = queue.popleft()
            for name, raw in level.items():
                where = keyed(parent, name)
                entry = as_mapping(raw, where)
                version = optional_field(entry, "version", where)
                found.append(classify(name, version, optional_field(entry, "resolved", where), where))
                nested = section(entry, "dependencies", where)
                if nested:
                    queue.append((child(where, "dependencies"), nested))
        return found
