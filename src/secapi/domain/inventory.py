"""What an image contains: per-layer catalogs (cacheable by layer digest), OS detection, and the merged image."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeVar
from urllib.parse import quote

import msgspec

from secapi.domain.errors import InvalidInput
from secapi.domain.packages import Package

CATALOGER_VERSION: int = 3
"""Bump whenever a cataloger changes what it finds, so layer inventories cached under the old one are recomputed."""

DPKG, APK, PYTHON, NPM = "dpkg", "apk", "python", "npm"


class LayerRejected(InvalidInput):
    """A layer SecAPI refuses to read: corrupt, hostile, or over a limit; `reason` is a human sentence."""

    def __init__(self, reason: str, *, digest: str | None = None) -> None:
        super().__init__(reason, field="image")
        self.reason = reason
        self.digest = digest


class PackageRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A package as a layer's database file names it, before the image's OS gives it an ecosystem."""

    kind: str
    """`dpkg`, `apk`, `python` or `npm`."""
    name: str
    version: str
    source_name: str | None = None
    source_version: str | None = None
    purl: str | None = None
    """Only where the cataloger knows it without the OS (PyPI, npm)."""
    arch: str | None = None


class LayerInventory(msgspec.Struct, frozen=True, kw_only=True):
    """What one layer adds and removes; depends only on the layer's bytes, so it is cached by `digest`."""

    digest: str
    cataloger_version: int = CATALOGER_VERSION
    packages: dict[str, tuple[PackageRecord, ...]] = msgspec.field(default_factory=dict)
    """Keyed by the relative path of the database file (`var/lib/dpkg/status`); empty tuple = file with none."""
    os_files: dict[str, str] = msgspec.field(default_factory=dict)
    deleted: tuple[str, ...] = ()
    """Paths hidden from lower layers: `.wh.` whiteouts, and cataloged paths this layer turns into links."""
    opaque_dirs: tuple[str, ...] = ()
    skipped: dict[str, str] = msgspec.field(default_factory=dict)
    """Database files found but not cataloged (too large, invalid, a link), with the reason."""
    refused_members: int = 0
    """Tar members with absolute paths or `..` components, never used."""


class OsInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The image's distribution, and the OSV ecosystem its distro packages belong to (None: not known)."""

    id: str
    version_id: str | None = None
    pretty_name: str | None = None
    ecosystem: str | None = None


class ImageInventory(msgspec.Struct, frozen=True, kw_only=True):
    """The merged filesystem's packages, ready for matching, and what could not be resolved."""

    os: OsInfo | None
    packages: tuple[Package, ...] = ()
    unresolved: tuple[str, ...] = ()


# Debian codenames → release numbers, for testing/sid images whose os-release has no VERSION_ID.
DEBIAN_CODENAMES = {
    "buzz": "1", "rex": "1", "bo": "1", "hamm": "2", "slink": "2", "potato": "2", "woody": "3", "sarge": "3",
    "etch": "4", "lenny": "5", "squeeze": "6", "wheezy": "7", "jessie": "8", "stretch": "9", "buster": "10",
    "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15",
}  # fmt: skip
_OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
_ESCAPED = re.compile(r"\\([\\$\"`])")
_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)")
_V = TypeVar("_V")
_LANGUAGE_ECOSYSTEMS = {PYTHON: "PyPI", NPM: "npm"}
_DISTRO_KINDS = {DPKG: ("debian", "ubuntu"), APK: ("alpine", "wolfi", "chainguard")}


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of an os-release file, quotes and backslash escapes removed (no shell expansion)."""
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        key, sep, value = raw.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1] if value[0] == "'" else _ESCAPED.sub(r"\1", value[1:-1])
        fields[key.strip()] = value
    return fields


def _debian_release(version_id: str | None, codename: str | None, debian_version: str | None) -> str | None:
    for candidate in (version_id, (debian_version or "").split("/")[0]):
        head = (candidate or "").strip().split(".")[0]
        if head.isdigit():
            return head
        if head in DEBIAN_CODENAMES:
            return DEBIAN_CODENAMES[head]
    return DEBIAN_CODENAMES.get((codename or "").strip())


def _ecosystem(os_id: str, version_id: str | None, fields: Mapping[str, str], files: Mapping[str, str]) -> str | None:
    if os_id == "debian":
        codename = fields.get("VERSION_CODENAME")
        release = _debian_release(version_id, codename, files.get("etc/debian_version"))
        return f"Debian:{release}" if release else "Debian"
    if os_id == "ubuntu":
        match = _MAJOR_MINOR.match(version_id or "")
        return f"Ubuntu:{match[1]}.{match[2]}" if match else None
    if os_id == "alpine":
        match = _MAJOR_MINOR.match(version_id or "")
        return f"Alpine:v{match[1]}.{match[2]}" if match else None
    return {"wolfi": "Wolfi", "chainguard": "Chainguard"}.get(os_id)


def detect_os(files: Mapping[str, str]) -> OsInfo | None:
    """The distribution named by os-release (`etc/` wins over `usr/lib/`), else by release files; None if none."""
    text = next((files[p] for p in _OS_RELEASE_PATHS if files.get(p, "").strip()), "")
    fields = parse_os_release(text)
    lsb = parse_os_release(files.get("etc/lsb-release", ""))
    os_id = fields.get("ID", "").strip().lower()
    version_id = fields.get("VERSION_ID") or None
    if not os_id:
        if "etc/alpine-release" in files:
            os_id = "alpine"
        elif lsb.get("DISTRIB_ID"):
            os_id = lsb["DISTRIB_ID"].strip().lower()
        elif "etc/debian_version" in files:
            os_id = "debian"
        else:
            return None
    if version_id is None:
        fallback = {"alpine": files.get("etc/alpine-release", ""), "ubuntu": lsb.get("DISTRIB_RELEASE", "")}
        version_id = fallback.get(os_id, "").strip() or None
    pretty = fields.get("PRETTY_NAME") or lsb.get("DISTRIB_DESCRIPTION") or None
    return OsInfo(
        id=os_id, version_id=version_id, pretty_name=pretty, ecosystem=_ecosystem(os_id, version_id, fields, files)
    )


def _encode(segment: str) -> str:
    return quote(segment, safe=":")  # purl spec: ':' may stand unencoded, '+' and the rest are escaped


def distro_purl(record: PackageRecord, os: OsInfo) -> str:
    """`pkg:deb/debian/libc6@2.36-9%2Bdeb12u3?arch=amd64&distro=debian-12` (apk likewise)."""
    kind = "deb" if record.kind == DPKG else "apk"
    qualifiers = []
    if record.arch:
        qualifiers.append(f"arch={_encode(record.arch)}")
    release = os.version_id or (os.ecosystem or "").partition(":")[2].lstrip("v")
    if release:
        qualifiers.append(f"distro={_encode(f'{os.id}-{release}')}")
    query = "?" + "&".join(qualifiers) if qualifiers else ""
    return f"pkg:{kind}/{_encode(os.id)}/{_encode(record.name)}@{_encode(record.version)}{query}"


def _hidden(path: str, deleted: set[str], opaque: set[str]) -> bool:
    """Whether a lower layer's `path` is removed by these whiteouts (the path itself or any ancestor)."""
    if path in deleted or "" in opaque:
        return True
    cut = path.rfind("/")
    while cut > 0:
        parent = path[:cut]
        if parent in deleted or parent in opaque:
            return True
        cut = path.rfind("/", 0, cut)
    return False


