"""A Rust executable's cargo-auditable dependency list becomes crates.io packages; what is not, is listed."""

from __future__ import annotations

import io
import json
import os
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_catalog_unscanned import EXEC, GZIP, elf

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.adapters.catalog.binaries import Executable, examine_binary
from secapi.adapters.catalog.rustaudit import MAX_COMPRESSED, MAX_JSON, RustAuditError, read_dependency_list
from secapi.domain.inventory import merge_layers
from secapi.domain.packages import Package

CRATES = [
    {"name": "app", "version": "1.2.0", "source": "local", "dependencies": [1, 2, 3, 4, 5], "root": True},
    {"name": "smallvec", "version": "1.13.2", "source": "crates.io"},
    {"name": "serde_derive", "version": "1.0.203", "source": "crates.io", "kind": "build"},
    {"name": "app-core", "version": "0.1.0", "source": "local"},
    {"name": "patched", "version": "0.4.0", "source": "git", "kind": "runtime"},
    {"name": "inhouse", "version": "2.0.0+build.7", "source": "registry"},
]


def section(packages: object = CRATES) -> bytes:
    """What cargo-auditable writes into `.dep-v0`."""
    return zlib.compress(json.dumps({"packages": packages}).encode())


def examine(data: bytes) -> Executable:
    found = examine_binary(io.BytesIO(elf({".text": os.urandom(2000), ".dep-v0": data})).read)
    assert found is not None
    assert found.kind == "rust-binary"
    return found


def test_crates_io_runtime_crates_become_packages_and_the_rest_is_named(build_layer: Callable[..., Path]) -> None:
    blob = build_layer([("usr/local/bin/app", elf({".text": bytes(500), ".dep-v0": section()}), EXEC)])
    layer = catalog_layer(blob, GZIP, "sha256:rust", LayerLimits())
    assert [(r.kind, r.name, r.version, r.purl) for r in layer.packages["usr/local/bin/app"]] == [
        ("cargo", "smallvec", "1.13.2", "pkg:cargo/smallvec@1.13.2")  # serde_derive is build-only: not in it
    ]
    (item,) = layer.unscanned
    assert (item.path, item.kind) == ("usr/local/bin/app", "rust-binary")
    assert item.reason == (
        "Rust crates not from crates.io (no advisories to match) were not scanned: "
        "app 1.2.0 (local, the executable's own crate); app-core 0.1.0 (local); patched 0.4.0 (git); "
        "inhouse 2.0.0+build.7 (registry)"
    )
    image = merge_layers([layer])
    assert image.packages == (
        Package(
            name="smallvec",
            version="1.13.2",
            ecosystem="crates.io",
            purl="pkg:cargo/smallvec@1.13.2",
            location="sha256:rust:usr/local/bin/app",
        ),
    )
    assert image.os is None  # crates need no OS


def test_only_crates_io_crates_leave_nothing_listed(build_layer: Callable[..., Path]) -> None:
    only_crates_io = [{"name": "itoa", "version": "1.0.11", "source": "crates.io", "root": True}]
    blob = build_layer([("bin/tool", elf({".dep-v0": section(only_crates_io)}), EXEC)])
    layer = catalog_layer(blob, GZIP, "sha256:r", LayerLimits())
    assert [r.purl for r in layer.packages["bin/tool"]] == ["pkg:cargo/itoa@1.0.11"]
    assert layer.unscanned == ()


