"""Content SecAPI cannot read yet (RPM databases, Java archives, Go and Rust executables) is listed, not read."""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.adapters.catalog.binaries import GO_MAGIC, sniff_binary
from secapi.domain.inventory import merge_layers

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
EXEC = 0o755
# What cargo-auditable writes: zlib-compressed JSON naming the crates built in.
AUDIT_DATA = zlib.compress(b'{"packages":[{"name":"hello","version":"0.1.0","source":"local","root":true}]}')
GO_BUILDINFO = GO_MAGIC + bytes([8, 2]) + bytes(16)


def elf(sections: dict[str, bytes], *, table_first: bool = False, wide: bool = True, little: bool = True) -> bytes:
    """A minimal ELF file with `sections`, its section header table right after the header or at the end."""
    order, names = "<" if little else ">", ["", *sections, ".shstrtab"]
    header_size, entry_size = (64, 64) if wide else (52, 40)
    strtab, name_at = b"\0", {"": 0}
    for name in names[1:]:
        name_at[name] = len(strtab)
        strtab += name.encode() + b"\0"
    contents = [b"", *sections.values(), strtab]
    offset = header_size + (len(contents) * entry_size if table_first else 0)
    placed = []
    for content in contents:
        placed.append(offset)
        offset += len(content) + (-len(content) % 16)
    table_offset = header_size if table_first else offset
    entry = order + ("IIQQQQIIQQ" if wide else "IIIIIIIIII")
    table = b"".join(
        struct.pack(entry, name_at[name], 3 if name == ".shstrtab" else 1, 0, 0, at, len(data), 0, 0, 1, 0)
        for name, at, data in zip(names, placed, contents, strict=True)
    )
    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if little else 2, 1]) + bytes(9)
    fields = order + ("HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH")
    header = ident + struct.pack(fields, 2, 62, 1, 0, 0, table_offset, 0, header_size, 0, 0, entry_size,
                                 len(names), len(names) - 1)  # fmt: skip
    body = bytearray(header + (table if table_first else b""))
    for at, content in zip(placed, contents, strict=True):
        body += bytes(at - len(body)) + content
    return bytes(body) if table_first else bytes(body + bytes(table_offset - len(body)) + table)


def sniff(data: bytes) -> str | None:
    return sniff_binary(io.BytesIO(data).read)


@pytest.mark.parametrize("table_first", [True, False], ids=["go-linker-layout", "gnu-ld-layout"])
@pytest.mark.parametrize(("wide", "little"), [(True, True), (False, False)], ids=["elf64-le", "elf32-be"])
def test_elf_section_names_tell_go_and_rust_executables(table_first: bool, wide: bool, little: bool) -> None:
    text = os.urandom(300_000)  # more than a read chunk, so the tables are found across chunks
    layout = {"table_first": table_first, "wide": wide, "little": little}
    assert sniff(elf({".text": text, ".go.buildinfo": bytes(32)}, **layout)) == "go-binary"
    assert sniff(elf({".text": text, ".dep-v0": AUDIT_DATA}, **layout)) == "rust-binary"
    assert sniff(elf({".text": text, ".data": bytes(64)}, **layout)) is None


def test_go_build_info_magic_is_found_in_pe_and_mach_o_only_where_go_puts_it() -> None:
    pe = bytearray(b"MZ" + os.urandom(200_000))
    at = 65_536 - 16  # aligned, and split across the first two read chunks
    pe[at : at + len(GO_BUILDINFO)] = GO_BUILDINFO
    assert sniff(bytes(pe)) == "go-binary"
    macho = b"\xcf\xfa\xed\xfe" + bytes(100) + GO_BUILDINFO  # at offset 104: not 16-byte aligned, as Go never is
    assert sniff(macho) is None
    assert sniff(b"#!/bin/sh\n" + GO_BUILDINFO.rjust(32)) is None  # a script quoting the magic is no binary


def test_elf_without_section_headers_falls_back_on_the_magic() -> None:
    stripped = bytearray(elf({".text": bytes(100)}))
    stripped[0x28:0x30] = bytes(8)  # e_shoff = 0, as sstrip leaves it
    assert sniff(bytes(stripped)) is None
    assert sniff(bytes(stripped) + bytes(-len(stripped) % 16) + GO_BUILDINFO) == "go-binary"


def test_hostile_section_tables_are_given_up_on() -> None:
    huge = bytearray(elf({".go.buildinfo": bytes(32)}))
    huge[0x3C:0x3E] = struct.pack("<H", 65_535)  # e_shnum: a 4 MiB table
    assert sniff(bytes(huge)) is None
    beyond = bytearray(elf({".go.buildinfo": bytes(32)}))
    beyond[0x28:0x30] = struct.pack("<Q", 1 << 40)  # a table past the end of the file
    assert sniff(bytes(beyond)) is None
    assert sniff(b"\x7fELF\x02\x01") is None


