"""Go and Rust detection on executables real toolchains wrote, not only on hand-built ELF files.

A Go toolchain is not assumed: a real Go binary is checked when SECAPI_TEST_GO_BINARY names one (for instance
`bin/esbuild` from `npm pack @esbuild/linux-x64@0.19.12`), and its Windows (PE) and macOS (Mach-O) builds
when SECAPI_TEST_GO_BINARY_PE / _MACHO name them. A real cargo-auditable Rust binary is checked when
SECAPI_TEST_RUST_BINARY names one: `uvx` from the uv 0.13.9 manylinux wheel on PyPI (uv's releases are
built with cargo-auditable), and its macOS build (SECAPI_TEST_RUST_BINARY_MACHO, with its own section).
uv's Windows build carries none, so SECAPI_TEST_RUST_BINARY_PE (its `uvx.exe`) gets the Linux build's
section from objcopy. .ci/run fetches them all; without them these tests fail under CI=true and skip
elsewhere. Plain rustc output gets cargo-auditable's `.dep-v0` section from objcopy.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.adapters.catalog.binaries import GO_MAGIC, examine_binary, sniff_binary
from secapi.adapters.catalog.gobuildinfo import GoModule
from secapi.adapters.osv.reader import iter_records
from secapi.domain.inventory import merge_layers
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.vulndb_import import VulnDbImporter

from support.fakes import InMemoryVulnerabilityStore

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REAL_OSV = Path(__file__).parents[2] / "fixtures" / "osv"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _tools(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (required under CI=true)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def _configured(variable: str, what: str) -> Path:
    configured = os.environ.get(variable)
    if not configured:
        missing = f"{variable} does not name {what}"
        if IN_CI:
            pytest.fail(missing + "; .ci/run fetches it")
        pytest.skip(missing)
    return Path(configured)


def _sniff(path: Path) -> str | None:
    with path.open("rb") as binary:
        return sniff_binary(binary.read)


def _add_section(binary: Path, name: str, content: bytes) -> Path:
    # One file pair per (section, content): tests sharing a module-scoped binary never overwrite each other's.
    tag = f"{name.strip('.')}-{zlib.crc32(content):08x}"
    data = binary.with_name(f"{binary.name}.{tag}.section")
    data.write_bytes(content)
    out = binary.with_name(f"{binary.name}-with-{tag}")
    subprocess.run(["objcopy", "--add-section", f"{name}={data}", str(binary), str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def rust_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _tools("rustc", "objcopy")
    directory = tmp_path_factory.mktemp("rust")
    (directory / "main.rs").write_text('fn main() { println!("hello"); }\n')
    out = directory / "hello"
    subprocess.run(["rustc", "-C", "strip=symbols", "-o", str(out), str(directory / "main.rs")], check=True)
    return out


@pytest.fixture(scope="module")
def c_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _tools("gcc", "objcopy")
    directory = tmp_path_factory.mktemp("c")
    (directory / "main.c").write_text("int main(void) { return 0; }\n")
    out = directory / "true"
    subprocess.run(["gcc", "-o", str(out), str(directory / "main.c")], check=True)
    return out


def test_a_rustc_built_binary_without_a_dependency_list_is_listed_as_rust(rust_binary: Path) -> None:
    with rust_binary.open("rb") as binary:
        plain = examine_binary(binary.read)
    assert plain is not None
    assert (plain.kind, plain.rust_packages) == ("rust-binary", None)  # its .comment names rustc
    assert plain.unread_because is not None
    assert "without a cargo-auditable dependency list" in plain.unread_because
    audit = zlib.compress(b'{"packages":[{"name":"hello","version":"0.1.0","source":"local","root":true}]}')
    with _add_section(rust_binary, ".dep-v0", audit).open("rb") as binary:
        listed = examine_binary(binary.read)
    assert listed is not None
    assert listed.rust_packages is not None
    assert listed.rust_packages.unmatchable == ("hello 0.1.0 (local, the executable's own crate)",)


def test_a_rustc_built_binary_without_its_comment_section_is_not_told_apart(rust_binary: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run(["objcopy", "--remove-section=.comment", str(rust_binary), str(bare)], check=True)
    assert _sniff(bare) is None  # the panic paths still name /rustc/, but strings in data are no evidence


def test_c_binary_is_neither_until_it_carries_go_build_info(c_binary: Path) -> None:
    assert _sniff(c_binary) is None
    assert _sniff(_add_section(c_binary, ".go.buildinfo", GO_MAGIC + bytes(18))) == "go-binary"


def test_gcc_built_elf_with_hand_built_go_build_info_yields_its_modules(c_binary: Path) -> None:
    sentinel = bytes(range(0x30, 0x40))
    # Under 128 bytes, so its length is a one-byte varint.
    modinfo = sentinel + b"mod\texample.com/t\tv0.3.0\t\ndep\tgolang.org/x/text\tv0.14.0\t\n" + sentinel
    section = GO_MAGIC + bytes([8, 2]) + bytes(16) + bytes([9]) + b"go1.22rc1" + bytes([len(modinfo)]) + modinfo
    with _add_section(c_binary, ".go.buildinfo", section).open("rb") as binary:
        found = examine_binary(binary.read)
    assert found is not None
    assert found.go_build_info is not None
    assert found.go_build_info.go_version == "go1.22rc1"
    assert found.go_build_info.main is not None
    assert found.go_build_info.main.version == "v0.3.0"
    assert [(m.path, m.version) for m in found.go_build_info.deps] == [("golang.org/x/text", "v0.14.0")]


async def test_a_real_go_binary_in_a_layer_yields_packages_that_match(build_layer: Callable[..., Path]) -> None:
    configured = os.environ.get("SECAPI_TEST_GO_BINARY")
    if not configured:
        missing = "SECAPI_TEST_GO_BINARY does not name a Go binary (e.g. esbuild from @esbuild/linux-x64)"
        if os.environ.get("CI") == "true":
            pytest.fail(missing + "; .ci/run fetches one with npm")
        pytest.skip(missing)
    binary = Path(configured).read_bytes()  # noqa: ASYNC240  (a test: blocking reads are fine here)
    blob = build_layer([("usr/local/bin/esbuild", binary, 0o755)], compression="zstd")
    layer = catalog_layer(blob, "application/vnd.oci.image.layer.v1.tar+zstd", "sha256:go", LayerLimits())
    # esbuild 0.19.12's build info (cross-checked with `strings`): main module `(devel)`, so no package for it,
    # and the result says so; one dependency; built by go1.20.12.
    (item,) = layer.unscanned
    assert (item.path, item.kind) == ("usr/local/bin/esbuild", "go-main-devel")
    assert "github.com/evanw/esbuild was built without a version" in item.reason
    packages = merge_layers([layer]).packages
    assert [(p.ecosystem, p.name, p.version, p.location) for p in packages] == [
        ("Go", "golang.org/x/sys", "v0.0.0-20220715151400-c0bba94af5f8", "sha256:go:usr/local/bin/esbuild"),
        ("Go", "stdlib", "1.20.12", "sha256:go:usr/local/bin/esbuild"),
    ]
    store = InMemoryVulnerabilityStore()
    await VulnDbImporter(store).run(iter_records(REAL_OSV), source="real fixtures")
    findings = await VulnerabilityMatcher(store).match(list(packages))
    # GO-2024-3107 (stdlib, fixed in 1.22.7) applies; GO-2023-2044 (1.21.0 only) does not.
    assert {(f.id, f.package.name) for f in findings} == {("GO-2024-3107", "stdlib")}


@pytest.mark.parametrize(
    ("variable", "platform"), [("SECAPI_TEST_GO_BINARY_PE", "win32-x64"), ("SECAPI_TEST_GO_BINARY_MACHO", "darwin-x64")]
)
def test_real_pe_and_mach_o_go_binaries_yield_their_build_info(variable: str, platform: str) -> None:
    binary = _configured(variable, f"a Go binary (esbuild from @esbuild/{platform}@0.19.12)")
    with binary.open("rb") as data:
        found = examine_binary(data.read)
    assert found is not None
    assert found.go_build_info is not None, found.unread_because
    info = found.go_build_info
    assert (info.go_version, info.main) == ("go1.20.12", GoModule("github.com/evanw/esbuild", "(devel)"))
    # Cross-checked with `grep -a` on the `dep` lines: the Windows build imports no golang.org/x/sys package.
    deps = {"win32-x64": [], "darwin-x64": [("golang.org/x/sys", "v0.0.0-20220715151400-c0bba94af5f8")]}
    assert [(m.path, m.version) for m in info.deps] == deps[platform]


def _dump_dep_bytes(binary: Path, tmp_path: Path) -> bytes:
    """An ELF file's `.dep-v0` section as objcopy reads it."""
    _tools("objcopy")
    dumped = tmp_path / "dep-v0"
    subprocess.run(["objcopy", "--dump-section", f".dep-v0={dumped}", str(binary), str(tmp_path / "copy")], check=True)
    return dumped.read_bytes()


