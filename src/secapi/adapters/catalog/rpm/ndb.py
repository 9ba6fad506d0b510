"""Header blobs of an rpm NDB database (`usr/lib/sysimage/rpm/Packages.db`: SUSE, openSUSE).

rpm's own format (lib/backend/ndb): a slot table of 16-byte slots (`Slot`, package index, block offset,
block count) after a 32-byte header (`RpmP`, version, generation, slot pages), and each package's blob
at block offset x 16 (`BlbS`, package index, generation, length, then the header). Little-endian.
Hand-written: no Python reader of it exists.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

_PAGE, _SLOT, _BLOCK = 4096, 16, 16
_DB_MAGIC, _SLOT_MAGIC, _BLOB_MAGIC = b"RpmP", b"Slot", b"BlbS"
_HEADER = struct.Struct("<4sIII")  # magic, version, generation, slot pages
_ENTRY = struct.Struct("<4sIII")  # slot: magic, package index, block offset, block count; blob: ..., length


def ndb_blobs(data: bytes, max_blobs: int) -> Iterator[bytes]:
    """Every package's header blob, in slot order; ValueError for anything not shaped like an NDB file."""
    if len(data) < _PAGE:
        raise ValueError(f"an rpm NDB database of {len(data)} bytes is shorter than one {_PAGE}-byte page")
    magic, version, _, slot_pages = _HEADER.unpack_from(data)
    if magic != _DB_MAGIC or version != 0:
        raise ValueError("an rpm NDB database without the `RpmP` version 0 header")
    if slot_pages == 0 or slot_pages * _PAGE > len(data):
        raise ValueError(f"an rpm NDB database claims {slot_pages} slot pages, more than the file holds")
    found = 0
    for offset in range(2 * _SLOT, slot_pages * _PAGE, _SLOT):  # the first two slots hold the header
        slot_magic, index, block, blocks = _ENTRY.unpack_from(data, offset)
        if slot_magic != _SLOT_MAGIC:
            raise ValueError(f"an rpm NDB slot at byte {offset} has no `Slot` magic")
        if index == 0:  # a free slot
            continue
        found += 1
        if found > max_blobs:
            raise ValueError(f"an rpm database with more than {max_blobs} packages")
        yield _blob(data, index, block * _BLOCK, blocks * _BLOCK)


def _blob(data: bytes, index: int, start: int, size: int) -> bytes:
    if start < _PAGE or start + size > len(data) or size < _ENTRY.size:
        raise ValueError(f"rpm NDB package {index} lies outside the file")
    magic, owner, _, length = _ENTRY.unpack_from(data, start)
    if magic != _BLOB_MAGIC or owner != index:
        raise ValueError(f"rpm NDB package {index}'s blob has no `BlbS` magic for it")
    if length > size - _ENTRY.size:
        raise ValueError(f"rpm NDB package {index}'s blob claims {length} bytes, more than its {size}-byte blocks")
    return data[start + _ENTRY.size : start + _ENTRY.size + length]
