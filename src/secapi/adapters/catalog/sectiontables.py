"""Where a named section lies in an ELF, PE or Mach-O file, from its headers and tables alone.

Each reader gets `bytes_at(offset, size)`: bytes of the file, read forward as needed, None once passed or
past the end (binaries.py's bounded stream). Tables larger than `MAX_TABLE` are not a plausible
executable's and are not read. PE and Mach-O tables sit at the start of the file; ELF's section header
table may sit at the end (GNU ld) or at the start (Go's linker).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

BytesAt = Callable[[int, int], bytes | None]
MAX_TABLE = 256 * 1024
"""A larger section header or name table is not a plausible executable's: give up rather than hold it."""
_FAT = b"\xca\xfe\xba\xbe"
_MAX_SLICES = 16
"""Architectures in one universal Mach-O file; real ones have two or three."""


def pe_section(wanted: str, bytes_at: BytesAt) -> tuple[int, int] | None:
    """The file offset and size of a PE file's section named `wanted` (8 bytes at most), from its section table."""
    pointer = bytes_at(0x3C, 4)
    signature_at = struct.unpack("<I", pointer)[0] if pointer else 0
    coff = bytes_at(signature_at, 24) if 0x40 <= signature_at <= MAX_TABLE else None
    if coff is None or not coff.startswith(b"PE\0\0"):
        return None
    count, optional_size = struct.unpack_from("<H12xH", coff, 6)
    table = bytes_at(signature_at + 24 + optional_size, 40 * count) if 40 * count <= MAX_TABLE else None
    for at in range(0, len(table or b""), 40):
        name, virtual_size, raw_size, raw_offset = struct.unpack_from("<8sI4xII", table or b"", at)
        if name.rstrip(b"\0") == wanted.encode():
            # The raw data is padded to the file alignment; the virtual size is the section's own.
            return raw_offset, min(virtual_size, raw_size) if virtual_size else raw_size
    return None


_MACHO_LAYOUTS = {  # magic → byte order, header size, LC_SEGMENT(_64), its size, section size, section fields
    b"\xcf\xfa\xed\xfe": ("<", 32, 0x19, 72, 80, "32xQQI"),
    b"\xfe\xed\xfa\xcf": (">", 32, 0x19, 72, 80, "32xQQI"),
    b"\xce\xfa\xed\xfe": ("<", 28, 0x1, 56, 68, "32xIII"),
    b"\xfe\xed\xfa\xce": (">", 28, 0x1, 56, 68, "32xIII"),
}


def _fat_section(wanted: str, head: bytes, bytes_at: BytesAt) -> tuple[int, int] | None:
    """The `__DATA,<wanted>` section of the first slice of a universal Mach-O file that has one."""
    count = struct.unpack_from(">I", head, 4)[0] if len(head) >= 8 else 0
    if not 0 < count <= _MAX_SLICES:  # Java class files share the magic; their version reads as 45 or more
        return None
    slices = bytes_at(8, 20 * count) or b""
    for at in range(0, len(slices), 20):
        offset = struct.unpack_from(">I", slices, at + 8)[0]
        found = macho_section(wanted, bytes_at(offset, 32) or b"", bytes_at, base=offset)
        if found is not None:
            return found
    return None


def macho_section(wanted: str, head: bytes, bytes_at: BytesAt, base: int = 0) -> tuple[int, int] | None:
    """The file offset and size of a Mach-O file's (or slice's, at `base`) `__DATA,<wanted>` section."""
    if head[:4] == _FAT:
        return _fat_section(wanted, head, bytes_at) if base == 0 else None
    layout = _MACHO_LAYOUTS.get(head[:4])
    if layout is None or len(head) < 32:
        return None
    order, header_size, segment, segment_size, section_size, fields = layout
    count, size = struct.unpack_from(order + "II", head, 16)
    commands = bytes_at(base + header_size, size) if size <= MAX_TABLE else None
    at = 0
    for _ in range(count):
        if commands is None or at + 8 > len(commands):
            return None
        command, command_size = struct.unpack_from(order + "II", commands, at)
        body = commands[at : at + command_size]
        if command == segment and len(body) >= segment_size:
            listed = struct.unpack_from(order + "I", body, segment_size - 8)[0]
            for entry in range(segment_size, segment_size + section_size * listed, section_size):
                if entry + section_size > len(body):
                    break
                name, segname = body[entry : entry + 16].rstrip(b"\0"), body[entry + 16 : entry + 32].rstrip(b"\0")
                if (name, segname) == (wanted.encode(), b"__DATA"):
                    _, section_bytes, offset = struct.unpack_from(order + fields, body, entry)
                    return base + offset, section_bytes
        if command_size < 8:
            return None
        at += command_size
    return None


def elf_sections(head: bytes, bytes_at: BytesAt) -> dict[str, tuple[int, int]] | None:
    """An ELF file's sections by name (offset, size), or None when its header or tables are missing or implausible."""
    if len(head) < 64 or head[4] not in (1, 2) or head[5] not in (1, 2):  # class: 32/64-bit; data: LE/BE
        return None
    wide, order = head[4] == 2, "<" if head[5] == 1 else ">"
    shoff = struct.unpack_from(order + ("Q" if wide else "I"), head, 0x28 if wide else 0x20)[0]
    entsize, count, names_index = struct.unpack_from(order + "HHH", head, 0x3A if wide else 0x2E)
    if shoff == 0 or names_index >= count or entsize < (64 if wide else 40) or entsize * count > MAX_TABLE:
        return None
    table = bytes_at(shoff, entsize * count)
    if table is None:
        return None
    layout = order + ("I20xQQ" if wide else "I12xII")  # sh_name, then sh_offset and sh_size
    sections = [struct.unpack_from(layout, table, i * entsize) for i in range(count)]
    _, names_offset, names_size = sections[names_index]
    names = bytes_at(names_offset, names_size) if names_size <= MAX_TABLE else None
    if names is None:
        return None
    return {
        names[name : names.find(b"\0", name)].decode("latin-1"): (offset, size)
        for name, offset, size in sections
        if name < len(names)
    }