def test_more_than_twenty_unmatchable_crates_are_counted(build_layer: Callable[..., Path]) -> None:
    local = [{"name": f"part-{i:02}", "version": "0.1.0", "source": "local"} for i in range(25)]
    blob = build_layer([("opt/app", elf({".dep-v0": section(local)}), EXEC)])
    (item,) = catalog_layer(blob, GZIP, "sha256:many", LayerLimits()).unscanned
    assert "part-19 0.1.0 (local); and 5 more" in item.reason
    assert "part-20" not in item.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not zlib at all", "its dependency list is not zlib-compressed data"),
        (section()[:-8], "its dependency list is truncated"),
        (zlib.compress(b"{not json"), "its dependency list is not valid JSON"),
        (zlib.compress(b'{"packages": {"name": "x"}}'), "its dependency list is not in cargo-auditable's format"),
        (section([{"name": "x", "version": "1"}]), "its dependency list is not in cargo-auditable's format"),
        (section([{"name": "x", "version": 1, "source": "crates.io"}]), "not in cargo-auditable's format"),
    ],
    ids=["not-zlib", "truncated", "not-json", "packages-not-a-list", "no-source", "version-not-a-string"],
)
def test_a_malformed_section_is_listed_with_the_reason(
    build_layer: Callable[..., Path], data: bytes, reason: str
) -> None:
    blob = build_layer([("usr/bin/app", elf({".dep-v0": data}), EXEC)])
    layer = catalog_layer(blob, GZIP, "sha256:bad", LayerLimits())
    assert layer.packages == {}
    (item,) = layer.unscanned
    assert (item.path, item.kind) == ("usr/bin/app", "rust-binary")
    assert item.reason.startswith("a Rust executable: ")
    assert reason in item.reason
    assert item.reason.endswith("; the crates built into it were not scanned")


