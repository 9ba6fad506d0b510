"""One RPM header blob (as the rpmdb stores it) → the package it describes, bounded against hostile input.

The blob is rpm's "header without lead": two big-endian counts (index entries, data bytes), the index
entries (tag, type, offset, count; 16 bytes each), then the data store. Only the few tags a package
record needs are read; every malformation is a ValueError whose message says what was wrong.
Hand-written because no maintained pure-Python reader of installed headers exists (python3-rpm binds
librpm, which images and this service do not have).
"""

from __future__ import annotations

import struct

from secapi.domain.inventory import RPM, PackageRecord

MAX_INDEX_ENTRIES = 0xFFFF
"""rpm itself refuses headers with more index entries (hdrchkTags)."""
MAX_HEADER_BYTES = 16 * 1024 * 1024
"""Far above real headers: SLE 15's 35 run from 4 KB to 342 KB (sles-release), RHEL 8's libuuid is 81 KB."""
_NAME, _VERSION, _RELEASE, _EPOCH, _ARCH, _SOURCERPM, _MODULARITYLABEL = 1000, 1001, 1002, 1003, 1022, 1044, 5096
_WANTED = frozenset({_NAME, _VERSION, _RELEASE, _EPOCH, _ARCH, _SOURCERPM, _MODULARITYLABEL})
_INT32, _STRING, _I18NSTRING = 4, 6, 9
_MAX_FIELD = 4096
"""Longest string kept from one tag: names, versions and labels are far shorter."""
_ENTRY = struct.Struct(">iIiI")  # tag, type, offset, count


class RpmHeader:
    """The tags of one installed package that SecAPI uses."""

    __slots__ = ("arch", "epoch", "modularity_label", "name", "release", "source_rpm", "version")

    def __init__(self, values: dict[int, str | int]) -> None:
        def text(tag: int) -> str | None:
            value = values.get(tag)
            return value if isinstance(value, str) and value else None

        epoch = values.get(_EPOCH)
        self.name, self.version, self.release = text(_NAME), text(_VERSION), text(_RELEASE)
        self.epoch = epoch if isinstance(epoch, int) else None
        self.arch, self.source_rpm = text(_ARCH), text(_SOURCERPM)
        self.modularity_label = text(_MODULARITYLABEL)


def parse_header(blob: bytes) -> RpmHeader:
    """The wanted tags of one header blob; ValueError when the blob is not a well-formed header."""
    if len(blob) < 8:
        raise ValueError(f"an RPM header of {len(blob)} bytes is shorter than its 8-byte preamble")
    if len(blob) > MAX_HEADER_BYTES:
        raise ValueError(f"an RPM header of {len(blob)} bytes is over the {MAX_HEADER_BYTES}-byte limit")
    count, data_length = struct.unpack_from(">II", blob)
    if count == 0 or count > MAX_INDEX_ENTRIES:
        raise ValueError(f"an RPM header claims {count} index entries (1 to {MAX_INDEX_ENTRIES} allowed)")
    store = 8 + 16 * count
    if store + data_length > len(blob):
        raise ValueError(
            f"an RPM header claims {count} index entries and {data_length} data bytes, more than its {len(blob)} bytes"
        )
    values: dict[int, str | int] = {}
    for n in range(count):
        tag, kind, offset, items = _ENTRY.unpack_from(blob, 8 + 16 * n)
        if tag not in _WANTED:
            continue
        if offset < 0 or offset >= data_length:
            raise ValueError(f"RPM header tag {tag} points at offset {offset}, outside its {data_length} data bytes")
        start = store + offset
        if kind == _INT32:
            if items < 1 or offset + 4 > data_length:
                raise ValueError(f"RPM header tag {tag} holds no whole 32-bit integer")
            values[tag] = struct.unpack_from(">I", blob, start)[0]
        elif kind in (_STRING, _I18NSTRING):
            values[tag] = _string(blob, start, store + data_length, tag)
        else:
            raise ValueError(f"RPM header tag {tag} has type {kind}, not a string or integer")
    return RpmHeader(values)


def _string(blob: bytes, start: int, end: int, tag: int) -> str:
    stop = blob.find(b"\0", start, min(end, start + _MAX_FIELD + 1))
    if stop < 0:
        raise ValueError(f"RPM header tag {tag} holds no NUL-terminated string of at most {_MAX_FIELD} bytes")
    return blob[start:stop].decode("utf-8", errors="replace")


def split_source_rpm(source_rpm: str) -> tuple[str, str] | None:
    """`openssl-3.0.7-27.el9.src.rpm` → (`openssl`, `3.0.7-27.el9`); None when it is not so shaped."""
    stem = source_rpm.removesuffix(".rpm")
    stem = stem.rpartition(".")[0] if stem != source_rpm else ""  # drop `.src` / `.nosrc`
    name_version, _, release = stem.rpartition("-")
    name, _, version = name_version.rpartition("-")
    if not (name and version and release):
        return None
    return name, f"{version}-{release}"


def package_record(header: RpmHeader) -> PackageRecord | None:
    """The package a header describes; None for rpm's gpg-pubkey pseudo packages (imported keys, no software)."""
    if header.name is None or header.version is None:
        raise ValueError("an RPM header has no package name or version")
    if header.name == "gpg-pubkey":
        return None
    epoch = f"{header.epoch}:" if header.epoch is not None else ""
    release = f"-{header.release}" if header.release is not None else ""
    source = split_source_rpm(header.source_rpm) if header.source_rpm else None
    return PackageRecord(
        kind=RPM,
        name=header.name,
        version=f"{epoch}{header.version}{release}",
        # A source RPM's file name has no epoch; the binary's is the spec's, shared by all its packages.
        source_name=source[0] if source else None,
        source_version=f"{epoch}{source[1]}" if source else None,
        arch=header.arch,
        modularity_label=header.modularity_label,
    )
