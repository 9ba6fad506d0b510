"""Java archives (.jar, .war, .ear, Jenkins' .hpi and .jpi) in a layer → Maven packages, from their own metadata.

A zip needs random access and a layer is a forward-only tar stream, so an archive is read into memory whole,
at most `JavaLimits.max_archive_bytes` of it; a bigger one is listed, not read. The buffer is released before
the layer's next member, so it is not charged to `LayerLimits.max_kept_bytes` (which counts what is *kept*);
a layer's peak memory grows by at most one archive plus `max_nested_bytes` of archives nested in it. Nothing
is written to disk, as for the rest of the layer.

Identities are read as java_identity.py says (pom.properties, else a manifest only where plugins agree).

Archives inside archives (`BOOT-INF/lib/`, `WEB-INF/lib/`, an ear's modules, any `*.jar` in a jar) are read the
same way, up to `max_depth` deep and `max_nested_bytes` inflated in all under one archive in the layer. Their
packages are located at `<outer path>/<inner path>` (`app.jar/BOOT-INF/lib/commons-io-2.11.0.jar`, as Trivy
writes it): no real file lies below a regular file, and whiteouts of the outer path hide them in merged images.
"""

from __future__ import annotations

import io
import lzma
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from secapi.adapters.catalog.java_identity import from_manifest, from_pom_properties, maven_record
from secapi.domain.inventory import PackageRecord
from secapi.domain.packages import UnscannedItem

KiB, MiB = 1024, 1024 * 1024
JAVA_ARCHIVE = "java-archive"
JAVA_ARCHIVES = (".jar", ".war", ".ear", ".hpi", ".jpi")
"""Zip-based Java archives by name: jars, web and enterprise archives, Jenkins plugins (`.hpi`, `.jpi`)."""


def is_java_archive(path: str) -> bool:
    """Whether a path names a Java archive, whatever the case of its extension (`App.JAR` is a jar to the JVM)."""
    return path[-4:].lower() in JAVA_ARCHIVES


MAX_LOCATIONS = 200
"""Locations with reasons listed for one archive in the layer (as many as a layer lists of one kind)."""


@dataclass(frozen=True, slots=True)
class JavaLimits:
    """What reading one archive of a layer (and the archives nested in it) may cost."""

    max_archive_bytes: int = 128 * MiB
    """An archive in the layer bigger than this is listed, not read (Spring Boot fat jars are mostly < 100 MiB)."""
    max_nested_bytes: int = 256 * MiB
    """Bytes of nested archives inflated into memory under one archive in the layer, all depths together."""
    max_depth: int = 3
    """Archives within archives opened (an ear's war's jar is 2 deep)."""
    max_directory_bytes: int = 8 * MiB
    """A zip's central directory; zipfile builds an object per entry, so this bounds entries (~180,000)."""
    max_metadata_bytes: int = 64 * KiB
    """Read of one pom.properties or MANIFEST.MF; longer ones are cut (identities come first)."""
    max_metadata_files: int = 5_000
    """pom.properties files read under one archive in the layer, all depths together."""
    max_nested_archives: int = 5_000
    """Archives opened under one archive in the layer (each costs a directory parse, however small it is)."""


DEFAULT_JAVA_LIMITS = JavaLimits()
_POM_PROPERTIES = re.compile(r"META-INF/maven/[^/]+/[^/]+/pom\.properties")
_EOCD, _ZIP64_LOCATOR, _ZIP64_EOCD = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"
_NO_IDENTITY = (
    "a Java archive whose identity cannot be read: it has no META-INF/maven/.../pom.properties and its manifest "
    "names no Maven groupId:artifactId SecAPI can trust, so the library in it was not scanned"
)
# What zipfile and its decompressors raise on a corrupt, encrypted or unsupported archive; never MemoryError.
_UNREADABLE = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
    NotImplementedError, RuntimeError, ValueError, struct.error,
)  # fmt: skip


@dataclass(slots=True)
class JavaFindings:
    """Packages by location (the archive's path, or `<path>/<inner path>` when nested) and what was not read."""

    packages: dict[str, tuple[PackageRecord, ...]] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)

    @property
    def unscanned(self) -> tuple[UnscannedItem, ...]:
        """One item per location (items are keyed by path), its reasons joined."""
        return tuple(
            UnscannedItem(path=location, kind=JAVA_ARCHIVE, reason="; ".join(reasons))
            for location, reasons in self.reasons.items()
        )

    def note(self, location: str, reason: str) -> None:
        self.reasons.setdefault(location, []).append(reason)


def too_large(path: str, size: int, limits: JavaLimits = DEFAULT_JAVA_LIMITS) -> UnscannedItem:
    """The item for an archive in the layer too big to read into memory."""
    reason = (
        f"a Java archive of {size} bytes, over the {limits.max_archive_bytes}-byte limit for reading one: "
        "the libraries in it were not scanned"
    )
    return UnscannedItem(path=path, kind=JAVA_ARCHIVE, reason=reason)


def read_java_archive(path: str, data: bytes, limits: JavaLimits = DEFAULT_JAVA_LIMITS) -> JavaFindings:
    """The Maven packages in one archive and the archives nested in it; what could not be read, as reasons."""
    reader = _Reader(limits)
    reader.archive(path, data, depth=0)
    if reader.unlisted:
        reader.found.note(path, f"{reader.unlisted} more archives nested in it were not read (the reasons above)")
    return reader.found