def _dump_dep_section(binary: Path, tmp_path: Path) -> list[dict[str, object]]:
    """The `.dep-v0` list decoded without SecAPI: objcopy, zlib, json."""
    packages: list[dict[str, object]] = json.loads(zlib.decompress(_dump_dep_bytes(binary, tmp_path)))["packages"]
    return packages


def test_a_real_cargo_auditable_binary_yields_its_crates_io_runtime_crates(tmp_path: Path) -> None:
    binary = _configured("SECAPI_TEST_RUST_BINARY", "a cargo-auditable binary (uvx from the uv 0.13.9 wheel)")
    with binary.open("rb") as data:
        found = examine_binary(data.read)
    assert found is not None
    assert found.rust_packages is not None, found.unread_because
    records = found.rust_packages.records
    independent = _dump_dep_section(binary, tmp_path)
    assert len(independent) == 567
    runtime = [p for p in independent if p["source"] == "crates.io" and p.get("kind", "runtime") == "runtime"]
    assert [(r.name, r.version) for r in records] == [(p["name"], p["version"]) for p in runtime]
    assert len(records) == 446  # 481 crates.io crates, less 35 build-only ones (serde_derive, cc, ...)
    assert {(r.name, r.version) for r in records} >= {
        ("rsa", "0.9.10"),
        ("memmap2", "0.9.10"),
        ("rustls", "0.23.46"),
        ("tokio", "1.53.2"),
    }
    assert not {r.name for r in records} & {"serde_derive", "cc", "autocfg", "version_check"}
    local = found.rust_packages.unmatchable
    assert len(local) == 86  # uv itself and its 85 workspace crates, all `local`
    assert local[0] == "uv 0.13.9 (local, the executable's own crate)"


