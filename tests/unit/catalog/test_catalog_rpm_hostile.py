"""Hostile rpm databases: every malformation is a ValueError naming it (a skipped file), never another
error, a loop or unbounded work; fuzzed from the real files and from hand-made minimal ones."""

from __future__ import annotations

import contextlib
import sqlite3
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.adapters.catalog.rpm import parse_rpm_bdb, parse_rpm_ndb, parse_rpm_sqlite
from secapi.adapters.catalog.rpm.bdb import bdb_blobs
from secapi.adapters.catalog.rpm.header import MAX_INDEX_ENTRIES, package_record, parse_header, split_source_rpm

from conftest import tar_bytes

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rpmdb"
BDB = (FIXTURES / "centos8-libuuid" / "Packages").read_bytes()
NDB = (FIXTURES / "sle15-bci" / "Packages.db").read_bytes()
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STRING, INT32 = 6, 4


def header(entries: list[tuple[int, int, int, int]], store: bytes) -> bytes:
    """A header blob: (tag, type, offset, count) entries, then the data store."""
    index = b"".join(struct.pack(">iIiI", *entry) for entry in entries)
    return struct.pack(">II", len(entries), len(store)) + index + store


GOOD = header([(1000, STRING, 0, 1), (1001, STRING, 4, 1), (1002, STRING, 8, 1)], b"abc\x001.0\x002.el9\x00")