class _Reader:
    """One archive of the layer, walked depth first, with the budgets its nested archives share."""

    def __init__(self, limits: JavaLimits) -> None:
        self._limits = limits
        self._nested_left = limits.max_nested_bytes
        self._metadata_left = limits.max_metadata_files
        self._opens_left = limits.max_nested_archives
        self.found = JavaFindings()
        self.unlisted = 0

    def archive(self, location: str, data: bytes, depth: int) -> None:
        directory = directory_bytes(data)
        if directory is not None and directory > self._limits.max_directory_bytes:
            self._note(
                location,
                f"a Java archive whose zip directory of {directory} bytes is over the "
                f"{self._limits.max_directory_bytes}-byte limit: it was not opened",
            )
            return
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                records = self._identities(archive, location)
                nested = [info for info in archive.infolist() if _is_archive(info)]
                if records:
                    self.found.packages[location] = records
                else:
                    self._note(location, _NO_IDENTITY)
                for info in nested:
                    self._nested(archive, info, location, depth + 1)
        except _UNREADABLE as exc:
            self.found.packages.pop(location, None)
            self._note(location, f"a Java archive that cannot be read as a zip ({exc}): it was not scanned")

    def _note(self, location: str, reason: str) -> None:
        """A reason at a location, for the first `MAX_LOCATIONS` locations; the rest are counted."""
        if location in self.found.reasons or len(self.found.reasons) < MAX_LOCATIONS:
            self.found.note(location, reason)
        else:
            self.unlisted += 1

    def _identities(self, archive: zipfile.ZipFile, location: str) -> tuple[PackageRecord, ...]:
        records: dict[tuple[str, str, str], PackageRecord] = {}
        unresolved: list[str] = []
        for info in archive.infolist():
            if not _POM_PROPERTIES.fullmatch(info.filename):
                continue
            if self._metadata_left <= 0:
                limit = self._limits.max_metadata_files
                self._note(location, f"past the {limit} pom.properties read within one archive, some were not read")
                break
            self._metadata_left -= 1
            coordinates = from_pom_properties(self._read_small(archive, info))
            if coordinates is not None:
                records.setdefault(coordinates, maven_record(*coordinates))
            else:
                unresolved.append(info.filename)
        if records:
            if unresolved:  # a shaded jar's other artifacts are read; these are not, and must not vanish
                named = ", ".join(unresolved[:20]) + (
                    f" and {len(unresolved) - 20} more" if len(unresolved) > 20 else ""
                )
                self._note(location, f"pom.properties naming no resolved Maven coordinates, not scanned: {named}")
            return tuple(records.values())
        try:
            manifest = archive.getinfo("META-INF/MANIFEST.MF")
        except KeyError:
            return ()
        coordinates = from_manifest(self._read_small(archive, manifest))
        return (maven_record(*coordinates),) if coordinates is not None else ()

    def _read_small(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
        with archive.open(info) as member:
            return member.read(self._limits.max_metadata_bytes).decode("utf-8", errors="replace")

    def _nested(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, outer: str, depth: int) -> None:
        inner = "/".join(part for part in info.filename.split("/") if part not in ("", ".", ".."))
        location = f"{outer}/{inner}"
        if depth > self._limits.max_depth:
            reason = f"a Java archive nested more than {self._limits.max_depth} archives deep: it was not opened"
            self._note(location, reason)
            return
        if self._opens_left <= 0:
            reason = f"past the {self._limits.max_nested_archives} archives opened within one archive: not opened"
            self._note(location, reason)
            return
        if info.file_size > self._nested_left:
            self._note(
                location,
                f"a nested Java archive of {info.file_size} bytes, past the {self._limits.max_nested_bytes} bytes "
                "read for archives nested in one archive: it was not opened",
            )
            return
        self._nested_left -= info.file_size
        self._opens_left -= 1
        try:
            with archive.open(info) as member:
                data = member.read(info.file_size)
        except _UNREADABLE as exc:
            self._note(location, f"a nested Java archive that cannot be inflated ({exc}): it was not scanned")
            return
        self.archive(location, data, depth)


def _is_archive(info: zipfile.ZipInfo) -> bool:
    return info.filename.lower().endswith(JAVA_ARCHIVES)  # (ZipInfo.is_dir raises on an empty name)


def directory_bytes(data: bytes) -> int | None:
    """The central directory's size as the end records declare it (what zipfile will read); None if absent.

    Hand-read because zipfile has no way to bound a directory before it builds an object for every entry.
    """
    end = data.rfind(_EOCD, max(0, len(data) - 22 - 0xFFFF))
    if end < 0 or len(data) - end < 22:
        return None
    size: int = struct.unpack_from("<I", data, end + 12)[0]
    locator = end - 20
    if locator >= 56 and data[locator : locator + 4] == _ZIP64_LOCATOR:
        record = locator - 56  # where zipfile looks for the zip64 end record: right before its locator
        if data[record : record + 4] == _ZIP64_EOCD:
            size = struct.unpack_from("<Q", data, record + 40)[0]
    return size
