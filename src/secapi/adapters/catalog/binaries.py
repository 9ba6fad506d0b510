"""Go and Rust executables told apart while their bytes stream past, in bounded memory.

pyelftools and LIEF need a seekable file; a layer is a forward-only tar stream, and executables run to
hundreds of MB. So this hand-reads the little it needs (sectiontables.py): the ELF header, then the section
header table and its name table wherever each lies (Go's linker writes the table near the start, GNU ld at the
end), or PE and Mach-O section tables, keeping only a bounded window of the bytes already passed. Go's build
info is also found by its magic (16-byte aligned, as the Go runtime writes it), which covers PE and Mach-O
executables and ELF without section headers. From that magic on, up to `_MAX_BUILD_INFO` bytes are kept, so an
ELF executable's build info can be parsed (gobuildinfo.py) wherever its section lies; in PE and Mach-O
executables it is read from the magic on, which works for the inline layout of Go ≥ 1.18 (older ones are
listed with the reason). A Rust executable's `.dep-v0` section (cargo-auditable) is read, at most
`rustaudit.MAX_COMPRESSED` bytes of it: in PE and Mach-O files the section table is in the headers, so the
section is always ahead; in ELF files it is read when ahead of the read position or still in the window
(linkers put it just before the section header table, unless unstripped symbols come between). In a universal
(fat) Mach-O file the first slice that has one is read (the slices of one build list the same crates, bar
target-specific ones). An ELF executable without the section whose `.comment` names rustc (rustc ≥ 1.73 writes
`rustc version ...` there) is still a Rust executable, listed as one whose crates cannot be known.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from secapi.adapters.catalog.gobuildinfo import GoBuildInfo, parse_go_build_info
from secapi.adapters.catalog.rustaudit import MAX_COMPRESSED, RustAuditError, RustPackages, read_dependency_list
from secapi.adapters.catalog.sectiontables import elf_sections, macho_section, pe_section

GO_BINARY, RUST_BINARY = "go-binary", "rust-binary"
GO_MAGIC = b"\xff Go buildinf:"
_GO_SECTION, _RUST_SECTION = ".go.buildinfo", ".dep-v0"  # cargo-auditable's dependency list
_MACHO = frozenset(  # 32- and 64-bit, either byte order, and universal (fat) files
    {b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"}
)
_CHUNK = 64 * 1024
_WINDOW = 1024 * 1024
"""Bytes kept behind the read position, for a name table that precedes the section header table."""
_MAX_BUILD_INFO = 1024 * 1024
"""Bytes kept from the Go magic on: real build info is a few KiB, so more is not a plausible executable's."""
_RUSTC = b"rustc version "
"""What rustc (≥ 1.73) writes into an executable's `.comment` section."""
_MAX_RUSTC_MARKS = 64
"""Offsets of `_RUSTC` kept while reading: `.comment` may lie MiBs back when the section table is read."""
_NO_LIST = (
    "it was built without a cargo-auditable dependency list (`cargo auditable build`), the only record of its crates"
)

Read = Callable[[int], bytes]


