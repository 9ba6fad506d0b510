"""`pnpm-lock.yaml`, lockfile versions 5.x (`/name/1.0.0`), 6.x (`/name@1.0.0`) and 9.x (`name@1.0.0`)."""

from __future__ import annotations

from collections.abc import Mapping

from secapi.adapters.lockfiles._common import (
    StructureError,
    as_mapping,
    child,
    optional_field,
    redact,
    translate_errors,
)
from secapi.adapters.lockfiles._yaml import YamlReader
from secapi.adapters.lockfiles.npm import ECOSYSTEM, split_spec
from secapi.adapters.lockfiles.purl import npm_purl
from secapi.domain.lockfiles import ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry

_NON_REGISTRY_RESOLUTIONS = ("git", "directory")
_WANTED = frozenset({"name", "version", "resolution"})


def _major_version(raw: str | None) -> int:
    if raw is None:
        raise StructureError("lockfileVersion", "missing; is this a pnpm lockfile?")
    try:
        return int(raw.split(".", 1)[0])
    except ValueError as exc:
        raise StructureError("lockfileVersion", f"not a lockfile version: {raw!r}") from exc


def _split_v5(key: str) -> tuple[str, str] | None:
    """`/name/1.0.0_peer@1.0.0` or `/@scope/name/1.0.0` into (name, version)."""
    parts = key.removeprefix("/").split("/", 2 if key.startswith("/@") else 1)
    if len(parts) < 2 or not all(parts):
        return None
    # Peer suffixes follow `_` (scoped peers spell `/` as `+`); newer 5.x uses parentheses.
    version = parts[-1].split("_", 1)[0].split("(", 1)[0]
    return "/".join(parts[:-1]), version


def _split_v6(key: str) -> tuple[str, str] | None:
    """`/name@1.0.0(peer@1.0.0)` (6.x) or `@scope/name@1.0.0` (9.x) into (name, version)."""
    name, version = split_spec(key.removeprefix("/"))
    # Peer and patch suffixes are parenthesised; a URL or path version contains ':' or '/'.
    version = version.split("(", 1)[0]
    return (name, version) if name else None


def _entry(key: str, where: str, entry: Mapping[str, object], major: int) -> Package | UnscannableEntry:
    resolution = as_mapping(entry.get("resolution") or {}, child(where, "resolution"))
    registry_key = key.startswith("/") if major < 9 else True
    parsed = (_split_v5 if major < 6 else _split_v6)(key) if registry_key else None
    name = optional_field(entry, "name", where) or (parsed[0] if parsed else key)
    version = parsed[1] if parsed else None
    kind = optional_field(resolution, "type", child(where, "resolution"))
    if parsed is None or kind in _NON_REGISTRY_RESOLUTIONS or not version or ":" in version or "/" in version:
        target = optional_field(resolution, "tarball", child(where, "resolution")) or key
        reason = (
            f"installed from {kind or 'a URL or path'} ({redact(target)}), not a released version on the npm registry"
        )
        return UnscannableEntry(name=name, reason=reason, location=where)
    return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=npm_purl(name, version), location=where)


class PnpmLockParser:
    """Reads `pnpm-lock.yaml`; peer-dependency suffixes are stripped from versions."""

    def __init__(self, filename: str = "pnpm-lock.yaml") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse the `packages` section of a pnpm lockfile into npm packages."""
        with translate_errors(self._filename):
            reader = YamlReader(content)
            version: str | None = None
            entries: list[tuple[str, str, dict[str, object]]] = []
            for key, where in reader.document():
                if key == "lockfileVersion":
                    version = reader.scalar(where)
                elif key == "packages":
                    entries.extend((name, at, reader.fields(_WANTED, at)) for name, at in reader.mapping(where))
                else:
                    reader.skip()  # importers, snapshots, settings: nothing the scan needs
            major = _major_version(version) if entries else 9  # an empty lockfile pins nothing
            found = [_entry(key, where, fields, major) for key, where, fields in entries]
            packages = [item for item in found if isinstance(item, Package)]
            unscannable = [item for item in found if isinstance(item, UnscannableEntry)]
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)
