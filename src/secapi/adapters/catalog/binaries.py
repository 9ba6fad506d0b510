"""Go and Rust executables told apart while their bytes stream past, in bounded memory.

pyelftools and LIEF need a seekable file; a layer is a forward-only tar stream, and executables run to
hundreds of MB. So this hand-reads the little it needs: the ELF header, then the section header table and
its name table wherever each lies (Go's linker writes the table near the start, GNU ld at the end), keeping
only a bounded window of the bytes already passed. Go's build info is also found by its magic (16-byte
aligned, as the Go runtime writes it), which covers PE and Mach-O executables and ELF without section headers.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable

GO_BINARY, RUST_BINARY = "go-binary", "rust-binary"
GO_MAGIC = b"\xff Go buildinf:"
_GO_SECTION, _RUST_SECTION = ".go.buildinfo", ".dep-v0"  # cargo-auditable's dependency list
_MACHO = frozenset(  # 32- and 64-bit, either byte order, and universal (fat) files
    {b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"}
)
_CHUNK = 64 * 1024
_WINDOW = 1024 * 1024
"""Bytes kept behind the read position, for a name table that precedes the section header table."""
_MAX_TABLE = 256 * 1024
"""A larger section header or name table is not a plausible executable's: give up rather than hold it."""

Read = Callable[[int], bytes]


class _Stream:
    """Reads forward in chunks, keeps the last `_WINDOW` bytes, and notes an aligned Go build info magic."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self._chunks: deque[tuple[int, bytes]] = deque()
        self._kept = 0
        self.end = 0
        self.go_magic = False

    def more(self) -> bool:
        """Read one chunk; False at the end of the member."""
        chunk = self._read(_CHUNK)
        if not chunk:
            return False
        start = self.end
        if not self.go_magic:  # search from 15 bytes back, so a magic split between chunks is still seen
            overlap = self._tail(len(GO_MAGIC) - 1)
            self.go_magic = _aligned_magic(overlap + chunk, start - len(overlap))
        self._chunks.append((start, chunk))
        self._kept += len(chunk)
        self.end += len(chunk)
        while self._kept - len(self._chunks[0][1]) >= _WINDOW:
            self._kept -= len(self._chunks.popleft()[1])
        return True

    def drain(self) -> None:
        """Read to the end of the member (or until the Go magic shows)."""
        while not self.go_magic and self.more():
            pass

    def bytes_at(self, offset: int, size: int) -> bytes | None:
        """`size` bytes at file offset `offset`, reading forward as needed; None if passed or past the end."""
        while self.end < offset + size:
            if not self.more():
                return None
        if not self._chunks or offset < self._chunks[0][0]:
            return None
        joined = b"".join(chunk for start, chunk in self._chunks if start + len(chunk) > offset)
        first = next(start for start, chunk in self._chunks if start + len(chunk) > offset)
        return joined[offset - first : offset - first + size]

    def _tail(self, size: int) -> bytes:
        return self._chunks[-1][1][-size:] if self._chunks else b""


def _aligned_magic(data: bytes, base: int) -> bool:
    at = data.find(GO_MAGIC)
    while at >= 0:
        if (base + at) % 16 == 0:
            return True
        at = data.find(GO_MAGIC, at + 1)
    return False


def _elf_section_names(head: bytes, stream: _Stream) -> set[str] | None:
    """The section names of an ELF file, or None when its header or tables are missing or implausible."""
    if len(head) < 64 or head[4] not in (1, 2) or head[5] not in (1, 2):  # class: 32/64-bit; data: LE/BE
        return None
    wide, order = head[4] == 2, "<" if head[5] == 1 else ">"
    shoff = struct.unpack_from(order + ("Q" if wide else "I"), head, 0x28 if wide else 0x20)[0]
    entsize, count, names_index = struct.unpack_from(order + "HHH", head, 0x3A if wide else 0x2E)
    if shoff == 0 or names_index >= count or entsize < (64 if wide else 40) or entsize * count > _MAX_TABLE:
        return None
    table = stream.bytes_at(shoff, entsize * count)
    if table is None:
        return None
    layout = order + ("I20xQQ" if wide else "I12xII")  # sh_name, then sh_offset and sh_size
    sections = [struct.unpack_from(layout, table, i * entsize) for i in range(count)]
    _, names_offset, names_size = sections[names_index]
    names = stream.bytes_at(names_offset, names_size) if names_size <= _MAX_TABLE else None
    if names is None:
        return None
    return {names[name : names.find(b"\0", name)].decode("latin-1") for name, _, _ in sections if name < len(names)}


def sniff_binary(read: Read) -> str | None:
    """`go-binary`, `rust-binary`, or None for another file, from an executable's bytes read forward."""
    stream = _Stream(read)
    if not stream.more():
        return None
    head = stream.bytes_at(0, min(stream.end, 64)) or b""
    if head.startswith(b"\x7fELF"):
        names = _elf_section_names(head, stream)
        if names is not None:
            if _GO_SECTION in names or stream.go_magic:
                return GO_BINARY
            return RUST_BINARY if _RUST_SECTION in names else None
    elif not (head.startswith(b"MZ") or head[:4] in _MACHO):
        return None
    stream.drain()
    return GO_BINARY if stream.go_magic else None
