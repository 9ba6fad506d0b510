"""`pnpm-lock.yaml`, lockfile versions 5.x (`/name/1.0.0`), 6.x (`/name@1.0.0`) and 9.x (`name@1.0.0`)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from secapi.adapters.lockfiles._common import (
    Entry,
    StructureError,
    as_mapping,
    child,
    optional_field,
    redact,
    translate_errors,
    unreadable,
)
from secapi.adapters.lockfiles._yaml import YamlReader
from secapi.adapters.lockfiles.npm import ECOSYSTEM, split_spec
from secapi.domain.lockfiles import LockfileParser, ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import npm_purl

_NON_REGISTRY_RESOLUTIONS = ("git", "directory")
_WANTED = frozenset({"name", "version", "resolution"})
_DEPENDENCY_SECTIONS = frozenset({"dependencies", "devDependencies", "optionalDependencies"})
# npm versions are SemVer; a git commit, path or URL in the version slot is not a registry release.
_SEMVER = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
# A registry host prefixing a 5.x/6.x key: `registry.example.org/name/1.0.0`, `localhost:4873/name@1.0.0`.
_HOST = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?|[A-Za-z0-9.-]+:\d+")


def _major_version(raw: str | None) -> int:
    if raw is None:
        raise StructureError("lockfileVersion", "missing; is this a pnpm lockfile?")
    try:
        return int(raw.split(".", 1)[0])
    except ValueError as exc:
        raise StructureError("lockfileVersion", f"not a lockfile version: {raw!r}") from exc


def split_key(key: str, major: int) -> tuple[str, str] | None:
    """The (name, version) a `packages` key names, peer suffixes removed; None when it is not `name@version`."""
    path = key
    if major < 9 and not key.startswith("/"):
        host, slash, rest = key.partition("/")
        if not slash or _HOST.fullmatch(host) is None:
            return None  # `file:...`, `link:...` and other non-registry keys
        path = rest
    # Peers: 6.x/9.x `(react@18.2.0)(react-dom@18.2.0)`, 5.x `_react@18.2.0+react-dom@18.2.0` (scopes as `+`).
    path = path.removeprefix("/").split("(", 1)[0]
    if major < 6:
        name, _, version = path.rpartition("/")
        version = version.split("_", 1)[0]
    else:
        name, version = split_spec(path)
    return (name, version) if name and _SEMVER.fullmatch(version) else None


def _key_name(key: str, major: int) -> str:
    """The package name in a key that is not `name@version`: 9.x still starts with it (`left-pad@https://...`)."""
    if major < 6 and key.startswith("/"):
        return key[1:].rpartition("/")[0] or key
    return split_spec(key.removeprefix("/"))[0] or key


def _entry(parsed: tuple[str, str] | None, key_name: str, key: str, raw: object, where: str) -> Entry:
    entry = as_mapping(raw, where)
    resolution = as_mapping(entry.get("resolution") or {}, child(where, "resolution"))
    name = optional_field(entry, "name", where) or key_name
    kind = optional_field(resolution, "type", child(where, "resolution"))
    if parsed is None or kind in _NON_REGISTRY_RESOLUTIONS:
        target = optional_field(resolution, "tarball", child(where, "resolution")) or key
        reason = (
            f"installed from {kind or 'a URL or path'} ({redact(target)}), not a released version on the npm registry"
        )
        return UnscannableEntry(name=name, reason=reason, location=where)
    version = parsed[1]
    return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=npm_purl(name, version), location=where)


def _importer_links(reader: YamlReader, where: str) -> Iterator[UnscannableEntry]:
    """The `link:` dependencies of one importer: local directories that never appear under `packages`."""
    for section, at in reader.mapping(where):
        if section in _DEPENDENCY_SECTIONS:
            yield from _links(reader, at)
        else:
            reader.skip()


def _links(reader: YamlReader, where: str) -> Iterator[UnscannableEntry]:
    """The `link:` entries of one dependency section."""
    for name, at in reader.mapping(where):
        value = reader.value(at)
        # 5.x writes the version; 6.x and 9.x write `{specifier, version}`.
        version = value.get("version") if isinstance(value, dict) else value
        if isinstance(version, str) and version.startswith("link:"):
            reason = f"links to the local directory {version[5:]} (a workspace package or local path), not a release"
            yield UnscannableEntry(name=name, reason=reason, location=at)


class PnpmLockParser(LockfileParser):
    """Reads `pnpm-lock.yaml`: registry packages with peer suffixes stripped; git, file and link entries reported."""

    def __init__(self, filename: str = "pnpm-lock.yaml") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse the `packages` section, and the importers' `link:` dependencies, into npm packages."""
        with translate_errors(self._filename):
            reader = YamlReader(content)
            version: str | None = None
            entries: list[tuple[str, str, object]] = []
            found: list[Entry] = []
            for key, where in reader.document():
                if key == "lockfileVersion":
                    version = reader.scalar(where)
                elif key == "packages":
                    entries.extend((name, at, reader.fields(_WANTED, at)) for name, at in reader.mapping(where))
                elif key == "importers":
                    for _, at in reader.mapping(where):
                        found.extend(_importer_links(reader, at))
                elif key in _DEPENDENCY_SECTIONS:  # a single-project 5.x/6.x lockfile has no `importers`
                    found.extend(_links(reader, where))
                else:
                    reader.skip()  # snapshots, settings, specifiers: nothing the scan needs
            major = _major_version(version) if entries else 9  # an empty lockfile pins nothing
            for key, where, fields in entries:
                parsed = split_key(key, major)
                name = parsed[0] if parsed else _key_name(key, major)
                try:
                    found.append(_entry(parsed, name, key, fields, where))
                except StructureError as error:
                    found.append(unreadable(where, name, error))
            packages = [item for item in found if isinstance(item, Package)]
            unscannable = [item for item in found if isinstance(item, UnscannableEntry)]
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)
