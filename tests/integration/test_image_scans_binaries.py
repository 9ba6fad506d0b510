"""Executables in images end to end: a real cargo-auditable Rust binary and a real Go PE binary, pushed to a
real registry, scanned over HTTP, matched against real RustSec and Go vulndb records."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings

from support.image_api import RunningApi, image_api, registry_settings
from support.images import LAYER_TAR, Layer, debian_image, digest_of, push
from support.registry import RunningRegistry, registry_fixture  # noqa: F401 - fixture used by name
from support.seed import bearer

pytestmark = pytest.mark.integration

OSV = Path(__file__).parents[1] / "fixtures" / "osv"
ADVISORIES = [
    OSV / "rustsec" / "RUSTSEC-2023-0071.json",  # rsa, every version
    OSV / "rustsec" / "RUSTSEC-2026-0186.json",  # memmap2 < 0.9.11, informational (unsound)
    OSV / "rustsec" / "RUSTSEC-2024-0399.json",  # rustls [0.23.13, 0.23.18): not uvx's 0.23.46
    OSV / "govulndb" / "GO-2024-3107.json",  # stdlib < 1.22.7
]


def _real(variable: str, what: str) -> bytes:
    configured = os.environ.get(variable)
    if not configured:
        missing = f"{variable} does not name {what}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(missing + "; .ci/run fetches it")
        pytest.skip(missing)
    return Path(configured).read_bytes()


def executables_layer(files: Mapping[str, bytes]) -> Layer:
    """An uncompressed layer of executables (mode 0755: only executables are examined)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 1_700_000_000, 0o755
            archive.addfile(info, io.BytesIO(content))
    tar = raw.getvalue()
    return Layer(tar, digest_of(tar), LAYER_TAR)


@pytest.fixture
async def api(settings: Settings, registry: RunningRegistry) -> AsyncIterator[RunningApi]:
    async with image_api(
        registry_settings(settings, registry, sync_budget=20.0, read_timeout=10.0), ADVISORIES, "binaries@example.com"
    ) as running:
        yield running


async def test_real_rust_and_go_pe_binaries_in_an_image_are_matched_at_their_paths(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    uvx = _real("SECAPI_TEST_RUST_BINARY", "a cargo-auditable binary (uvx from the uv 0.13.9 wheel)")
    esbuild = _real("SECAPI_TEST_GO_BINARY_PE", "a Go PE binary (esbuild.exe from @esbuild/win32-x64@0.19.12)")
    image = debian_image(executables_layer({"usr/local/bin/uvx": uvx, "opt/win/esbuild.exe": esbuild}))
    push(registry, "binaries/rust-go", "1", [image])
    response = await client.post(
        "/api/v1/scan/docker", json={"image": f"{registry.host_port}/binaries/rust-go:1"}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    digest = image.layers[1].digest
    rust, go = f"{digest}:usr/local/bin/uvx", f"{digest}:opt/win/esbuild.exe"

    found = {(v["id"], v["package"]["name"], v["package"]["version"]): v["location"] for v in result["vulnerabilities"]}
    assert found[("RUSTSEC-2023-0071", "rsa", "0.9.10")] == rust
    assert found[("GO-2024-3107", "stdlib", "1.20.12")] == go
    assert not any(key[0] == "RUSTSEC-2024-0399" for key in found)  # rustls 0.23.46 is fixed
    informational = {(v["id"], v["package"]["name"]): v["location"] for v in result["informational"]}
    assert informational[("RUSTSEC-2026-0186", "memmap2")] == rust

    in_uvx = [p for p in result["packages"] if p["location"] == rust]
    assert len(in_uvx) == 446  # the runtime crates.io crates of its .dep-v0 list (424 names); no build-only ones
    crates = {p["name"]: p for p in in_uvx}
    assert (crates["rsa"]["ecosystem"], crates["rsa"]["purl"]) == ("crates.io", "pkg:cargo/rsa@0.9.10")
    assert "serde_derive" not in crates
    assert {p["name"] for p in result["packages"] if p["location"] == go} == {"stdlib"}

    unscanned = {(item["path"], item["kind"]): item["reason"] for item in result["unscanned"]}
    reason = unscanned[(rust, "rust-binary")]
    assert "uv 0.13.9 (local, the executable's own crate)" in reason
    assert reason.endswith("; and 66 more")
    # The PE build info was read whole; only its `(devel)` main module, which has no version, is listed.
    assert [kind for path, kind in unscanned if path == go] == ["go-main-devel"]
    assert "github.com/evanw/esbuild was built without a version" in unscanned[(go, "go-main-devel")]
    coverage = {c["ecosystem"]: c for c in result["vulndb"]["ecosystems"]}
    assert coverage["crates.io"]["advisories"] >= 3
