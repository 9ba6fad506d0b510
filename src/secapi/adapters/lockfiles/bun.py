"""Bun's text lockfile `bun.lock` (Bun 1.2+): JSON with trailing commas, npm packages."""

from __future__ import annotations

import re
from collections.abc import Iterator

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    StructureError,
    as_list,
    as_mapping,
    as_str,
    keyed,
    load_json,
    redact,
    section,
    unreadable,
)
from secapi.adapters.lockfiles.npm import ECOSYSTEM, GIT_PREFIXES, LOCAL_PREFIXES, split_spec
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import npm_purl

# Strings are matched whole so a comma, `//` or `/*` inside one is left alone.
_JSONC = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|//[^\n]*|/\*.*?\*/|,(?=\s*[}\]])', re.DOTALL)
_SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")


def _blank(found: re.Match[str]) -> str:
    text = found[0]
    if text[0] == '"':
        return text
    return re.sub(r"[^\n]", " ", text)  # comments and trailing commas become spaces; lines keep their numbers


def load_jsonc(content: str) -> object:
    """Decode JSON that may hold trailing commas and comments, as `bun.lock` does."""
    return load_json(_JSONC.sub(_blank, content.removeprefix("\ufeff")))


def _entry(key: str, raw: object, where: str) -> Entry:
    values = as_list(raw, where)
    if not values:
        raise StructureError(where, 'expected ["name@version", ...], found an empty array')
    resolved = as_str(values[0], f"{where}[0]")
    name, spec = split_spec(resolved)
    name = name or key
    if _SEMVER.fullmatch(spec):
        return Package(name=name, version=spec, ecosystem=ECOSYSTEM, purl=npm_purl(name, spec), location=where)
    if spec.startswith("workspace:"):
        reason = f"a workspace package ({spec[10:] or '.'}), local code rather than a release on the npm registry"
    elif spec.startswith(GIT_PREFIXES):
        reason = f"installed from git ({redact(spec)}), not a released version on the npm registry"
    elif spec.startswith(LOCAL_PREFIXES):
        reason = f"installed from a local path ({spec}), not a released version on the npm registry"
    elif spec.startswith(("http://", "https://")):
        reason = f"installed from a tarball URL ({redact(spec)}), not a released version on the npm registry"
    else:
        reason = f"resolved to {spec!r}, not an exact version on the npm registry"
    return UnscannableEntry(name=name, reason=reason, location=where)


class BunLockParser(EntryParser):
    """Reads `bun.lock`; workspace, git, file and tarball packages are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "bun.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """One entry per key of `packages` (`"react"`, or `"parent/react"` for a nested second version)."""
        document = as_mapping(load_jsonc(content), "")
        if "lockfileVersion" not in document:
            raise StructureError("lockfileVersion", "missing; is this a bun.lock?")
        for key, raw in section(document, "packages").items():
            where = keyed("packages", key)
            try:
                yield _entry(key, raw, where)
            except StructureError as error:
                yield unreadable(where, key, error)
