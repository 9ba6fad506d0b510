"""What an image contains: per-layer catalogs (cacheable by layer digest) and the merged image (OS: os_release)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

import msgspec

from secapi.domain.errors import InvalidInput
from secapi.domain.os_release import RPM_OSES, OsInfo, detect_os
from secapi.domain.packages import Package, UnscannedItem

CATALOGER_VERSION: int = 8
"""Bump whenever a cataloger changes what it finds, so layer inventories cached under the old one are recomputed."""

DPKG, APK, PYTHON, NPM, OPKG, RPM = "dpkg", "apk", "python", "npm", "opkg", "rpm"
GO_MODULE = "go-module"
"""A module (or the standard library, `stdlib`) built into a Go executable, read from its build info."""
LOCKFILE = "lockfile"
"""A package an application's lockfile or installed-package manifest names; the record carries its ecosystem."""
CARGO = "cargo"
"""A crates.io crate built into a Rust executable, read from its cargo-auditable dependency list."""
MAVEN = "maven"
"""A Maven artifact (`groupId:artifactId`) in a Java archive, read from its pom.properties or manifest."""


class LayerRejected(InvalidInput):
    """A layer SecAPI refuses to read: corrupt, hostile, or over a limit; `reason` is a human sentence."""

    def __init__(self, reason: str, *, digest: str | None = None) -> None:
        super().__init__(reason, field="image")
        self.reason = reason
        self.digest = digest


@dataclass(frozen=True, slots=True)
class LayerLimits:
    """Bounds on what reading one layer may cost; crossing one rejects the layer (`LayerRejected`).

    Uploaded image archives are held to the same compression ratio: more is a decompression bomb.
    """

    max_uncompressed_bytes: int = 8 * 1024**3
    max_compression_ratio: int = 200
    max_entries: int = 1_000_000
    max_kept_bytes: int = 256 * 1024**2
    """Bytes of cataloged files (and whiteout paths) held in memory at once."""


class PackageRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A package as a layer's database file names it, before the image's OS gives it an ecosystem."""

    kind: str
    """`dpkg`, `apk`, `rpm`, `opkg`, `python`, `npm`, `go-module`, `cargo`, `maven` or `lockfile`."""
    name: str
    version: str
    source_name: str | None = None
    source_version: str | None = None
    purl: str | None = None
    """Only where the cataloger knows it without the OS (PyPI, npm, Go, lockfiles)."""
    arch: str | None = None
    ecosystem: str | None = None
    """The OSV ecosystem, where the file itself decides it (lockfiles: kind `lockfile`); else from the kind or OS."""
    modularity_label: str | None = None
    """rpm only: the module stream a package came from (`nodejs:18:8090020240315081818:a75119d5`); it
    reaches matching as the purl's `rpmmod` qualifier, so one stream's advisories skip another's packages."""


class LayerInventory(msgspec.Struct, frozen=True, kw_only=True):
    """What one layer adds and removes; depends only on the layer's bytes, so it is cached by `digest`."""

    digest: str
    cataloger_version: int = CATALOGER_VERSION
    packages: dict[str, tuple[PackageRecord, ...]] = msgspec.field(default_factory=dict)
    """Keyed by the relative path of the database file (`var/lib/dpkg/status`) or Go executable; empty tuple =
    file with none. A Java archive's packages are under its path, a nested archive's below it (`app.jar/lib/x.jar`)."""
    os_files: dict[str, str] = msgspec.field(default_factory=dict)
    deleted: tuple[str, ...] = ()
    """Paths hidden from lower layers: `.wh.` whiteouts, cataloged paths this layer turns into links, and Java
    archives (which replace what a lower layer had inside the same path)."""
    opaque_dirs: tuple[str, ...] = ()
    skipped: dict[str, str] = msgspec.field(default_factory=dict)
    """Database files found but not cataloged (too large, invalid, a link), with the reason."""
    refused_members: int = 0
    """Tar members with absolute paths or `..` components, never used."""
    unscanned: tuple[UnscannedItem, ...] = ()
    """Content seen but not read, by layer-relative path: executables and Java archives (or parts of them) that
    could not be read, an rpm write-ahead log, a lockfile's entries it could not pin (several at one path) or
    a test-data lockfile; an empty path stands for the whole layer (how many more were found than listed)."""


class ImageInventory(msgspec.Struct, frozen=True, kw_only=True):
    """The merged filesystem's packages, ready for matching, and what was seen but not scanned."""

    os: OsInfo | None
    packages: tuple[Package, ...] = ()
    unscanned: tuple[UnscannedItem, ...] = ()
    """Paths are `<layer digest>:<path>` like package locations (the bare digest for a whole layer)."""


