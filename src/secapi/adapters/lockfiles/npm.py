"""npm's `package-lock.json` and `npm-shrinkwrap.json`, lockfile versions 1, 2 and 3."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    StructureError,
    as_mapping,
    child,
    keyed,
    load_json,
    optional_field,
    redact,
    section,
    translate_errors,
    unreadable,
)
from secapi.domain.lockfiles import LockfileParser, ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import npm_purl

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


def _map_entry(path: str, default_name: str, local: bool, raw: object, where: str) -> Package | UnscannableEntry:
    entry = as_mapping(raw, where)
    name = optional_field(entry, "name", where) or default_name
    resolved = optional_field(entry, "resolved", where)
    if entry.get("link") is True:
        reason = f"links to the local directory {resolved or 'named nowhere'} (a workspace package or `file:` path)"
        return UnscannableEntry(name=name, reason=reason, location=where)
    if local:  # a path outside node_modules: a workspace package or a `file:` directory
        reason = f"local code in {path} (a workspace package or local path), not a release on the npm registry"
        return UnscannableEntry(name=name, reason=reason, location=where)
    return classify(name, optional_field(entry, "version", where), resolved, where)


class PackageLockParser(LockfileParser):
    """Reads npm lockfiles; only the root project (`""`) is left out, workspaces and links are reported."""

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
    def _packages_map(packages: Mapping[str, object]) -> list[Entry]:
        found: list[Entry] = []
        for path, raw in packages.items():
            if not path:
                continue  # the project the lockfile belongs to, described by its own package.json
            where, marker = keyed("packages", path), path.rfind(_NODE_MODULES)
            # `node_modules/a/node_modules/@s/b` names `@s/b`; a path outside node_modules names itself.
            name = path if marker < 0 else path[marker + len(_NODE_MODULES) :]
            try:
                found.append(_map_entry(path, name, marker < 0, raw, where))
            except StructureError as error:
                found.append(unreadable(where, name, error))
        return found

    @staticmethod
    def _dependency_tree(dependencies: Mapping[str, object]) -> list[Entry]:
        found: list[Entry] = []
        # Breadth first and iterative: shallow copies come first and deep trees cannot overflow the stack.
        queue: deque[tuple[str, Mapping[str, object]]] = deque([("dependencies", dependencies)])
        while queue:
            parent, level = queue.popleft()
            for name, raw in level.items():
                where = keyed(parent, name)
                try:
                    found.append(_tree_entry(name, raw, where))
                except StructureError as error:
                    found.append(unreadable(where, name, error))
                nested = raw.get("dependencies") if isinstance(raw, dict) else None
                if isinstance(nested, dict) and nested:
                    queue.append((child(where, "dependencies"), as_mapping(nested, child(where, "dependencies"))))
        return found


def _tree_entry(name: str, raw: object, where: str) -> Package | UnscannableEntry:
    entry = as_mapping(raw, where)
    return classify(name, optional_field(entry, "version", where), optional_field(entry, "resolved", where), where)