def test_a_layer_lists_archives_and_executables_and_skips_broken_rpm_databases(
    build_layer: Callable[..., Path],
) -> None:
    go = elf({".text": os.urandom(5000), ".go.buildinfo": GO_BUILDINFO})
    blob = build_layer(
        [
            ("var/lib/rpm/Packages", os.urandom(4096)),
            ("./var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\0"),
            ("usr/lib/sysimage/rpm/Packages.db", b"NDB"),
            ("usr/lib/sysimage/rpm/rpmdb.sqlite", b"SQLite format 3\0"),
            ("var/lib/rpm/Packages.bak", b"not a database"),
            ("app/lib/log4j-core-2.14.1.jar", b"PK\3\4"),
            ("srv/app.war", b"PK\3\4"),
            ("srv/app.ear", b"PK\3\4"),
            ("app/lib/current.jar", "symlink:log4j-core-2.14.1.jar"),
            ("app/notes.jar.txt", b"a text file"),
            ("usr/local/bin/app", go, EXEC),
            ("usr/local/bin/app-copy", go),  # not executable: not a binary anyone runs
            ("usr/local/bin/hello", elf({".text": bytes(100), ".dep-v0": AUDIT_DATA}), EXEC),
            ("usr/bin/true", elf({".text": bytes(100)}), EXEC),
            ("usr/bin/script", b"#!/bin/sh\nexec app\n", EXEC),
        ]
    )
    layer = catalog_layer(blob, GZIP, "sha256:unread", LayerLimits())
    assert [(item.path, item.kind) for item in layer.unscanned] == [
        ("app/lib/log4j-core-2.14.1.jar", "java-archive"),
        ("srv/app.war", "java-archive"),
        ("srv/app.ear", "java-archive"),
        ("usr/local/bin/app", "go-binary"),
        ("usr/local/bin/hello", "rust-binary"),
    ]
    # RPM databases are read now (test_catalog_rpm*.py): these are no databases, so each is a skipped file.
    assert layer.skipped == {
        "var/lib/rpm/Packages": "not cataloged: not a Berkeley DB hash database (no hash magic number)",
        "var/lib/rpm/rpmdb.sqlite": "not cataloged: an rpm SQLite database SQLite cannot read: file is not a database",
        "usr/lib/sysimage/rpm/Packages.db": "not cataloged: an rpm NDB database of 3 bytes is shorter than one "
        "4096-byte page",
        "usr/lib/sysimage/rpm/rpmdb.sqlite": "not cataloged: an rpm SQLite database SQLite cannot read: "
        "file is not a database",
    }
    image = merge_layers([layer])
    assert image.unscanned[0].path == "sha256:unread:app/lib/log4j-core-2.14.1.jar"
    assert image.packages == ()


def test_listing_is_bounded_per_layer_and_counts_the_rest(build_layer: Callable[..., Path]) -> None:
    blob = build_layer([(f"opt/app/lib/dep-{i:03}.jar", b"PK\3\4") for i in range(205)])
    layer = catalog_layer(blob, GZIP, "sha256:jars", LayerLimits())
    assert len(layer.unscanned) == 201
    assert layer.unscanned[199].path == "opt/app/lib/dep-199.jar"
    assert (layer.unscanned[200].path, layer.unscanned[200].kind) == ("", "java-archive")
    assert layer.unscanned[200].reason == "5 more Java archives in this layer were not listed"
    assert merge_layers([layer]).unscanned[-1].path == "sha256:jars"


def test_a_later_layer_deleting_a_binary_removes_it_from_the_list(build_layer: Callable[..., Path]) -> None:
    base = build_layer([("usr/local/bin/app", elf({".go.buildinfo": GO_BUILDINFO}), EXEC), ("app.jar", b"PK")])
    upper = build_layer([("usr/local/bin/.wh.app", b"")])
    layers = [catalog_layer(blob, GZIP, f"sha256:{i}", LayerLimits()) for i, blob in enumerate((base, upper))]
    assert [(item.path, item.kind) for item in merge_layers(layers).unscanned] == [("sha256:0:app.jar", "java-archive")]


def test_a_large_executable_is_sniffed_in_bounded_memory(tmp_path: Path) -> None:
    block = os.urandom(4096).hex().encode() * 128  # 1 MiB, compresses ~45:1: short of a bomb's ratio
    binary = elf({".text": block * 48, ".go.buildinfo": GO_BUILDINFO})  # 48 MiB, section table at the end
    blob = tmp_path / "big.tar.gz"
    with (
        blob.open("wb") as out,
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w|") as tar,
    ):
        info = tarfile.TarInfo("usr/local/bin/big")
        info.size, info.mode = len(binary), EXEC
        tar.addfile(info, io.BytesIO(binary))
    del binary
    tracemalloc.start()
    try:
        layer = catalog_layer(blob, GZIP, "sha256:big", LayerLimits())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(item.path, item.kind) for item in layer.unscanned] == [("usr/local/bin/big", "go-binary")]
    assert peak < 8 * 1024 * 1024, f"peak traced memory {peak / 1024 / 1024:.1f} MiB"