_V = TypeVar("_V")
# opkg (OpenWrt, embedded images) has no OSV ecosystem: "opkg" is SecAPI's own name, so nothing matches it
# and each opkg database is listed under `unscanned` as `no-advisory-source` (a stable token).
_OS_INDEPENDENT_ECOSYSTEMS = {
    PYTHON: "PyPI",
    NPM: "npm",
    OPKG: "opkg",
    GO_MODULE: "Go",
    CARGO: "crates.io",
    MAVEN: "Maven",
}
_NO_ADVISORY_SOURCE = frozenset({OPKG})
NO_OSV_RPM = "rpm"
"""SecAPI's own ecosystem for RPMs of distributions OSV publishes nothing for (CentOS, Fedora, Oracle Linux,
Amazon Linux, CBL-Mariner 2): listed, matched against nothing, and reported as `no-advisory-source`."""
_DISTRO_KINDS = {DPKG: ("debian", "ubuntu"), APK: ("alpine", "wolfi", "chainguard"), RPM: tuple(sorted(RPM_OSES))}
_READ_OSES = frozenset({"debian", "ubuntu", "alpine", "wolfi", "chainguard", "openwrt"}) | RPM_OSES
"""OSes whose package databases SecAPI reads (openwrt: opkg); any other is reported as not scanned."""
_RELEASE_FILES = (
    "etc/os-release", "usr/lib/os-release", "etc/alpine-release", "etc/lsb-release", "etc/debian_version",
    "etc/redhat-release", "etc/system-release",
)  # fmt: skip


def _encode(segment: str) -> str:
    return quote(segment, safe=":")  # purl spec: ':' may stand unencoded, '+' and the rest are escaped


def distro_purl(record: PackageRecord, os: OsInfo) -> str:
    """`pkg:deb/debian/libc6@2.36-9%2Bdeb12u3?arch=amd64&distro=debian-12` (apk likewise; rpm's epoch and
    module stream are qualifiers, the stream as Red Hat's purls write it:
    `pkg:rpm/rocky/nodejs@18.19.0-1.module%2Bel9.3.0%2B35?arch=x86_64&distro=rocky-9.3&epoch=1&rpmmod=nodejs:18:...`)."""
    kind = {DPKG: "deb", APK: "apk", RPM: "rpm"}[record.kind]
    version, qualifiers = record.version, []
    if record.arch:
        qualifiers.append(f"arch={_encode(record.arch)}")
    release = os.version_id or (os.ecosystem or "").partition(":")[2].lstrip("v")
    if release:
        qualifiers.append(f"distro={_encode(f'{os.id}-{release}')}")
    if record.kind == RPM and ":" in version:
        epoch, _, version = version.partition(":")
        qualifiers.append(f"epoch={_encode(epoch)}")
    if record.kind == RPM and record.modularity_label:
        qualifiers.append(f"rpmmod={_encode(record.modularity_label)}")
    query = "?" + "&".join(qualifiers) if qualifiers else ""  # keys in order, as canonical purls have them
    return f"pkg:{kind}/{_encode(os.id)}/{_encode(record.name)}@{_encode(version)}{query}"


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
    ecosystem = record.ecosystem or _OS_INDEPENDENT_ECOSYSTEMS.get(record.kind)
    purl = record.purl
    if record.kind in _DISTRO_KINDS:
        if os is None or os.id not in _DISTRO_KINDS[record.kind]:
            return None
        ecosystem, purl = os.ecosystem or (NO_OSV_RPM if record.kind == RPM else None), distro_purl(record, os)
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


def _unknown_os(kind: str, count: int, location: str, os: OsInfo | None) -> UnscannedItem:
    found = f"{count} {kind} package{'' if count == 1 else 's'} found"
    if os is None:
        return UnscannedItem(path=location, kind="unknown-os", reason=f"{found} but the OS could not be identified")
    reason = f"{found} but the OS ({_os_name(os)}) has no known OSV ecosystem for them"
    return UnscannedItem(path=location, kind="unknown-os", reason=reason)


def _os_name(os: OsInfo) -> str:
    return os.pretty_name or f"{os.id} {os.version_id or ''}".strip()


