"""Header blobs of an rpm Berkeley DB hash database (`var/lib/rpm/Packages`: RHEL/CentOS 5-8, Amazon Linux 2).

Hand-written: no maintained pure-Python Berkeley DB reader exists (bsddb3/berkeleydb bind libdb, which
neither images nor this service have). Only what rpm writes is read: a hash database whose metadata page
names the page size, hash pages holding key/value pairs (the key a package number, the value its header
inline or, nearly always, as a chain of overflow pages). Every page is visited once, in file order, and
an overflow page may belong to one chain only, so a hostile file cannot loop or make the work grow
beyond its size.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

_HASH_MAGIC = 0x061561
_INVALID, _HASH_META, _HASH_UNSORTED, _HASH, _OVERFLOW = 0, 8, 2, 13, 7
_KEYDATA, _DUPLICATE, _OFFPAGE, _OFFDUP = 1, 2, 3, 4
_PAGE_HEADER = 26
_PAGE_SIZES = frozenset(1 << n for n in range(9, 17))  # 512 B to 64 KiB, Berkeley DB's own bounds


class _Pages:
    """The file as pages of one size and byte order."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 512:
            raise ValueError(f"a Berkeley DB file of {len(data)} bytes is shorter than its metadata page")
        for order in "<>":
            if struct.unpack_from(f"{order}I", data, 12)[0] == _HASH_MAGIC:
                break
        else:
            raise ValueError("not a Berkeley DB hash database (no hash magic number)")
        self.order = order
        page_size, encryption, kind, _, _, _, last_page = struct.unpack_from(f"{order}IBBBBII", data, 20)
        if kind != _HASH_META:
            raise ValueError(f"a Berkeley DB hash database whose first page has type {kind}, not hash metadata")
        if page_size not in _PAGE_SIZES:
            raise ValueError(f"a Berkeley DB page size of {page_size} bytes, not a power of two from 512 to 65536")
        if encryption:
            raise ValueError("an encrypted Berkeley DB database")
        self.data, self.size, self.count = data, page_size, len(data) // page_size
        if last_page >= self.count:  # the pages past the end would be packages passed over unread
            raise ValueError(
                f"a truncated Berkeley DB database: {len(data)} bytes hold {self.count} whole pages, "
                f"its metadata names page {last_page} as the last"
            )

    def header(self, pgno: int) -> tuple[int, int, int, int]:
        """(next page, entries, bytes used on an overflow page, page type) of page `pgno`."""
        next_page, entries, used, _, kind = struct.unpack_from(f"{self.order}IHHBB", self.data, pgno * self.size + 16)
        return next_page, entries, used, kind

    def offsets(self, pgno: int, entries: int) -> tuple[int, ...]:
        base = pgno * self.size
        if _PAGE_HEADER + 2 * entries > self.size:
            raise ValueError(f"Berkeley DB page {pgno} claims {entries} entries, more than the page holds")
        found = struct.unpack_from(f"{self.order}{entries}H", self.data, base + _PAGE_HEADER)
        if any(not _PAGE_HEADER + 2 * entries <= offset < self.size for offset in found):
            raise ValueError(f"Berkeley DB page {pgno} has an entry outside the page")
        return found


def bdb_blobs(data: bytes, max_blobs: int) -> Iterator[bytes]:
    """Every package's header blob, in page order; ValueError for anything not shaped like rpm's hash file."""
    pages = _Pages(data)
    claimed: set[int] = set()
    found = 0
    for pgno in range(1, pages.count):
        _, entries, _, kind = pages.header(pgno)
        if kind in (_INVALID, _OVERFLOW):  # a free page; an overflow page, read through its chain
            continue
        if kind not in (_HASH, _HASH_UNSORTED):  # passing it over could pass packages over unsaid
            raise ValueError(f"Berkeley DB page {pgno} has type {kind}, not one a hash database holds")
        offsets = pages.offsets(pgno, entries)
        if entries % 2:
            raise ValueError(f"Berkeley DB hash page {pgno} has a key without a value")
        for n in range(0, entries, 2):
            key = _item(pages, pgno, offsets, n)
            if key == b"\0\0\0\0":  # package number 0 holds rpm's next-number counter, no header
                continue
            value = _item(pages, pgno, offsets, n + 1)
            if value is None:
                value = _overflow(pages, pgno, offsets[n + 1], claimed)
            found += 1
            if found > max_blobs:
                raise ValueError(f"an rpm database with more than {max_blobs} packages")
            yield value


def _item(pages: _Pages, pgno: int, offsets: tuple[int, ...], n: int) -> bytes | None:
    """An inline item's bytes; None for an overflow reference (read by `_overflow`)."""
    start = pgno * pages.size + offsets[n]
    end = pgno * pages.size + (offsets[n - 1] if n else pages.size)
    if end <= start:
        raise ValueError(f"Berkeley DB hash page {pgno} has overlapping entries")
    kind = pages.data[start]
    if kind == _KEYDATA:
        return pages.data[start + 1 : end]
    if kind == _OFFPAGE:
        return None
    if kind in (_DUPLICATE, _OFFDUP):
        raise ValueError(f"Berkeley DB hash page {pgno} has duplicate records, which rpm never writes")
    raise ValueError(f"Berkeley DB hash page {pgno} has an entry of unknown type {kind}")


def _overflow(pages: _Pages, pgno: int, offset: int, claimed: set[int]) -> bytes:
    start = pgno * pages.size + offset
    if start + 12 > (pgno + 1) * pages.size:
        raise ValueError(f"Berkeley DB hash page {pgno} has a truncated overflow reference")
    page, total = struct.unpack_from(f"{pages.order}II", pages.data, start + 4)
    if total > len(pages.data):
        raise ValueError(f"a Berkeley DB overflow record claims {total} bytes, more than the whole file")
    chunks: list[bytes] = []
    kept = 0
    while page:
        if page >= pages.count or page in claimed:
            raise ValueError(f"a Berkeley DB overflow chain reaches page {page}, missing or already used")
        claimed.add(page)
        next_page, _, used, kind = pages.header(page)
        if kind != _OVERFLOW or used > pages.size - _PAGE_HEADER:
            raise ValueError(f"Berkeley DB page {page} in an overflow chain is not a valid overflow page")
        base = page * pages.size + _PAGE_HEADER
        chunks.append(pages.data[base : base + used])
        kept += used
        if kept > total:
            raise ValueError(f"a Berkeley DB overflow chain holds more than the {total} bytes it claims")
        page = next_page
    if kept != total:
        raise ValueError(f"a Berkeley DB overflow chain holds {kept} of the {total} bytes it claims")
    return b"".join(chunks)