async def test_a_real_rust_binary_in_a_layer_matches_rustsec_records(build_layer: Callable[..., Path]) -> None:
    binary = _configured("SECAPI_TEST_RUST_BINARY", "a cargo-auditable binary").read_bytes()
    blob = build_layer([("usr/local/bin/uvx", binary, 0o755)], compression="zstd")
    layer = catalog_layer(blob, "application/vnd.oci.image.layer.v1.tar+zstd", "sha256:rust", LayerLimits())
    (item,) = layer.unscanned
    assert (item.path, item.kind) == ("usr/local/bin/uvx", "rust-binary")
    assert item.reason.endswith("; and 66 more")
    packages = merge_layers([layer]).packages
    assert {p.ecosystem for p in packages} == {"crates.io"}
    store = InMemoryVulnerabilityStore()
    await VulnDbImporter(store).run(iter_records(REAL_OSV), source="real fixtures")
    found = await VulnerabilityMatcher(store).assess(list(packages))
    # rsa: every version affected; memmap2 0.9.10 < 0.9.11 (an `unsound` notice, so informational);
    # rustls 0.23.46 is past RUSTSEC-2024-0399's range.
    assert [(f.id, f.package.name, f.package.version) for f in found.vulnerabilities] == [
        ("RUSTSEC-2023-0071", "rsa", "0.9.10")
    ]
    assert [(f.id, f.package.name, f.informational) for f in found.informational] == [
        ("RUSTSEC-2026-0186", "memmap2", "unsound")
    ]


