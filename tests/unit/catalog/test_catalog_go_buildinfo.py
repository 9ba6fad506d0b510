"""A Go executable's build info (ELF, PE, Mach-O) becomes packages: modules as replaced, main module, `stdlib`."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from test_catalog_unscanned import EXEC, GO_BUILDINFO, GZIP, elf

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.adapters.catalog.binaries import GO_MAGIC, examine_binary
from secapi.adapters.catalog.gobuildinfo import GoModule, stdlib_version
from secapi.domain.inventory import merge_layers
from secapi.domain.packages import Package

SENTINEL = bytes(range(0x30, 0x40))
MODINFO = [
    "path\texample.com/app/cmd/app",
    "mod\texample.com/app\tv1.4.2\th1:main=",
    "dep\tgolang.org/x/net\tv0.17.0\th1:net=",
    "dep\tgithub.com/old/fork\tv1.0.0\th1:old=",
    "=>\tgithub.com/new/fork\tv1.2.3+incompatible\th1:new=",
    "dep\texample.com/internal/lib\tv0.0.0-00010101000000-000000000000",
    "=>\t../lib\t",
    "build\t-compiler=gc",
    "build\tGOOS=linux",
]


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def build_info(go_version: str = "go1.21.5", lines: list[str] = MODINFO, *, flags: int = 0x2) -> bytes:
    """A `.go.buildinfo` section as Go ≥ 1.18 writes it (flags 0x2: strings inline)."""
    modinfo = SENTINEL + "".join(line + "\n" for line in lines).encode() + SENTINEL
    strings = b"".join(_varint(len(s)) + s for s in (go_version.encode(), modinfo))
    return GO_MAGIC + bytes([8, flags]) + bytes(16) + strings


def _layer(build_layer: Callable[..., Path], binary: bytes, digest: str = "sha256:go") -> object:
    blob = build_layer([("usr/local/bin/app", binary, EXEC)])
    return catalog_layer(blob, GZIP, digest, LayerLimits())


@pytest.mark.parametrize("table_first", [True, False], ids=["go-linker", "gnu-ld"])
def test_modules_replacements_main_module_and_stdlib_become_packages(
    build_layer: Callable[..., Path], table_first: bool
) -> None:
    binary = elf({".text": os.urandom(3000), ".go.buildinfo": build_info()}, table_first=table_first)
    layer = catalog_layer(build_layer([("usr/local/bin/app", binary, EXEC)]), GZIP, "sha256:go", LayerLimits())
    records = layer.packages["usr/local/bin/app"]
    assert [(r.kind, r.name, r.version) for r in records] == [
        ("go-module", "example.com/app", "v1.4.2"),
        ("go-module", "golang.org/x/net", "v0.17.0"),
        ("go-module", "github.com/new/fork", "v1.2.3+incompatible"),
        ("go-module", "stdlib", "1.21.5"),
    ]
    # Only what is no package stays listed: the module replaced by a local directory.
    assert [(item.path, item.kind) for item in layer.unscanned] == [("usr/local/bin/app", "go-module-local")]
    assert "example.com/internal/lib => ../lib" in layer.unscanned[0].reason
    image = merge_layers([layer])
    assert image.packages[2] == Package(
        name="github.com/new/fork",
        version="v1.2.3+incompatible",
        ecosystem="Go",
        purl="pkg:golang/github.com/new/fork@v1.2.3%2Bincompatible",
        location="sha256:go:usr/local/bin/app",
    )
    assert image.packages[3].purl == "pkg:golang/stdlib@1.21.5"
    assert image.os is None  # Go packages need no OS


def test_a_development_main_module_is_no_package_and_the_result_says_so(build_layer: Callable[..., Path]) -> None:
    lines = ["path\texample.com/app", "mod\texample.com/app\t(devel)\t", "dep\tgolang.org/x/sys\tv0.15.0\th1:x="]
    layer = _layer(build_layer, elf({".go.buildinfo": build_info("go1.22.0", lines)}))
    assert [(r.name, r.version) for r in layer.packages["usr/local/bin/app"]] == [
        ("golang.org/x/sys", "v0.15.0"),
        ("stdlib", "1.22.0"),
    ]
    (item,) = layer.unscanned
    assert (item.path, item.kind) == ("usr/local/bin/app", "go-main-devel")
    assert "example.com/app was built without a version" in item.reason


def test_a_versioned_main_module_is_a_package_and_nothing_is_listed(build_layer: Callable[..., Path]) -> None:
    lines = ["path\texample.com/app", "mod\texample.com/app\tv1.4.2\th1:y=", "dep\tgolang.org/x/sys\tv0.15.0\th1:x="]
    layer = _layer(build_layer, elf({".go.buildinfo": build_info("go1.24.0", lines)}))
    assert ("example.com/app", "v1.4.2") in [(r.name, r.version) for r in layer.packages["usr/local/bin/app"]]
    assert layer.unscanned == ()


def test_a_development_toolchain_gives_no_stdlib_package_but_says_so(build_layer: Callable[..., Path]) -> None:
    lines = ["mod\texample.com/app\tv1.0.0\t"]
    layer = _layer(build_layer, elf({".go.buildinfo": build_info("devel go1.23-2f3a5c1 Tue Jan 9", lines)}))
    assert [r.name for r in layer.packages["usr/local/bin/app"]] == ["example.com/app"]
    assert [(item.path, item.kind) for item in layer.unscanned] == [("usr/local/bin/app", "go-devel-toolchain")]


def test_build_info_of_go_before_1_18_is_not_read(build_layer: Callable[..., Path]) -> None:
    layer = _layer(build_layer, elf({".go.buildinfo": GO_MAGIC + bytes([8, 0]) + bytes(16) + bytes(16)}))
    assert layer.packages == {}
    (item,) = layer.unscanned
    assert (item.path, item.kind) == ("usr/local/bin/app", "go-binary")
    assert "built with Go older than 1.18: build info not read" in item.reason


def test_build_info_behind_the_kept_window_is_still_read() -> None:
    # GNU ld puts the section table at the end: the section lies MiBs behind by the time the table is read.
    binary = elf({".go.buildinfo": build_info(), ".data": os.urandom(3 * 1024 * 1024)})
    found = examine_binary(io.BytesIO(binary).read)
    assert found is not None
    assert found.go_build_info is not None
    assert found.go_build_info.go_version == "go1.21.5"


def test_truncated_build_info_is_listed_not_guessed(build_layer: Callable[..., Path]) -> None:
    layer = _layer(build_layer, elf({".go.buildinfo": build_info()[:40]}))
    assert layer.packages == {}
    assert [(item.path, item.kind) for item in layer.unscanned] == [("usr/local/bin/app", "go-binary")]


@pytest.mark.parametrize("magic", [b"MZ", b"\xcf\xfa\xed\xfe"], ids=["pe", "mach-o"])
def test_pe_and_mach_o_build_info_is_read_from_the_magic_when_inline(magic: bytes) -> None:
    executable = bytearray(magic + bytes(4094))
    executable[2048 : 2048 + len(build_info())] = build_info()
    found = examine_binary(io.BytesIO(bytes(executable)).read)
    assert found is not None
    assert found.go_build_info is not None
    assert found.go_build_info.main == GoModule("example.com/app", "v1.4.2")
    assert len(found.go_build_info.deps) == 3


def test_pe_build_info_in_the_pointer_layout_is_listed_with_the_reason(build_layer: Callable[..., Path]) -> None:
    pe = bytearray(b"MZ" + bytes(4094))
    pe[2048 : 2048 + 48] = GO_MAGIC + bytes([8, 0]) + bytes(32)  # Go < 1.18: pointers, no inline strings
    layer = _layer(build_layer, bytes(pe))
    assert layer.packages == {}
    (item,) = layer.unscanned
    assert (item.path, item.kind) == ("usr/local/bin/app", "go-binary")
    assert "built with Go older than 1.18: build info not read" in item.reason


def test_a_later_layer_deleting_a_go_binary_removes_its_packages(build_layer: Callable[..., Path]) -> None:
    base = catalog_layer(
        build_layer([("usr/local/bin/app", elf({".go.buildinfo": build_info()}), EXEC)]), GZIP, "sha256:0"
    )
    upper = catalog_layer(build_layer([("usr/local/bin/.wh.app", b"")]), GZIP, "sha256:1")
    assert len(merge_layers([base]).packages) == 4
    assert merge_layers([base, upper]).packages == ()


def test_an_executable_replaced_in_the_same_layer_keeps_no_stale_packages(build_layer: Callable[..., Path]) -> None:
    go = elf({".go.buildinfo": build_info()})
    blob = build_layer([("usr/local/bin/app", go, EXEC), ("usr/local/bin/app", elf({".text": bytes(100)}), EXEC)])
    assert catalog_layer(blob, GZIP, "sha256:x").packages == {}


@pytest.mark.parametrize(
    ("go_version", "expected"),
    [
        ("go1.21.5", "1.21.5"),
        ("go1.20", "1.20.0"),
        ("go1.22rc1", "1.22.0-rc.1"),
        ("go1.21beta2", "1.21.0-beta.2"),
        ("go1.21.5 X:boringcrypto", "1.21.5"),
        ("devel go1.23-2f3a5c1 Tue Jan 9 2024", None),
    ],
)
def test_toolchain_versions_become_semver_stdlib_versions(go_version: str, expected: str | None) -> None:
    assert stdlib_version(go_version) == expected


def test_the_existing_minimal_section_is_still_only_detected() -> None:
    found = examine_binary(io.BytesIO(elf({".go.buildinfo": GO_BUILDINFO})).read)
    assert found is not None
    assert (found.kind, found.go_build_info) == ("go-binary", None)


def test_a_build_outside_module_mode_says_its_packages_are_not_recorded(build_layer: Callable[..., Path]) -> None:
    layer = _layer(build_layer, elf({".go.buildinfo": build_info(lines=["path\tgithub.com/old/tool"])}))
    assert [r.name for r in layer.packages["usr/local/bin/app"]] == ["stdlib"]
    (item,) = layer.unscanned
    assert (item.path, item.kind) == ("usr/local/bin/app", "go-binary")
    assert "built outside module mode" in item.reason