def test_a_minimal_header_reads() -> None:
    record = package_record(parse_header(GOOD))
    assert record is not None
    assert (record.name, record.version, record.source_name) == ("abc", "1.0-2.el9", None)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\0\0\0", "shorter than its 8-byte preamble"),
        (struct.pack(">II", 0, 0), "claims 0 index entries"),
        (struct.pack(">II", MAX_INDEX_ENTRIES + 1, 0), f"claims {MAX_INDEX_ENTRIES + 1} index entries"),
        (struct.pack(">II", 1, 1 << 30) + bytes(16), "more than its 24 bytes"),
        (header([(1000, STRING, 99, 1)], b"abc\x00"), "points at offset 99, outside its 4 data bytes"),
        (header([(1000, STRING, -5, 1)], b"abc\x00"), "points at offset -5"),
        (header([(1000, STRING, 0, 1)], b"abcd"), "no NUL-terminated string"),
        (header([(1000, 7, 0, 1)], b"abc\x00"), "has type 7, not a string or integer"),
        (header([(1003, INT32, 2, 1)], b"abc\x00"), "no whole 32-bit integer"),
        (header([(1001, STRING, 0, 1)], b"1.0\x00"), "no package name or version"),
    ],
)
def test_malformed_headers_say_what_is_wrong(blob: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        package_record(parse_header(blob))


def test_gpg_pubkey_pseudo_packages_are_not_packages() -> None:
    key = header([(1000, STRING, 0, 1), (1001, STRING, 11, 1)], b"gpg-pubkey\x00fd431d51\x00")
    assert package_record(parse_header(key)) is None


@pytest.mark.parametrize(
    ("source_rpm", "expected"),
    [
        ("util-linux-2.32.1-42.el8_8.src.rpm", ("util-linux", "2.32.1-42.el8_8")),
        ("gcc11-11.2.1+git610-1.3.9.src.rpm", ("gcc11", "11.2.1+git610-1.3.9")),
        ("kernel-5.14.0-1.nosrc.rpm", ("kernel", "5.14.0-1")),
        ("(none)", None),
        ("a-1.src.rpm", None),
        (".src.rpm", None),
    ],
)
def test_source_rpm_file_names_split_into_name_and_version(source_rpm: str, expected: tuple[str, str] | None) -> None:
    assert split_source_rpm(source_rpm) == expected


def _page(page_size: int, kind: int, *, next_page: int = 0, entries: int = 0, used: int = 0) -> bytearray:
    page = bytearray(page_size)
    struct.pack_into("<IHHBB", page, 16, next_page, entries, used, 0, kind)
    return page


def bdb_file(values: list[bytes | int], overflow: dict[int, tuple[int, bytes]], pages: int) -> bytes:
    """A 512-byte-page hash file: page 1 holds key/value pairs (an int value = an overflow reference to that
    page), further pages are overflow pages (page -> (next page, data))."""
    size = 512
    meta = bytearray(size)
    struct.pack_into("<IIIBB", meta, 12, 0x061561, 9, size, 0, 8)
    items: list[bytes] = []
    for n, value in enumerate(values, start=1):
        items.append(b"\x01" + struct.pack("<I", n))
        if isinstance(value, int):
            total = sum(len(data) for _, data in overflow.values())
            items.append(b"\x03\0\0\0" + struct.pack("<II", value, total))
        else:
            items.append(b"\x01" + value)
    hash_page = _page(size, 13, entries=len(items))
    end = size
    for n, item in enumerate(items):
        end -= len(item)
        hash_page[end : end + len(item)] = item
        struct.pack_into("<H", hash_page, 26 + 2 * n, end)
    body = [meta, hash_page]
    for pgno in range(2, pages):
        next_page, data = overflow.get(pgno, (0, b""))
        page = _page(size, 7, next_page=next_page, used=len(data))
        page[26 : 26 + len(data)] = data
        body.append(page)
    return b"".join(body)


def test_a_hand_made_berkeley_db_reads_inline_and_overflow_values() -> None:
    data = bdb_file([GOOD, 2], {2: (3, GOOD[:30]), 3: (0, GOOD[30:])}, pages=4)
    assert list(bdb_blobs(data, 10)) == [GOOD, GOOD]


@pytest.mark.parametrize(
    ("values", "overflow", "message"),
    [
        ([2], {2: (2, GOOD)}, "reaches page 2, missing or already used"),  # a chain looping on itself
        ([2], {2: (3, GOOD[:30]), 3: (2, GOOD[30:])}, "reaches page 2, missing or already used"),
        ([2, 2], {2: (0, GOOD)}, "reaches page 2, missing or already used"),  # two records sharing a chain
        ([2], {2: (9, GOOD)}, "reaches page 9, missing"),
        ([1], {}, "not a valid overflow page"),  # the chain starts at the hash page itself
    ],
)
def test_overflow_chains_cannot_loop_share_or_leave_the_file(
    values: list[bytes | int], overflow: dict[int, tuple[int, bytes]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rpm_bdb(bdb_file(values, overflow, pages=4))


def test_an_encrypted_or_oddly_paged_berkeley_db_is_refused() -> None:
    data = bytearray(BDB)
    data[24] = 1
    with pytest.raises(ValueError, match="encrypted"):
        parse_rpm_bdb(bytes(data))
    data = bytearray(BDB)
    struct.pack_into("<I", data, 20, 1000)
    with pytest.raises(ValueError, match="page size of 1000 bytes"):
        parse_rpm_bdb(bytes(data))


def test_a_berkeley_db_page_of_a_type_no_hash_database_holds_is_refused_not_passed_over() -> None:
    data = bytearray(bdb_file([GOOD], {}, pages=3))
    assert list(bdb_blobs(bytes(data), 10)) == [GOOD]  # page 2: an unused overflow page, 0 a free one
    data[2 * 512 + 25] = 0
    assert list(bdb_blobs(bytes(data), 10)) == [GOOD]
    data[2 * 512 + 25] = 5  # a B-tree leaf page
    with pytest.raises(ValueError, match="page 2 has type 5, not one a hash database holds"):
        list(bdb_blobs(bytes(data), 10))


@pytest.mark.parametrize("length", [2 * 512, 2 * 512 + 100])
def test_a_truncated_berkeley_db_is_refused_not_read_in_part(length: int) -> None:
    # Page 1 holds one whole package, its metadata names page 2 (a lost hash page) as the last: reading
    # only what is left would list one package and say nothing of the rest.
    meta_says_three_pages = bytearray(bdb_file([GOOD], {}, pages=3))
    struct.pack_into("<I", meta_says_three_pages, 32, 2)
    assert len(parse_rpm_bdb(bytes(meta_says_three_pages))) == 1
    with pytest.raises(ValueError, match=r"truncated Berkeley DB database: .* names page 2 as the last"):
        parse_rpm_bdb(bytes(meta_says_three_pages[:length]))


def test_ndb_slots_and_blobs_must_lie_inside_the_file() -> None:
    beyond = bytearray(NDB)
    struct.pack_into("<I", beyond, 32 + 8, 1 << 28)  # the first package's block offset
    with pytest.raises(ValueError, match="package 1 lies outside the file"):
        parse_rpm_ndb(bytes(beyond))
    lying = bytearray(NDB)
    struct.pack_into("<I", lying, 4096 + 12, 1 << 20)  # the first blob's length
    with pytest.raises(ValueError, match="claims 1048576 bytes"):
        parse_rpm_ndb(bytes(lying))


def _sqlite(tmp_path: Path, schema: str) -> bytes:
    path = tmp_path / "rpmdb.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(schema)
    connection.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("CREATE TABLE other (x);", "without a Packages table"),
        ("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob); INSERT INTO Packages VALUES (1, 'text');",
         "Packages.blob is not a blob"),
        ("CREATE TABLE t (x); CREATE VIEW Packages AS SELECT 1 AS hnum, zeroblob(8) AS blob;",
         "without a Packages table"),  # only a stored table is read
        ("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob); INSERT INTO Packages VALUES (1, zeroblob(8));",
         "package 1: an RPM header claims 0 index entries"),
    ],
)  # fmt: skip
def test_sqlite_files_that_are_no_rpm_database_say_so(tmp_path: Path, schema: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rpm_sqlite(_sqlite(tmp_path, schema))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(BDB) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_berkeley_db_files_parse_or_raise_value_error(flips: list[tuple[int, int]]) -> None:
    data = bytearray(BDB)
    for offset, value in flips:
        data[offset] = value
    with contextlib.suppress(ValueError):
        parse_rpm_bdb(bytes(data))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 8192), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_ndb_files_parse_or_raise_value_error(flips: list[tuple[int, int]]) -> None:
    data = bytearray(NDB)
    for offset, value in flips:
        data[offset] = value
    with contextlib.suppress(ValueError):
        parse_rpm_ndb(bytes(data))


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_parse_or_raise_value_error_in_every_format(data: bytes) -> None:
    for parse in (parse_rpm_bdb, parse_rpm_ndb, parse_rpm_sqlite):
        with contextlib.suppress(ValueError):
            parse(data)
    for prefix in (b"SQLite format 3\0", b"RpmP\0\0\0\0\0\0\0\0\x01\0\0\0"):
        for parse in (parse_rpm_sqlite, parse_rpm_ndb):
            with contextlib.suppress(ValueError):
                parse(prefix + data + bytes(4096))


@FUZZ
@given(st.binary(min_size=8, max_size=2048))
def test_arbitrary_header_blobs_parse_or_raise_value_error(tail: bytes) -> None:
    for blob in (tail, GOOD[:8] + tail, GOOD[: len(GOOD) // 2] + tail):
        with contextlib.suppress(ValueError):
            package_record(parse_header(blob))


def test_an_endless_query_in_a_sqlite_file_is_not_run(tmp_path: Path) -> None:
    recursive = (
        "CREATE VIEW Packages AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)"
        " SELECT x AS hnum, zeroblob(8) AS blob FROM n;"
    )
    with pytest.raises(ValueError, match="without a Packages table"):
        parse_rpm_sqlite(_sqlite(tmp_path, recursive))


def test_a_query_over_its_step_budget_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from secapi.adapters.catalog.rpm import sqlite

    data = _sqlite(tmp_path, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob);")
    path = tmp_path / "rpmdb.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executemany("INSERT INTO Packages (blob) VALUES (?)", [(GOOD,)] * 20_000)
    connection.close()
    data = path.read_bytes()
    assert len(parse_rpm_sqlite(data)) == 20_000
    monkeypatch.setattr(sqlite, "_MAX_STEPS", 20_000)  # far fewer steps than 20,000 rows take
    with pytest.raises(ValueError, match="interrupted"):
        parse_rpm_sqlite(data)


@FUZZ
@given(
    st.sampled_from(["var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages.db", "usr/share/rpm/rpmdb.sqlite"]),
    st.lists(st.tuples(st.integers(0, len(BDB) - 1), st.integers(0, 255)), min_size=1, max_size=4),
    st.sampled_from([BDB, NDB[:8192] + bytes(4096), b"SQLite format 3\0" + bytes(4096)]),
)
def test_a_layer_with_a_mangled_rpm_database_skips_or_reads_it(
    tmp_path_factory: pytest.TempPathFactory, path: str, flips: list[tuple[int, int]], base: bytes
) -> None:
    data = bytearray(base)
    for offset, value in flips:
        data[offset % len(data)] = value
    blob = tmp_path_factory.mktemp("layer") / "layer.tar"
    blob.write_bytes(tar_bytes([(path, bytes(data))]))
    layer = catalog_layer(blob, "application/vnd.oci.image.layer.v1.tar", "sha256:fuzz", LayerLimits())
    assert (path in layer.packages) != (path in layer.skipped)
    if path in layer.skipped:
        assert layer.skipped[path].startswith("not cataloged: ")
