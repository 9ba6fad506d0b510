"""Go and Rust detection on executables real toolchains wrote, not only on hand-built ELF files.

A Go toolchain is not assumed: a real Go binary is checked when SECAPI_TEST_GO_BINARY names one (for instance
`bin/esbuild` from `npm pack @esbuild/linux-x64@0.19.12`). Rust binaries get cargo-auditable's `.dep-v0`
section from objcopy, as `cargo auditable` (not installable offline) would add it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.adapters.catalog.binaries import GO_MAGIC, examine_binary, sniff_binary
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


def test_rust_binary_is_one_only_with_a_cargo_auditable_section(rust_binary: Path) -> None:
    assert _sniff(rust_binary) is None  # a plain Rust binary carries no dependency list to read
    audit = zlib.compress(b'{"packages":[{"name":"hello","version":"0.1.0","source":"local","root":true}]}')
    assert _sniff(_add_section(rust_binary, ".dep-v0", audit)) == "rust-binary"


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
    assert layer.unscanned == ()  # its build info was read
    # esbuild 0.19.12's build info (cross-checked with `strings`): main module `(devel)`, so no package for it;
    # one dependency; built by go1.20.12.
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