def _apply(state: dict[str, tuple[str, _V]], layer: LayerInventory, own: Mapping[str, _V]) -> None:
    """Overlay one layer on `state` (path → (digest, value)): whiteouts first, then the layer's own files."""
    if layer.deleted or layer.opaque_dirs:
        deleted, opaque = set(layer.deleted), set(layer.opaque_dirs)
        for path in [p for p in state if _hidden(p, deleted, opaque)]:
            del state[path]
    for path, value in own.items():
        state.pop(path, None)  # re-insert so iteration follows layer order
        state[path] = (layer.digest, value)


def _to_package(record: PackageRecord, os: OsInfo | None, location: str) -> Package | None:
    ecosystem = _LANGUAGE_ECOSYSTEMS.get(record.kind)
    purl = record.purl
    if record.kind in _DISTRO_KINDS:
        if os is None or os.id not in _DISTRO_KINDS[record.kind]:
            return None
        ecosystem, purl = os.ecosystem, distro_purl(record, os)
    if ecosystem is None:
        return None
    return Package(
        name=record.name,
        version=record.version,
        ecosystem=ecosystem,
        purl=purl,
        source_name=record.source_name,
        source_version=record.source_version,
        location=location,
    )


def _unresolved_distro(kind: str, count: int, os: OsInfo | None) -> str:
    found = f"{count} {kind} package{'' if count == 1 else 's'} found"
    if os is None:
        return f"{found} but the OS could not be identified"
    name = os.pretty_name or f"{os.id} {os.version_id or ''}".strip()
    return f"{found} but the OS ({name}) has no known OSV ecosystem for them"


def merge_layers(layers: Sequence[LayerInventory]) -> ImageInventory:
    """The image as its layers stack up (OCI whiteout semantics), packages given their ecosystems."""
    files: dict[str, tuple[str, tuple[PackageRecord, ...]]] = {}
    os_files: dict[str, tuple[str, str]] = {}
    skipped: dict[str, tuple[str, str]] = {}
    for layer in layers:
        _apply(files, layer, layer.packages)
        _apply(os_files, layer, layer.os_files)
        _apply(skipped, layer, layer.skipped)
        for path in layer.packages:  # a cataloged file replaces an earlier skipped one at the same path
            skipped.pop(path, None)
        for path in layer.skipped:
            files.pop(path, None)
    os = detect_os({path: text for path, (_, text) in os_files.items()})
    packages: dict[Package, Package] = {}
    missing: dict[str, int] = {}
    for path, (digest, records) in files.items():
        for record in records:
            package = _to_package(record, os, f"{digest}:{path}")
            if package is None:
                missing[record.kind] = missing.get(record.kind, 0) + 1
                continue
            # The same package at several paths is reported once, at the first location found.
            packages.setdefault(msgspec.structs.replace(package, location=None), package)
    unresolved = [_unresolved_distro(kind, count, os) for kind, count in missing.items()]
    unresolved += [f"{digest}:{path}: {reason}" for path, (digest, reason) in skipped.items()]
    unresolved += [
        f"{layer.digest}: {layer.refused_members} tar members with absolute or `..` paths were ignored"
        for layer in layers
        if layer.refused_members
    ]
    return ImageInventory(os=os, packages=tuple(packages.values()), unresolved=tuple(unresolved))
