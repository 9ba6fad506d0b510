"""One layer blob → its `LayerInventory`, read as a tar stream in bounded memory, nothing written to disk.

Links are never followed: a symlink at a cataloged path (say `var/lib/dpkg/status -> /etc/shadow`) only
hides what lower layers had there, and is reported as skipped. A hard link to a file this layer already
read reuses that file's result; any other hard link is treated like a symlink. Members with absolute
paths or `..` components are never used, only counted. Package databases (dpkg, apk, rpm's SQLite,
Berkeley DB and NDB, ...) are read whole, each up to its rule's cap; applications' lockfiles and manifests
too (lockfiles.py), within a per-layer parsing budget. Go and Rust executables' build info and dependency
lists are read (binaries.py), their modules kept as packages under the executable's path; what of them could
not be read is listed in `LayerInventory.unscanned`. Java archives are opened (java.py): their Maven packages
are kept under the archive's path, or `<path>/<inner path>` for a nested archive, and a Java archive hides
what lower layers had at or below its path.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import msgspec

from secapi.adapters.catalog.java import is_java_archive
from secapi.adapters.catalog.lockfiles import APP_FILE_BYTES_PER_LAYER
from secapi.adapters.catalog.rules import DIRECTORY_TAILS, FileRule, Reader, is_candidate, rule_for
from secapi.adapters.catalog.streams import GuardedStream
from secapi.adapters.catalog.tarstream import describe_member, open_tar_stream
from secapi.adapters.catalog.unread import MAX_LISTED, examine_member, might_be_unread, unlisted_item
from secapi.domain.inventory import CATALOGER_VERSION, LayerInventory, LayerLimits, LayerRejected, PackageRecord
from secapi.domain.packages import UnscannedItem

DEFAULT_LIMITS = LayerLimits()
_OPAQUE = ".wh..wh..opq"
"""A link at such a path hides what lower layers had at and below it (a Java archive's packages are below it)."""


def normalise(name: str) -> str | None:
    """A member name as a relative path without `.` parts (`""` for the root); None if absolute, `..` or not UTF-8."""
    parts = [part for part in name.split("/") if part and part != "."]
    if name.startswith("/") or ".." in parts:
        return None
    path = "/".join(parts)
    if not path.isascii():
        try:
            path.encode()  # tarfile decodes undecodable names with surrogates, which no JSON cache can store
        except UnicodeEncodeError:
            return None
    return path


class _LayerReader:
    """Walks one tar stream, keeping only what catalogers need."""

    def __init__(self, stream: GuardedStream, digest: str, limits: LayerLimits) -> None:
        self._stream, self._digest, self._limits = stream, digest, limits
        self.packages: dict[str, tuple[PackageRecord, ...]] = {}
        self.os_files: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.deleted: list[str] = []
        self.opaque: list[str] = []
        self.refused = 0
        self.unread: dict[str, UnscannedItem] = {}
        self.entries: dict[str, tuple[UnscannedItem, ...]] = {}
        """What lockfiles, by path, name but could not pin (git and path dependencies, ...)."""
        self._app_bytes = 0
        self.found: dict[str, int] = {}
        self._archives: set[str] = set()
        self._entries = 0
        self._kept = 0

    def walk(self, tar: tarfile.TarFile) -> LayerInventory:
        """Read every member header once, and the data of the few members kept."""
        while (member := tar.next()) is not None:
            # Stream mode still keeps every TarInfo it has read: memory would grow with the entry count.
            tar.members.clear()  # type: ignore[attr-defined]  # (an undeclared but long-stable attribute)
            self._entries += 1
            if self._entries > self._limits.max_entries:
                raise self._stream.rejected(f"has more than {self._limits.max_entries} entries")
            name = member.name
            if (name.startswith("/") or ".." in name) and normalise(name) is None:  # cheap screen first
                self.refused += 1
                continue
            if ".wh." in name and self._whiteout(name):
                continue
            if is_candidate(name) and self._candidate(tar, member):
                continue
            if might_be_unread(member):
                self._note(tar, member)
                continue
            if not member.isdir() and not member.isreg() and _replaces_contents(name.rstrip("/")):
                self._hide(normalise(name))
        return LayerInventory(
            digest=self._digest,
            cataloger_version=CATALOGER_VERSION,
            packages=self.packages,
            os_files=self.os_files,
            deleted=tuple(self.deleted),
            opaque_dirs=tuple(self.opaque),
            skipped=self.skipped,
            refused_members=self.refused,
            unscanned=(
                *self.unread.values(),
                *(i for items in self.entries.values() for i in items),
                *self._unlisted(),
            ),
        )

    def _unlisted(self) -> list[UnscannedItem]:
        return [unlisted_item(kind, n - MAX_LISTED) for kind, n in self.found.items() if n > MAX_LISTED]

    def _whiteout(self, name: str) -> bool:
        parent, _, base = name.rstrip("/").rpartition("/")
        if not base.startswith(".wh."):
            return False
        directory = normalise(parent)
        if directory is None:
            self.refused += 1
        elif base == _OPAQUE:
            self._budget(len(directory))
            self.opaque.append(directory)
        elif not base.startswith(".wh..wh."):  # other `.wh..wh.` names are aufs bookkeeping, not deletions
            target = f"{directory}/{base[4:]}" if directory else base[4:]
            self._budget(len(target))
            self.deleted.append(target)
        return True

    def _candidate(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> bool:
        """Catalog a member some rule wants; False when none does."""
        path = normalise(member.name)
        rule = rule_for(path) if path else None
        if path is None or rule is None:
            return False
        if member.isdir():
            return True
        self._forget(path)  # a later entry for the same path replaces an earlier one, as on extraction
        if member.isreg():
            self._read(tar, member, path, rule)
        elif member.islnk() and self._copy_link(member, path):
            return True
        else:
            self._hide(path)
            if not rule.keeps_text:
                self.skipped[path] = f"not cataloged: {describe_member(member)}"
        return True

    def _read(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, rule: FileRule) -> None:
        size = member.size
        if size > rule.max_bytes and not rule.truncatable:
            self.skipped[path] = f"not cataloged: {size} bytes, over the {rule.max_bytes}-byte limit for this file"
            return
        wanted = min(size, rule.max_bytes)
        self._budget(wanted)
        fileobj = tar.extractfile(member)
        data = fileobj.read(wanted) if fileobj is not None else b""
        if rule.read is not None:
            self._read_app_file(path, data, rule.read)
            return
        if rule.parse is None:
            self.os_files[path] = data.decode("utf-8", errors="replace")
            return
        try:
            self.packages[path] = rule.parse(data)
        except (ValueError, RecursionError) as exc:
            self.skipped[path] = f"not cataloged: {exc}"

    def _read_app_file(self, path: str, data: bytes, read: Reader) -> None:
        """Parse a lockfile or manifest within the layer's budget for them: parsing costs far more than reading."""
        if self._app_bytes + len(data) > APP_FILE_BYTES_PER_LAYER:  # a file not parsed spends none of the budget
            reason = f"the layer's lockfiles and manifests exceed {APP_FILE_BYTES_PER_LAYER} bytes in all"
            self.skipped[path] = f"not cataloged: {reason}"
            return
        self._app_bytes += len(data)
        try:
            found = read(path, data)
        except (ValueError, RecursionError) as exc:
            self.skipped[path] = f"not cataloged: {exc}"
            return
        self.packages[path] = found.records
        self._list_entries(path, found.unscanned)

    def _list_entries(self, path: str, items: tuple[UnscannedItem, ...]) -> None:
        """Keep what a lockfile could not pin: like binaries, `MAX_LISTED` of each kind per layer, the rest counted."""
        listed = []
        for item in items:
            count = self.found[item.kind] = self.found.get(item.kind, 0) + 1
            if count <= MAX_LISTED:
                listed.append(item)
        if listed:
            self._budget(sum(len(item.reason) for item in listed))
            self.entries[path] = tuple(listed)

    def _note(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        """Keep a Go executable's modules; list content SecAPI cannot read, up to `MAX_LISTED` of each kind."""
        path = normalise(member.name)
        if not path:
            return
        self._forget(path)  # a later entry for the same path replaces an earlier one, as on extraction
        examined = examine_member(tar, member, path)
        if examined is None:
            return
        if examined.packages is not None:
            self._budget(sum(len(r.name) + len(r.version) + len(r.purl or "") for r in examined.packages))
            self.packages[path] = examined.packages
        if examined.located is not None:
            self._java_archive(path, examined.located)
        for item in (examined.item, *examined.items):
            if item is None:
                continue
            found = self.found[item.kind] = self.found.get(item.kind, 0) + 1
            if found <= MAX_LISTED:
                self._budget(len(item.path))
                self.unread[item.path] = item

    def _java_archive(self, path: str, located: dict[str, tuple[PackageRecord, ...]]) -> None:
        """Keep a Java archive's packages, located at its path or below it (nested archives).

        Like a directory, it hides whatever lower layers (or an earlier entry of this layer) had below its path.
        """
        self._hide(path)
        below = f"{path}/"
        if path in self._archives:
            for stale in [p for p in (*self.packages, *self.unread) if p.startswith(below)]:
                self._forget(stale)
        self._archives.add(path)
        for location, records in located.items():
            self._budget(len(location) + sum(len(r.name) + len(r.version) + len(r.purl or "") for r in records))
            self.packages[location] = records

    def _copy_link(self, member: tarfile.TarInfo, path: str) -> bool:
        target = normalise(member.linkname)
        if target is None:
            self.refused += 1
            return False
        if target in self.packages:
            self.packages[path] = self.packages[target]
            if target in self.entries:  # counted and budgeted like the target's: links must not multiply them
                self._list_entries(path, tuple(msgspec.structs.replace(i, path=path) for i in self.entries[target]))
        elif target in self.os_files:
            self.os_files[path] = self.os_files[target]
        else:
            return False
        return True

    def _hide(self, path: str | None) -> None:
        if path:
            self._budget(len(path))
            self.deleted.append(path)

    def _forget(self, path: str) -> None:
        self.packages.pop(path, None)
        self.os_files.pop(path, None)
        self.skipped.pop(path, None)
        self.unread.pop(path, None)
        self.entries.pop(path, None)

    def _budget(self, size: int) -> None:
        self._kept += size
        if self._kept > self._limits.max_kept_bytes:
            raise self._stream.rejected(f"needs more than {self._limits.max_kept_bytes} bytes of cataloged files")


def catalog_layer(blob: Path, media_type: str, digest: str, limits: LayerLimits = DEFAULT_LIMITS) -> LayerInventory:
    """Catalog one downloaded layer blob (synchronous and CPU-bound: run it in a worker thread)."""
    with blob.open("rb") as raw:
        stream = GuardedStream(raw, media_type, digest, limits)
        try:
            with open_tar_stream(stream) as tar:
                return _LayerReader(stream, digest, limits).walk(tar)
        except tarfile.TarError as exc:
            raise LayerRejected(f"layer {digest} is not a valid tar archive: {exc}", digest=digest) from exc


def _replaces_contents(path: str) -> bool:
    """A non-file entry at a path whose lower-layer contents SecAPI read (a database directory, a Java archive)."""
    return path.endswith(DIRECTORY_TAILS) or is_java_archive(path)