def _zlib_json_offsets(data: bytes) -> list[int]:
    """Where a zlib stream inflating to `{"packages"` starts: found by trying every offset, no format parsing."""
    offsets, at = [], data.find(b"\x78")
    while at >= 0:
        try:
            if zlib.decompressobj().decompress(data[at : at + 512], 16).startswith(b'{"packages"'):
                offsets.append(at)
        except zlib.error:
            pass
        at = data.find(b"\x78", at + 1)
    return offsets


def test_a_real_mach_o_cargo_auditable_binary_yields_its_crates() -> None:
    binary = _configured("SECAPI_TEST_RUST_BINARY_MACHO", "uvx from the uv 0.13.9 macOS wheel").read_bytes()
    found = examine_binary(io.BytesIO(binary).read)
    assert found is not None
    assert found.rust_packages is not None, found.unread_because
    (start,) = _zlib_json_offsets(binary)
    independent = json.loads(zlib.decompressobj().decompress(binary[start:]))["packages"]
    runtime = [(p["name"], p["version"]) for p in independent if p["source"] == "crates.io" and "kind" not in p]
    assert [(r.name, r.version) for r in found.rust_packages.records] == runtime
    assert len(runtime) == 437  # the macOS build's own graph: not the Linux one's 446
    assert ("rsa", "0.9.10") in runtime


def test_a_real_pe_binary_given_a_dep_section_by_objcopy_yields_its_crates(tmp_path: Path) -> None:
    plain = _configured("SECAPI_TEST_RUST_BINARY_PE", "uvx.exe from the uv 0.13.9 Windows wheel")
    linux = _configured("SECAPI_TEST_RUST_BINARY", "uvx from the uv 0.13.9 manylinux wheel")
    assert _sniff(plain) is None  # uv's Windows build has no list of its own
    copy = Path(shutil.copy(plain, tmp_path / "uvx.exe"))
    with _add_section(copy, ".dep-v0", _dump_dep_bytes(linux, tmp_path)).open("rb") as data:
        found = examine_binary(data.read)
    assert found is not None
    assert found.rust_packages is not None, found.unread_because
    assert len(found.rust_packages.records) == 446
    assert found.rust_packages.unmatchable[0] == "uv 0.13.9 (local, the executable's own crate)"


def _universal(*slices: bytes) -> bytes:
    """A universal (fat) Mach-O file of `slices`, laid out as lipo does: 16 KiB aligned, header big-endian."""
    align, offset, entries, body = 14, 1 << 14, b"", b""
    for index, data in enumerate(slices):
        at = offset + len(body)
        entries += struct.pack(">iiIII", 0x01000007 + index, 3, at, len(data), align)  # x86_64, then a 2nd type
        body += data + bytes(-len(data) % (1 << align))
    header = struct.pack(">II", 0xCAFEBABE, len(slices)) + entries
    return header + bytes(offset - len(header)) + body


def test_a_universal_mach_o_file_is_read_from_the_slice_with_a_dep_section() -> None:
    thin = _configured("SECAPI_TEST_RUST_BINARY_MACHO", "uvx from the uv 0.13.9 macOS wheel").read_bytes()
    without = thin.replace(b".dep-v0\0", b".dep-vX\0", 1)  # the load command no longer names the section
    assert examine_binary(io.BytesIO(without).read) is None
    found = examine_binary(io.BytesIO(_universal(without, thin)).read)
    assert found is not None
    assert found.rust_packages is not None, found.unread_because
    assert len(found.rust_packages.records) == 437
