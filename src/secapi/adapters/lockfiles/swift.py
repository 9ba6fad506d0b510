"""Swift Package Manager: `Package.resolved` versions 1, 2 and 3."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    StructureError,
    as_list,
    as_mapping,
    child,
    field,
    load_json,
    optional_field,
    redact,
    section,
    unreadable,
)
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import swift_purl

ECOSYSTEM = "SwiftURL"
# `https://github.com/apple/swift-nio.git` or `git@github.com:apple/swift-nio.git`, as SwiftPM records them.
_URL = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://)?(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?[:/](?P<path>.+)")


def osv_name(location: str) -> str | None:
    """The SwiftURL package name OSV uses: the repository URL without scheme, user and `.git`."""
    found = _URL.fullmatch(location.strip())
    if found is None or location.startswith(("/", "file:", ".")):
        return None
    path = found["path"].strip("/").removesuffix(".git").strip("/")
    return f"{found['host']}/{path}" if path else None


def _entry(pin: Mapping[str, object], where: str, identity_key: str, location_key: str) -> Entry:
    identity = field(pin, identity_key, where)
    location = field(pin, location_key, where)
    state = section(pin, "state", where)
    version = optional_field(state, "version", child(where, "state"))
    kind = optional_field(pin, "kind", where)  # v2/v3 only
    name = osv_name(location)
    if kind == "localSourceControl" or (kind is None and name is None):
        reason = f"a local package ({redact(location)}), not a tagged release of a public repository"
    elif kind == "registry":
        reason = f"resolved from a package registry as {identity!r}; OSV indexes Swift packages by repository URL"
    elif kind not in (None, "remoteSourceControl") or name is None:
        reason = f"pinned from an unknown kind of source {kind!r} ({redact(location)})"
    elif version is None:
        ref = optional_field(state, "branch", child(where, "state")) or optional_field(
            state, "revision", child(where, "state")
        )
        reason = f"pinned to the branch or revision {ref!r}, not a tagged version"
    else:
        return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=swift_purl(name, version), location=where)
    return UnscannableEntry(name=identity, reason=reason, location=where)


class PackageResolvedParser(EntryParser):
    """Reads `Package.resolved`; branch or revision pins, local and registry packages are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "Package.resolved"

    def entries(self, content: str) -> Iterator[Entry]:
        """The pins: v1 under `object.pins` (`package`, `repositoryURL`), v2/v3 under `pins`."""
        document = as_mapping(load_json(content), "")
        raw_version = document.get("version")
        if raw_version == 1:
            pins_at, identity_key, location_key = "object.pins", "package", "repositoryURL"
            pins = section(document, "object").get("pins")
        elif raw_version in (2, 3):
            pins_at, identity_key, location_key = "pins", "identity", "location"
            pins = document.get("pins")
        else:
            raise StructureError("version", f"not a Package.resolved version this reads (1, 2 or 3): {raw_version!r}")
        for index, raw in enumerate(as_list([] if pins is None else pins, pins_at)):
            where = f"{pins_at}[{index}]"
            try:
                yield _entry(as_mapping(raw, where), where, identity_key, location_key)
            except StructureError as error:
                yield unreadable(where, raw.get(identity_key) if isinstance(raw, dict) else None, error)