def _unread_os(os: OsInfo | None, os_files: Mapping[str, tuple[str, str]]) -> list[UnscannedItem]:
    """An item for an OS whose package database SecAPI does not read (Red Hat, Fedora, SUSE, ...)."""
    if os is None or os.id in _READ_OSES:
        return []
    # detect_os reads only these files, the first non-empty one naming the OS.
    location = next(f"{os_files[p][0]}:{p}" for p in _RELEASE_FILES if os_files.get(p, ("", ""))[1].strip())
    reason = f"the OS ({_os_name(os)}) is not one SecAPI reads packages of: its OS packages were not scanned"
    return [UnscannedItem(path=location, kind="unknown-os", reason=reason)]


def _from_layers(
    layers: Sequence[LayerInventory],
    found: Mapping[str, tuple[str, tuple[UnscannedItem, ...]]],
    skipped: Mapping[str, tuple[str, str]],
) -> list[UnscannedItem]:
    """What the layers saw but did not read, what they skipped and refused, with layer digests in the paths."""
    items = [
        UnscannedItem(path=f"{digest}:{path}", kind=item.kind, reason=item.reason)
        for path, (digest, group) in found.items()
        for item in group
    ]
    items += [
        UnscannedItem(path=f"{digest}:{path}", kind="skipped-file", reason=reason)
        for path, (digest, reason) in skipped.items()
    ]
    for layer in layers:
        # Whole-layer items (how many more binaries than listed) have no path a whiteout could hide.
        items += [msgspec.structs.replace(item, path=layer.digest) for item in layer.unscanned if not item.path]
        if layer.refused_members:
            reason = f"{layer.refused_members} tar members with absolute or `..` paths were ignored"
            items.append(UnscannedItem(path=layer.digest, kind="refused-members", reason=reason))
    return items


def _by_path(items: Sequence[UnscannedItem]) -> dict[str, tuple[UnscannedItem, ...]]:
    grouped: dict[str, tuple[UnscannedItem, ...]] = {}
    for item in items:
        if item.path:  # an empty path stands for the whole layer
            grouped[item.path] = (*grouped.get(item.path, ()), item)
    return grouped


def merge_layers(layers: Sequence[LayerInventory]) -> ImageInventory:
    """The image as its layers stack up (OCI whiteout semantics), packages given their ecosystems."""
    files: dict[str, tuple[str, tuple[PackageRecord, ...]]] = {}
    os_files: dict[str, tuple[str, str]] = {}
    skipped: dict[str, tuple[str, str]] = {}
    found: dict[str, tuple[str, tuple[UnscannedItem, ...]]] = {}  # a lockfile has an item per unscannable entry
    for layer in layers:
        _apply(files, layer, layer.packages)
        _apply(os_files, layer, layer.os_files)
        _apply(skipped, layer, layer.skipped)
        for path in layer.packages:  # a cataloged file replaces an earlier skipped one at the same path
            skipped.pop(path, None)
        for path in (*layer.packages, *layer.skipped):  # a file read or skipped replaces what was not
            found.pop(path, None)  # scanned of an earlier file there (a lockfile's unscannable entries)
        _apply(found, layer, _by_path(layer.unscanned))
        for path in layer.skipped:
            files.pop(path, None)
    os = detect_os({path: text for path, (_, text) in os_files.items()})
    packages: dict[Package, Package] = {}
    missing: dict[str, tuple[str, int]] = {}  # distro kind -> (first database location, packages)
    unadvised: dict[str, tuple[str, int]] = {}  # database location -> (kind, packages)
    for path, (digest, records) in files.items():
        location = f"{digest}:{path}"
        for record in records:
            package = _to_package(record, os, location)
            if package is None:
                first, count = missing.get(record.kind, (location, 0))
                missing[record.kind] = (first, count + 1)
                continue
            if record.kind in _NO_ADVISORY_SOURCE or package.ecosystem == NO_OSV_RPM:
                unadvised[location] = (record.kind, unadvised.get(location, (record.kind, 0))[1] + 1)
            # The same package at several paths is reported once, at the first location found.
            packages.setdefault(msgspec.structs.replace(package, location=None), package)
    unscanned = [_unknown_os(kind, count, location, os) for kind, (location, count) in missing.items()]
    unscanned += _unread_os(os, os_files)
    unscanned += [
        UnscannedItem(
            path=location,
            kind="no-advisory-source",
            reason=f"{count} {kind} packages listed: no public advisory database (OSV) covers "
            f"{f'{_os_name(os)} packages' if kind == RPM and os else f'{kind} packages'}, so none was matched",
        )
        for location, (kind, count) in unadvised.items()
    ]
    unscanned += _from_layers(layers, found, skipped)
    return ImageInventory(os=os, packages=tuple(packages.values()), unscanned=tuple(unscanned))
