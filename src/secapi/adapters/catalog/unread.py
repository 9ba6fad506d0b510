"""What a layer holds that SecAPI cannot read yet, so a clean answer can say it did not look there.

Found by name (RPM databases, Java archives) or by sniffing executables (Go, Rust); listed, never parsed.
"""

from __future__ import annotations

import tarfile

from secapi.adapters.catalog.binaries import GO_BINARY, RUST_BINARY, sniff_binary
from secapi.domain.packages import UnscannedItem

RPM_DB, JAVA_ARCHIVE = "rpm-db", "java-archive"
MAX_LISTED = 200
"""Items of one kind listed per layer; a layer of 5,000 jars gets 200 and one item counting the rest."""
RPM_DATABASES = {
    "var/lib/rpm/Packages": "Berkeley DB",
    "var/lib/rpm/rpmdb.sqlite": "SQLite",
    "usr/lib/sysimage/rpm/Packages.db": "NDB",
    "usr/lib/sysimage/rpm/rpmdb.sqlite": "SQLite",
}
RPM_TAILS = ("/Packages", "/Packages.db", "/rpmdb.sqlite")
JAVA_ARCHIVES = (".jar", ".war", ".ear")
_MIN_EXECUTABLE = 64
"""No ELF, PE or Mach-O executable is smaller than its 64-byte ELF header, the smallest of the three."""
_REASONS = {
    GO_BINARY: "a Go executable with embedded module information: Go binaries are not read yet, "
    "so the modules built into it were not scanned",
    RUST_BINARY: "a Rust executable with a cargo-auditable dependency list: Rust binaries are not read yet, "
    "so the crates built into it were not scanned",
    JAVA_ARCHIVE: "a Java archive: archives are not opened yet, so the libraries in it were not scanned",
}
_PLURALS = {GO_BINARY: "Go executables", RUST_BINARY: "Rust executables", JAVA_ARCHIVE: "Java archives"}


def unread_item(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> UnscannedItem | None:
    """An item for a regular file SecAPI cannot read yet; None for any other (reads at most the member itself)."""
    if path in RPM_DATABASES:
        reason = (
            f"an RPM database ({RPM_DATABASES[path]}): RPM databases are not read yet, "
            "so the packages it lists were not scanned"
        )
        return UnscannedItem(path=path, kind=RPM_DB, reason=reason)
    if path.endswith(JAVA_ARCHIVES):
        return UnscannedItem(path=path, kind=JAVA_ARCHIVE, reason=_REASONS[JAVA_ARCHIVE])
    if member.mode & 0o111 and member.size >= _MIN_EXECUTABLE:
        data = tar.extractfile(member)
        kind = sniff_binary(data.read) if data is not None else None
        if kind is not None:
            return UnscannedItem(path=path, kind=kind, reason=_REASONS[kind])
    return None


def might_be_unread(member: tarfile.TarInfo) -> bool:
    """A cheap first filter on a member header: could `unread_item` list it?"""
    if not member.isreg():  # links are listed where their targets are; the rest hold nothing to read
        return False
    name = member.name
    return bool(member.mode & 0o111) or name.endswith(JAVA_ARCHIVES) or name.endswith(RPM_TAILS)


def unlisted_item(kind: str, count: int) -> UnscannedItem:
    """The whole-layer item (empty path) counting what `MAX_LISTED` left out."""
    noun = _PLURALS.get(kind, f"{kind} items")
    return UnscannedItem(path="", kind=kind, reason=f"{count} more {noun} in this layer were not listed")
