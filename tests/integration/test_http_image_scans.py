"""Image scans end to end: real registry, real PostgreSQL and Redis, a real SAQ worker, HTTP in front."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample
from secapi.entrypoints.worker import serve_worker

from support.http import serve
from support.images import (
    DPKG_STATUS,
    Image,
    alpine_image,
    app_layer,
    debian_image,
    docker_save_tar,
    layer,
    oci_layout_tar,
    push,
)
from support.registry import RunningRegistry, registry_fixture  # noqa: F401 - fixture used by name
from support.seed import bearer, container_of, create_user

pytestmark = pytest.mark.integration


@pytest.fixture
def image_settings(settings: Settings, registry: RunningRegistry) -> Settings:
    return Settings.from_env(
        {},
        **{
            **settings.__dict__,
            "registry_allowlist": registry.host_port,
            "registry_insecure": registry.host_port,
            "scan_sync_budget": 10.0,
            "registry_read_timeout": 5.0,
        },
    )


@pytest.fixture
async def worker(image_settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(serve_worker(image_settings, stop))
    await asyncio.sleep(0.2)
    yield
    stop.set()
    await asyncio.wait_for(task, timeout=30)


@pytest.fixture
async def api(image_settings: Settings, worker: None) -> AsyncIterator[tuple[AsyncClient, str, Litestar]]:
    app = create_app(image_settings)
    async with serve(app) as client:
        await import_sample(container_of(app))
        _, key = await create_user(app, "images@example.com")
        yield client, key, app


async def scan(client: AsyncClient, key: str, image: str, **extra: str) -> dict[str, object]:
    response = await client.post("/api/v1/scan/docker", json={"image": image, **extra}, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


async def test_debian_image_with_app_layer_finds_distro_and_language_vulnerabilities(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    image = debian_image(app_layer())
    digest = push(registry, "scan/debian-app", "1.0", [image])
    body = await scan(client, key, f"{registry.host_port}/scan/debian-app:1.0")
    result = body["result"]
    assert isinstance(result, dict)
    found = {(v["id"], v["package"]["name"]) for v in result["vulnerabilities"]}
    assert ("DSA-5514-1", "libc6") in found
    assert ("GHSA-m2qf-hxjv-5gpq", "Flask") in found
    assert ("GHSA-xvch-5gv4-984h", "minimist") in found
    assert result["image"]["manifest_digest"] == digest
    assert result["image"]["os_ecosystem"] == "Debian:12"
    coverage = {c["ecosystem"]: c for c in result["vulndb"]["ecosystems"]}
    assert {"Debian:12", "PyPI", "npm"} <= set(coverage)
    assert coverage["Debian:12"]["advisories"] > 0
    assert coverage["Debian:12"]["version_order"] == "dpkg"
    assert result["vulndb"]["version"] == result["vulndb_version"]
    names = {p["name"] for p in result["packages"]}
    assert {"libc6", "zlib1g", "base-files", "Flask", "minimist"} <= names
    assert "old-tool" not in names  # deinstalled
    libc = next(p for p in result["packages"] if p["name"] == "libc6")
    assert libc["ecosystem"] == "Debian:12"
    assert libc["location"].startswith(image.layers[0].digest)


async def test_alpine_image_matches_by_origin(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    push(registry, "scan/alpine", "3.18", [alpine_image()])
    result = (await scan(client, key, f"{registry.host_port}/scan/alpine:3.18"))["result"]
    assert isinstance(result, dict)
    found = {(v["id"], v["package"]["name"]) for v in result["vulnerabilities"]}
    assert ("ALPINE-CVE-2023-2650", "libcrypto3") in found
    assert result["image"]["os_ecosystem"] == "Alpine:v3.18"


async def test_multi_platform_index_scans_the_requested_platform(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    amd = debian_image()
    arm = Image(alpine_image().layers, platform="linux/arm64")
    push(registry, "scan/multi", "1", [amd, arm])
    amd_result = (await scan(client, key, f"{registry.host_port}/scan/multi:1"))["result"]
    arm_result = (await scan(client, key, f"{registry.host_port}/scan/multi:1", platform="linux/arm64"))["result"]
    assert isinstance(amd_result, dict)
    assert isinstance(arm_result, dict)
    assert amd_result["image"]["manifest_digest"] == amd.digest
    assert arm_result["image"]["manifest_digest"] == arm.digest
    assert arm_result["image"]["os_ecosystem"] == "Alpine:v3.18"
    missing = await client.post(
        "/api/v1/scan/docker",
        json={"image": f"{registry.host_port}/scan/multi:1", "platform": "linux/s390x"},
        headers=bearer(key),
    )
    assert missing.status_code == 422
    assert "linux/arm64" in missing.json()["detail"]


async def test_whiteout_of_the_dpkg_database_removes_its_packages(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    push(registry, "scan/whiteout", "1", [debian_image(layer({"var/lib/dpkg/.wh.status": b""}))])
    result = (await scan(client, key, f"{registry.host_port}/scan/whiteout:1"))["result"]
    assert isinstance(result, dict)
    assert not [p for p in result["packages"] if p["ecosystem"].startswith("Debian")]


async def test_the_result_says_what_the_image_holds_that_was_not_scanned(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    extra = layer({"var/lib/rpm/Packages": b"\0\x06\x15\x61", "opt/app/lib/log4j-core-2.14.1.jar": b"PK\3\4"})
    image = debian_image(extra)
    push(registry, "scan/unscanned", "1", [image])
    result = (await scan(client, key, f"{registry.host_port}/scan/unscanned:1"))["result"]
    assert isinstance(result, dict)
    assert [(item["path"], item["kind"]) for item in result["unscanned"]] == [
        (f"{image.layers[1].digest}:opt/app/lib/log4j-core-2.14.1.jar", "java-archive"),
        (f"{image.layers[1].digest}:var/lib/rpm/Packages", "skipped-file"),  # read, but it is no database
    ]
    assert all(item["reason"] for item in result["unscanned"])
    assert result["unscannable"] == []
    assert "libc6" in {p["name"] for p in result["packages"]}


async def test_a_shared_base_layer_is_fetched_once(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    first, second = debian_image(layer({"srv/a": b"a"})), debian_image(layer({"srv/b": b"b"}))
    push(registry, "scan/shared-a", "1", [first])
    push(registry, "scan/shared-b", "1", [second])
    one = (await scan(client, key, f"{registry.host_port}/scan/shared-a:1"))["result"]
    two = (await scan(client, key, f"{registry.host_port}/scan/shared-b:1"))["result"]
    assert isinstance(one, dict)
    assert isinstance(two, dict)
    assert [layer["fetched"] for layer in one["image"]["layers"]] == [True, True]
    assert [layer["fetched"] for layer in two["image"]["layers"]] == [False, True]  # base came from the layer cache


async def test_zstd_and_uncompressed_layers(api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry) -> None:
    client, key, _ = api
    base = layer(
        {"etc/os-release": b'ID=debian\nVERSION_ID="12"\n', "var/lib/dpkg/status": DPKG_STATUS}, compression="zstd"
    )
    push(registry, "scan/zstd", "1", [Image([base, app_layer(), layer({"x": b"y"}, compression="none")])])
    result = (await scan(client, key, f"{registry.host_port}/scan/zstd:1"))["result"]
    assert isinstance(result, dict)
    assert "libc6" in {p["name"] for p in result["packages"]}


async def test_unknown_image_and_bad_references(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    missing = await client.post(
        "/api/v1/scan/docker", json={"image": f"{registry.host_port}/scan/nope:1"}, headers=bearer(key)
    )
    assert missing.status_code == 422
    assert missing.json()["type"].endswith("/scan-failed")
    failed = await client.get(missing.headers["location"], headers=bearer(key))
    assert failed.json()["status"] == "failed"
    assert failed.json()["error"]
    for bad in ("docker.io/UPPER/case", "nginx:bad tag", "a@sha256:123"):
        response = await client.post("/api/v1/scan/docker", json={"image": bad}, headers=bearer(key))
        assert response.status_code == 422, bad
        assert response.json()["invalid-params"][0]["name"] == "image"


async def test_private_registry_addresses_are_refused_unless_allow_listed(
    api: tuple[AsyncClient, str, Litestar],
) -> None:
    client, key, _ = api
    response = await client.post("/api/v1/scan/docker", json={"image": "10.1.2.3:5000/x/y:1"}, headers=bearer(key))
    assert response.status_code == 422
    assert "SECAPI_REGISTRY_ALLOWLIST" in response.json()["detail"]


async def test_archive_uploads_oci_layout_and_docker_save(
    api: tuple[AsyncClient, str, Litestar], tmp_path: Path
) -> None:
    client, key, _ = api
    image = debian_image(app_layer())
    for path in (
        oci_layout_tar(image, tmp_path / "oci.tar"),
        oci_layout_tar(image, tmp_path / "oci.tar.gz", compress=True),
        docker_save_tar(image, tmp_path / "save.tar"),
    ):
        files = {"file": (path.name, path.read_bytes(), "application/x-tar")}
        response = await client.post("/api/v1/scan/docker/archive", files=files, headers=bearer(key))
        assert response.status_code == 200, (path.name, response.text)
        result = response.json()["result"]
        assert ("DSA-5514-1", "libc6") in {(v["id"], v["package"]["name"]) for v in result["vulnerabilities"]}
        assert response.json()["input"]["archive"] == path.name
    raw = await client.post(
        "/api/v1/scan/docker/archive",
        content=(tmp_path / "oci.tar").read_bytes(),
        headers={**bearer(key), "Content-Type": "application/x-tar"},
    )
    assert raw.status_code == 200, raw.text


async def test_hostile_archive_is_a_failed_scan_with_a_reason(
    api: tuple[AsyncClient, str, Litestar], tmp_path: Path
) -> None:
    client, key, _ = api
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    response = await client.post(
        "/api/v1/scan/docker/archive",
        files={"file": ("bomb.tar.gz", bomb, "application/gzip")},
        headers=bearer(key),
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    garbage = await client.post(
        "/api/v1/scan/docker/archive",
        files={"file": ("x.tar", b"not a tar at all", "application/x-tar")},
        headers=bearer(key),
    )
    assert garbage.status_code == 422
    assert (await client.get("/health/live")).status_code == 200


async def test_slow_scans_answer_202_and_the_client_polls(
    image_settings: Settings, worker: None, registry: RunningRegistry
) -> None:
    slow = Settings.from_env({}, **{**image_settings.__dict__, "scan_sync_budget": 0.0})
    app = create_app(slow)
    push(registry, "scan/polled", "1", [debian_image()])
    async with serve(app) as client:
        await import_sample(container_of(app))
        _, key = await create_user(app, "poll@example.com")
        response = await client.post(
            "/api/v1/scan/docker", json={"image": f"{registry.host_port}/scan/polled:1"}, headers=bearer(key)
        )
        assert response.status_code == 202, response.text
        assert response.json()["status"] in ("queued", "running")
        location = response.headers["location"]
        assert location == f"/api/v1/scans/{response.json()['id']}"
        for _ in range(100):
            polled = (await client.get(location, headers=bearer(key))).json()
            if polled["status"] in ("completed", "failed"):
                break
            await asyncio.sleep(0.1)
        assert polled["status"] == "completed"
        assert "DSA-5514-1" in {v["id"] for v in polled["result"]["vulnerabilities"]}


async def test_a_scan_left_running_by_a_dead_worker_is_finished_by_another(
    image_settings: Settings, worker: None, registry: RunningRegistry
) -> None:
    from datetime import UTC, datetime, timedelta

    from secapi.domain.ports import ScanRepository
    from secapi.domain.services.image_scans import ImageScanSubmitter
    from secapi.entrypoints.jobs import sweep_scans

    from support.fakes import RecordingQueue

    push(registry, "scan/orphan", "1", [debian_image()])
    app = create_app(image_settings)
    async with serve(app) as client:
        await import_sample(container_of(app))
        user, key = await create_user(app, "orphan@example.com")
        me = (await client.get("/api/v1/scans", headers=bearer(key))).status_code
        assert me == 200
        async with container_of(app)() as request:
            scans = await request.get(ScanRepository)
            from secapi.domain.clock import SystemClock
            from secapi.domain.model import Principal

            # Recorded and claimed by a worker that then died: never queued on Redis, lease already expired.
            submitter = ImageScanSubmitter(scans, RecordingQueue(), SystemClock(), sync_budget=0)
            scan = await submitter.submit(
                Principal(user=user, key_id=user.id), f"{registry.host_port}/scan/orphan:1", None
            )
            long_ago = datetime.now(UTC) - timedelta(minutes=10)
            assert await scans.claim(scan.id, now=long_ago, lease_until=long_ago + timedelta(seconds=60))
        assert await sweep_scans(container_of(app)) >= 1
        for _ in range(100):
            polled = (await client.get(f"/api/v1/scans/{scan.id}", headers=bearer(key))).json()
            if polled["status"] in ("completed", "failed"):
                break
            await asyncio.sleep(0.1)
        assert polled["status"] == "completed", polled


async def test_image_results_are_cached_by_digest_and_a_moved_tag_is_noticed(
    image_settings: Settings, worker: None, registry: RunningRegistry
) -> None:
    quick = Settings.from_env({}, **{**image_settings.__dict__, "tag_digest_ttl": 1})
    app = create_app(quick)
    push(registry, "scan/moving", "latest", [debian_image()])
    async with serve(app) as client:
        await import_sample(container_of(app))
        _, alice = await create_user(app, "alice-img@example.com")
        _, bob = await create_user(app, "bob-img@example.com")
        short = f"{registry.host_port}/scan/moving"  # default tag `latest`
        first = await client.post("/api/v1/scan/docker", json={"image": short}, headers=bearer(alice))
        same = await client.post("/api/v1/scan/docker", json={"image": f"{short}:latest"}, headers=bearer(bob))
        assert first.headers["x-cache-status"] == "MISS"
        assert same.headers["x-cache-status"] == "HIT"  # public image: shared across tenants, one canonical key
        assert same.json()["result"] == first.json()["result"]
        moved = debian_image(app_layer())
        push(registry, "scan/moving", "latest", [moved])
        await asyncio.sleep(1.1)  # the tag -> digest resolution is trusted for tag_digest_ttl seconds
        after = await client.post("/api/v1/scan/docker", json={"image": short}, headers=bearer(alice))
        assert after.headers["x-cache-status"] == "MISS"
        assert after.json()["result"]["image"]["manifest_digest"] == moved.digest


async def test_with_no_advisories_image_and_archive_scans_are_refused_before_any_work(
    image_settings: Settings, registry: RunningRegistry, tmp_path: Path
) -> None:
    app = create_app(image_settings)
    async with serve(app) as client:
        _, key = await create_user(app, "early-images@example.com")
        push(registry, "trust/empty-db", "1", [debian_image(app_layer())])
        image = f"{registry.host_port}/trust/empty-db:1"
        refused = await client.post("/api/v1/scan/docker", json={"image": image}, headers=bearer(key))
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"].endswith("/vulndb-empty")
        archive = oci_layout_tar(debian_image(app_layer()), tmp_path / "oci.tar")
        files = {"file": (archive.name, archive.read_bytes(), "application/x-tar")}
        upload = await client.post("/api/v1/scan/docker/archive", files=files, headers=bearer(key))
        assert upload.status_code == 503
        assert upload.json()["type"].endswith("/vulndb-empty")
        assert (await client.get("/api/v1/scans", headers=bearer(key))).json()["items"] == []
        usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
        assert {w["name"]: w["used"] for w in usage["windows"]}["hour"] == 0