class _Stream:
    """Reads forward in chunks, keeps the last `_WINDOW` bytes, notes an aligned Go build info magic and
    where rustc's name appears."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self._chunks: deque[tuple[int, bytes]] = deque()
        self._kept = 0
        self.end = 0
        self.go_at: int | None = None
        self._go_bytes = bytearray()
        self.rustc_at: list[int] = []

    @property
    def go_magic(self) -> bool:
        """Whether an aligned Go build info magic has been read."""
        return self.go_at is not None

    def more(self) -> bool:
        """Read one chunk; False at the end of the member."""
        chunk = self._read(_CHUNK)
        if not chunk:
            return False
        start = self.end
        if self.go_at is None:  # search from 15 bytes back, so a magic split between chunks is still seen
            data = self._tail(len(GO_MAGIC) - 1) + chunk
            at = _aligned_magic(data, start + len(chunk) - len(data))
            if at >= 0:
                self.go_at = start + len(chunk) - len(data) + at
                self._go_bytes += data[at : at + _MAX_BUILD_INFO]
        elif len(self._go_bytes) < _MAX_BUILD_INFO:
            self._go_bytes += chunk[: _MAX_BUILD_INFO - len(self._go_bytes)]
        self._note_rustc(start, chunk)
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

    def go_build_info(self, size: int) -> bytes:
        """The first `size` bytes from the Go magic on, reading forward; fewer at the end or past the cap."""
        while len(self._go_bytes) < min(size, _MAX_BUILD_INFO) and self.more():
            pass
        return bytes(self._go_bytes[:size])

    def _note_rustc(self, start: int, chunk: bytes) -> None:
        seam = self._tail(len(_RUSTC) - 1)  # a mark split between chunks is still seen, and only once
        joined = seam + chunk[: len(_RUSTC) - 1]
        hits = [start - len(seam) + at for at in (joined.find(_RUSTC),) if at >= 0]
        at = chunk.find(_RUSTC)
        while at >= 0 and len(hits) < _MAX_RUSTC_MARKS:
            hits.append(start + at)
            at = chunk.find(_RUSTC, at + 1)
        self.rustc_at += hits[: _MAX_RUSTC_MARKS - len(self.rustc_at)]

    def _tail(self, size: int) -> bytes:
        return self._chunks[-1][1][-size:] if self._chunks else b""


def _aligned_magic(data: bytes, base: int) -> int:
    """The index in `data` (at file offset `base`) of the first 16-byte aligned magic, or -1."""
    at = data.find(GO_MAGIC)
    while at >= 0 and (base + at) % 16:
        at = data.find(GO_MAGIC, at + 1)
    return at


@dataclass(frozen=True, slots=True)
class Executable:
    """A Go or Rust executable, with its build info or dependency list when it could be read."""

    kind: str
    go_build_info: GoBuildInfo | None = None
    rust_packages: RustPackages | None = None
    unread_because: str | None = None
    """Why a Go executable's build info or a Rust one's dependency list was not read (old, malformed, too far)."""


def examine_binary(read: Read) -> Executable | None:
    """A Go or Rust executable (reading its build info or dependency list), or None for another file."""
    stream = _Stream(read)
    if not stream.more():
        return None
    head = stream.bytes_at(0, min(stream.end, 64)) or b""
    if head.startswith(b"\x7fELF"):
        sections = elf_sections(head, stream.bytes_at)
        if sections is not None and _GO_SECTION in sections:
            return _go_build_info(stream, sections[_GO_SECTION])
        if sections is not None and not stream.go_magic:
            if _RUST_SECTION in sections:
                return _rust_section(stream, sections[_RUST_SECTION])
            return _rustc_built(stream, sections.get(".comment"))
        stream.drain()
        return _go_build_info(stream, None) if stream.go_magic else None
    if not (head.startswith(b"MZ") or head[:4] in _MACHO):
        return None
    bytes_at, name = stream.bytes_at, _RUST_SECTION
    dep_section = pe_section(name, bytes_at) if head.startswith(b"MZ") else macho_section(name, head, bytes_at)
    if dep_section is not None:
        return _rust_section(stream, dep_section)
    stream.drain()
    return _go_build_info(stream, None) if stream.go_magic else None


def _rust_section(stream: _Stream, section: tuple[int, int]) -> Executable:
    """Read and parse the `.dep-v0` section; what went wrong becomes the reason it was not read."""
    offset, size = section
    if size > MAX_COMPRESSED:
        reason = f"its .dep-v0 section is {size:,} bytes, over the {MAX_COMPRESSED:,} read"
        return Executable(RUST_BINARY, unread_because=reason)
    data = stream.bytes_at(offset, size)
    if data is None or len(data) < size:
        reason = "its .dep-v0 section lies outside the file or too far before the section headers to be read"
        return Executable(RUST_BINARY, unread_because=reason)
    try:
        return Executable(RUST_BINARY, rust_packages=read_dependency_list(data))
    except RustAuditError as exc:
        return Executable(RUST_BINARY, unread_because=str(exc))


def _rustc_built(stream: _Stream, comment: tuple[int, int] | None) -> Executable | None:
    """A Rust executable with no dependency list, when its `.comment` section names rustc; else None."""
    if comment is None or not any(comment[0] <= at < comment[0] + comment[1] for at in stream.rustc_at):
        return None
    return Executable(RUST_BINARY, unread_because=_NO_LIST)


def _go_build_info(stream: _Stream, section: tuple[int, int] | None) -> Executable:
    """Parse the build info from the `.go.buildinfo` section, else from the aligned magic the stream kept."""
    fetch: Callable[[int], bytes] = stream.go_build_info
    if section is not None and section[0] != stream.go_at:
        # The section is ahead, or still in the window (linkers need not align it as the Go runtime does).
        offset, size = section
        data = stream.bytes_at(offset, min(size, _MAX_BUILD_INFO))
        if data is None or not data.startswith(GO_MAGIC):
            return Executable(GO_BINARY, unread_because="its .go.buildinfo section could not be read")
        fetch = _prefixes(data)
    try:
        return Executable(GO_BINARY, go_build_info=parse_go_build_info(fetch))
    except ValueError as exc:
        return Executable(GO_BINARY, unread_because=str(exc))


def _prefixes(data: bytes) -> Callable[[int], bytes]:
    return lambda size: data[:size]


def sniff_binary(read: Read) -> str | None:
    """`go-binary`, `rust-binary`, or None for another file, from an executable's bytes read forward."""
    found = examine_binary(read)
    return found.kind if found is not None else None