def _bomb(size: int) -> bytes:
    packer = zlib.compressobj(9)
    zeros = bytes(1024 * 1024)
    body = b'{"packages": [], "pad": "'
    return packer.compress(body) + b"".join(packer.compress(zeros) for _ in range(size // len(zeros))) + packer.flush()


def test_a_zip_bomb_section_is_refused_at_the_inflate_cap() -> None:
    bomb = _bomb(256 * 1024 * 1024)  # 256 MiB of JSON in about 250 KiB
    assert len(bomb) < MAX_COMPRESSED
    tracemalloc.start()
    try:
        found = examine(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found.unread_because == f"its dependency list inflates to more than {MAX_JSON:,} bytes, the most read"
    assert peak < 3 * MAX_JSON  # the cap plus the stream's window and the section: never the 256 MiB


def test_an_oversized_section_is_not_read() -> None:
    found = examine(os.urandom(MAX_COMPRESSED + 1))
    assert found.unread_because == (
        f"its .dep-v0 section is {MAX_COMPRESSED + 1:,} bytes, over the {MAX_COMPRESSED:,} read"
    )


def test_a_section_far_behind_the_section_headers_is_listed_not_lost() -> None:
    # GNU ld layout (table at the end): 3 MiB of unstripped symbols pass after the section, out of the window.
    binary = elf({".dep-v0": section(), ".symtab": os.urandom(3 * 1024 * 1024)})
    found = examine_binary(io.BytesIO(binary).read)
    assert found is not None
    assert (found.kind, found.rust_packages) == ("rust-binary", None)
    assert found.unread_because is not None
    assert "too far before the section headers" in found.unread_because


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_section_bytes_never_raise_anything_but_the_reason(data: bytes) -> None:
    for candidate in (data, zlib.compress(data)):
        reason = ""
        try:
            read_dependency_list(candidate)
        except RustAuditError as exc:
            reason = str(exc)
        assert reason == "" or reason.startswith("its dependency list")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
_CRATE = st.fixed_dictionaries(
    {"name": st.text(max_size=30), "version": st.text(max_size=30), "source": st.text(max_size=20)},
    optional={
        "kind": st.sampled_from(["build", "runtime"]) | st.text(max_size=8),
        "root": _JSON,
        "dependencies": _JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CRATE, max_size=10) | _JSON)
def test_arbitrary_json_in_a_binary_is_read_or_listed_never_raised(packages: object) -> None:
    found = examine(section(packages))
    rust = found.rust_packages
    assert (rust is None) != (found.unread_because is None)
    if rust is not None:
        assert all(r.kind == "cargo" and (r.purl or "").startswith("pkg:cargo/") for r in rust.records)


def macho32_big_endian(section_data: bytes) -> bytes:
    """A 32-bit big-endian Mach-O file whose one segment holds `__DATA,.dep-v0` (the layout PowerPC used)."""
    section = struct.pack(">16s16sIIIIIIIII", b".dep-v0", b"__DATA", 0, len(section_data), 4096, 0, 0, 0, 0, 0, 0)
    segment = struct.pack(">II16sIIIIIIII", 0x1, 56 + len(section), b"__DATA", 0, 0, 4096, 0, 7, 3, 1, 0) + section
    header = struct.pack(">IIIIIII", 0xFEEDFACE, 18, 0, 2, 1, len(segment), 0)
    body = header + segment
    return body + bytes(4096 - len(body)) + section_data


def test_a_32_bit_big_endian_mach_o_section_is_read() -> None:
    found = examine_binary(io.BytesIO(macho32_big_endian(section())).read)
    assert found is not None
    assert found.rust_packages is not None
    assert [r.name for r in found.rust_packages.records] == ["smallvec"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"MZ", b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xce", b"\xca\xfe\xba\xbe\0\0\0\2"]),
    st.binary(max_size=4096),
)
def test_arbitrary_pe_and_mach_o_headers_never_raise(magic: bytes, rest: bytes) -> None:
    examine_binary(io.BytesIO(magic + rest).read)
    mangled = bytearray(macho32_big_endian(section()))
    mangled[: len(rest[:200])] = rest[:200]  # a damaged header over a real layout
    examine_binary(io.BytesIO(bytes(mangled)).read)


def test_the_inflate_cap_is_exact() -> None:
    def padded(size: int) -> bytes:
        head = b'{"packages": [], "pad": "'
        return zlib.compress(head + b" " * (size - len(head) - 2) + b'"}')

    assert read_dependency_list(padded(MAX_JSON)).records == ()
    with pytest.raises(RustAuditError, match="inflates to more than"):
        read_dependency_list(padded(MAX_JSON + 1))


RUSTC_COMMENT = b"GCC: (Debian 12.2.0-14) 12.2.0\0rustc version 1.95.0 (59807616e 2026-04-14)\0"


def test_rustc_named_in_comment_is_a_rust_executable_even_megabytes_before_the_table() -> None:
    # Unstripped (rustup, cargo): .symtab and .strtab pass between .comment and the section table.
    binary = elf({".text": bytes(500), ".comment": RUSTC_COMMENT, ".symtab": os.urandom(3 * 1024 * 1024)})
    found = examine_binary(io.BytesIO(binary).read)
    assert found is not None
    assert (found.kind, found.rust_packages) == ("rust-binary", None)
    assert found.unread_because is not None
    assert found.unread_because.startswith("it was built without a cargo-auditable dependency list")


def test_a_rust_executable_without_a_list_is_listed_in_its_layer(build_layer: Callable[..., Path]) -> None:
    blob = build_layer([("usr/bin/rg", elf({".text": bytes(500), ".comment": RUSTC_COMMENT}), EXEC)])
    layer = catalog_layer(blob, GZIP, "sha256:rg", LayerLimits())
    assert layer.packages == {}
    (item,) = layer.unscanned
    assert (item.path, item.kind) == ("usr/bin/rg", "rust-binary")
    assert item.reason == (
        "a Rust executable: it was built without a cargo-auditable dependency list (`cargo auditable build`), "
        "the only record of its crates; the crates built into it were not scanned"
    )


def test_rustc_named_outside_comment_is_no_evidence() -> None:
    rodata = b"usage: print the rustc version \0" + RUSTC_COMMENT
    assert examine_binary(io.BytesIO(elf({".rodata": rodata, ".comment": b"GCC: 12\0"})).read) is None


def test_rustc_mark_split_between_read_chunks_is_seen() -> None:
    # .text fills the file up to offset 65,472, so the mark starts 5 bytes before the 64 KiB chunk boundary.
    comment = b"G" * 58 + b"\0" + b"rustc version 1.95.0\0"
    binary = elf({".text": bytes(65_408), ".comment": comment})
    assert binary.find(b"rustc version ") == 65_536 - 5
    found = examine_binary(io.BytesIO(binary).read)
    assert found is not None
    assert found.kind == "rust-binary"
