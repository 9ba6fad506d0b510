"""HttpRegistryClient against an in-memory registry: manifests, platforms, limits, digests and blobs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from secapi.adapters.registry import HttpRegistryClient
from secapi.domain.images import (
    DEFAULT_PLATFORM,
    ImageNotFound,
    ImageRejected,
    LayerDescriptor,
    parse_image_reference,
    parse_platform,
)

from support.registry import OCI_MANIFEST, digest_of

REF = parse_image_reference("registry.example/team/app:1.0")
AMD64, ARM64 = parse_platform("linux/amd64"), parse_platform("linux/arm64")


async def test_a_tag_is_resolved_by_head_then_fetched_by_digest(client: HttpRegistryClient, fake_registry) -> None:
    digests = fake_registry.add_image("team/app", "1.0", ["linux/amd64"])

    resolved = await client.resolve(REF, AMD64)

    assert resolved.reference.canonical() == f"registry.example/team/app:1.0@{digests['top']}"
    assert resolved.manifest_digest == digests["top"]
    assert (resolved.os, resolved.architecture, resolved.created) == ("linux", "amd64", "2026-01-01T00:00:00Z")
    assert len(resolved.layers) == 1
    assert resolved.layers[0].media_type == "application/vnd.oci.image.layer.v1.tar+gzip"
    calls = [(r.method, r.url.path) for r in fake_registry.requests]
    assert calls[:2] == [("HEAD", "/v2/team/app/manifests/1.0"), ("GET", f"/v2/team/app/manifests/{digests['top']}")]
    assert all(r.url.scheme == "https" for r in fake_registry.requests)


async def test_the_platform_is_chosen_from_an_index(client: HttpRegistryClient, fake_registry) -> None:
    digests = fake_registry.add_image("team/app", "1.0", ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"])

    arm64 = await client.resolve(REF, parse_platform("linux/aarch64"))
    arm = await client.resolve(REF, parse_platform("linux/arm"))

    assert arm64.manifest_digest == digests["linux/arm64/v8"]
    assert arm64.reference.digest == digests["top"]  # the reference stays pinned to the index
    assert arm.manifest_digest == digests["linux/arm/v7"]
    assert str(arm.platform) == "linux/arm/v7"


async def test_a_missing_platform_names_the_available_ones(client: HttpRegistryClient, fake_registry) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64", "linux/arm64"])

    with pytest.raises(
        ImageRejected, match=r"no manifest for platform linux/s390x; available platforms: linux/amd64, linux/arm64"
    ):
        await client.resolve(REF, parse_platform("linux/s390x"))


async def test_a_single_platform_image_of_another_platform_is_rejected(
    client: HttpRegistryClient, fake_registry
) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/arm64"])

    with pytest.raises(ImageRejected, match="built for linux/arm64 only; platform linux/amd64 was requested"):
        await client.resolve(REF, DEFAULT_PLATFORM)


async def test_resolve_digest_uses_only_head_requests(client: HttpRegistryClient, fake_registry) -> None:
    digests = fake_registry.add_image("team/app", "1.0", ["linux/amd64", "linux/arm64"])

    assert await client.resolve_digest(REF, AMD64) == digests["top"]
    assert [r.method for r in fake_registry.requests] == ["HEAD"]


async def test_a_pinned_reference_needs_no_request_for_its_digest(client: HttpRegistryClient, fake_registry) -> None:
    pinned = parse_image_reference("registry.example/team/app@sha256:" + "a" * 64)
    assert await client.resolve_digest(pinned, AMD64) == "sha256:" + "a" * 64
    assert fake_registry.requests == []


async def test_a_missing_tag_is_image_not_found_without_retries(
    client: HttpRegistryClient, fake_registry, sleeps
) -> None:
    with pytest.raises(ImageNotFound, match=r"registry\.example/team/app:1\.0 not found"):
        await client.resolve(REF, AMD64)
    assert len(fake_registry.requests) == 1
    assert sleeps.calls == []


async def test_manifest_bytes_that_do_not_match_the_digest_are_rejected(
    client: HttpRegistryClient, fake_registry
) -> None:
    digests = fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    body, media_type = fake_registry.manifests[("team/app", digests["top"])]
    fake_registry.manifests[("team/app", digests["top"])] = (body.replace(b"2026", b"2027") + b" ", media_type)

    with pytest.raises(ImageRejected, match="does not match its digest"):
        await client.resolve(REF, AMD64)


async def test_a_manifest_declared_larger_than_the_limit_is_refused_unread(make_client, fake_registry) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    async with make_client(max_manifest_bytes=100) as small:
        with pytest.raises(ImageRejected, match=r"is \d+ bytes; the limit is 100"):
            await small.resolve(REF, AMD64)


async def test_a_streamed_manifest_over_the_limit_is_refused(make_client, fake_registry) -> None:
    def chunked(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and "/manifests/" in request.url.path:
            return httpx.Response(200, content=_chunks([b"{" + b" " * 60] * 5), headers={"Content-Type": OCI_MANIFEST})
        return None

    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    fake_registry.scripts.append(chunked)
    async with make_client(max_manifest_bytes=100) as small:
        with pytest.raises(ImageRejected, match="larger than the limit of 100 bytes"):
            await small.resolve(REF, AMD64)


def _push_manifest_with_layers(fake_registry, layers: list[dict[str, object]]) -> None:
    config = json.dumps({"os": "linux", "architecture": "amd64"}).encode()
    fake_registry.blobs[("team/app", digest_of(config))] = config
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": 2},
        "layers": layers,
    }
    fake_registry.add_manifest("team/app", "1.0", json.dumps(manifest).encode(), OCI_MANIFEST)


def _layer(media_type: str) -> dict[str, object]:
    return {"mediaType": media_type, "digest": "sha256:" + "d" * 64, "size": 10}


async def test_an_unknown_layer_media_type_is_rejected_by_name(client: HttpRegistryClient, fake_registry) -> None:
    helm = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    _push_manifest_with_layers(fake_registry, [_layer(helm)])

    with pytest.raises(ImageRejected, match=re.escape(f"unsupported media type '{helm}'")):
        await client.resolve(REF, AMD64)


async def test_foreign_layers_are_rejected(client: HttpRegistryClient, fake_registry) -> None:
    _push_manifest_with_layers(fake_registry, [_layer("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")])

    with pytest.raises(ImageRejected, match="foreign"):
        await client.resolve(REF, AMD64)


async def test_too_many_layers_are_rejected(make_client, fake_registry) -> None:
    _push_manifest_with_layers(fake_registry, [_layer("application/vnd.oci.image.layer.v1.tar")] * 3)

    async with make_client(max_layers=2) as limited:
        with pytest.raises(ImageRejected, match="has 3 layers; at most 2"):
            await limited.resolve(REF, AMD64)


async def test_a_layer_digest_of_another_algorithm_is_rejected(client: HttpRegistryClient, fake_registry) -> None:
    layer = {**_layer("application/vnd.oci.image.layer.v1.tar"), "digest": "sha512:" + "e" * 128}
    _push_manifest_with_layers(fake_registry, [layer])

    with pytest.raises(ImageRejected, match="only sha256"):
        await client.resolve(REF, AMD64)


async def test_a_config_that_is_not_an_image_config_is_rejected(client: HttpRegistryClient, fake_registry) -> None:
    _push_manifest_with_layers(fake_registry, [_layer("application/vnd.oci.image.layer.v1.tar")])
    body, media_type = fake_registry.manifests[("team/app", "1.0")]
    patched = body.replace(b"application/vnd.oci.image.config.v1+json", b"application/vnd.cncf.helm.config.v1+json")
    fake_registry.add_manifest("team/app", "1.0", patched, media_type)

    with pytest.raises(ImageRejected, match="not a container image"):
        await client.resolve(REF, AMD64)


async def test_schema1_manifests_are_rejected(client: HttpRegistryClient, fake_registry) -> None:
    body = json.dumps({"schemaVersion": 1, "name": "team/app", "tag": "1.0", "fsLayers": []}).encode()
    fake_registry.add_manifest("team/app", "1.0", body, "application/vnd.docker.distribution.manifest.v1+prettyjws")

    with pytest.raises(ImageRejected, match="schema 1 manifests are not supported"):
        await client.resolve(REF, AMD64)


async def test_a_layer_is_downloaded_and_verified(client: HttpRegistryClient, fake_registry, tmp_path: Path) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    resolved = await client.resolve(REF, AMD64)
    layer = resolved.layers[0]

    path = await client.download_layer(resolved, layer, tmp_path)

    assert path.parent == tmp_path
    assert digest_of(path.read_bytes()) == layer.digest
    assert _names(tmp_path) == [path.name]


async def test_a_layer_with_the_wrong_content_leaves_no_file(
    client: HttpRegistryClient, fake_registry, tmp_path: Path
) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    resolved = await client.resolve(REF, AMD64)
    layer = resolved.layers[0]
    fake_registry.blobs[("team/app", layer.digest)] = b"x" * layer.size

    with pytest.raises(ImageRejected, match="does not match its digest"):
        await client.download_layer(resolved, layer, tmp_path)
    assert _names(tmp_path) == []


async def test_a_layer_larger_than_declared_is_aborted(
    client: HttpRegistryClient, fake_registry, tmp_path: Path
) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    resolved = await client.resolve(REF, AMD64)
    layer = resolved.layers[0]
    fake_registry.scripts.append(
        lambda r: httpx.Response(200, content=_chunks([b"x" * 100] * 50)) if "/blobs/" in r.url.path else None
    )

    with pytest.raises(ImageRejected, match="larger than its declared size"):
        await client.download_layer(resolved, layer, tmp_path)
    assert _names(tmp_path) == []


async def test_a_layer_over_the_limit_is_refused_before_any_request(make_client, fake_registry, tmp_path: Path) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    async with make_client(max_layer_bytes=1000) as limited:
        resolved = await limited.resolve(REF, AMD64)
        huge = LayerDescriptor(digest=resolved.layers[0].digest, size=5000, media_type=resolved.layers[0].media_type)
        before = len(fake_registry.requests)
        with pytest.raises(ImageRejected, match="the limit is 1000"):
            await limited.download_layer(resolved, huge, tmp_path)
    assert len(fake_registry.requests) == before


async def test_a_declared_content_length_over_the_limit_is_refused(
    client: HttpRegistryClient, fake_registry, tmp_path
) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    resolved = await client.resolve(REF, AMD64)
    fake_registry.scripts.append(
        lambda r: (
            httpx.Response(200, headers={"Content-Length": "999999999"}, content=_chunks([b"x"]))
            if "/blobs/" in r.url.path
            else None
        )
    )

    with pytest.raises(ImageRejected, match="is 999999999 bytes"):
        await client.download_layer(resolved, resolved.layers[0], tmp_path)


async def test_docker_hub_references_go_to_the_registry_api_host(client: HttpRegistryClient, fake_registry) -> None:
    fake_registry.add_image("library/nginx", "latest", ["linux/amd64"])

    await client.resolve(parse_image_reference("nginx"), AMD64)

    assert {r.url.host for r in fake_registry.requests} == {"registry-1.docker.io"}


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _chunks(parts: list[bytes]) -> Callable[[], object]:
    async def stream():  # type: ignore[no-untyped-def]
        for part in parts:
            yield part

    return stream()


async def test_without_a_digest_header_the_manifest_is_hashed(client: HttpRegistryClient, fake_registry) -> None:
    digests = fake_registry.add_image("team/app", "1.0", ["linux/amd64"])

    def without_digest(request: httpx.Request) -> httpx.Response | None:
        if "/manifests/1.0" not in request.url.path:
            return None
        body, media_type = fake_registry.manifests[("team/app", "1.0")]
        return httpx.Response(
            200, headers={"Content-Type": media_type}, content=b"" if request.method == "HEAD" else body
        )

    fake_registry.scripts.append(without_digest)

    assert await client.resolve_digest(REF, AMD64) == digests["top"]
    assert (await client.resolve(REF, AMD64)).reference.digest == digests["top"]


@pytest.mark.parametrize("extra", [0, 1, 77_777])
async def test_a_layer_of_several_write_batches_is_written_and_hashed_in_order(
    client: HttpRegistryClient, fake_registry, tmp_path: Path, extra: int
) -> None:
    # Batches are hashed and written in a thread while the next one is read: order and the tail must survive.
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    resolved = await client.resolve(REF, AMD64)
    body = bytes(range(256)) * (4 * 4096) * 4 + b"t" * extra  # 4 MiB and a tail
    layer = LayerDescriptor(digest=digest_of(body), size=len(body), media_type=resolved.layers[0].media_type)
    parts = [body[i : i + 100_003] for i in range(0, len(body), 100_003)]
    fake_registry.scripts.append(
        lambda r: httpx.Response(200, content=_chunks(parts)) if "/blobs/" in r.url.path else None
    )

    path = await client.download_layer(resolved, layer, tmp_path)

    assert path.read_bytes() == body
    assert _names(tmp_path) == [path.name]


async def test_a_many_batch_layer_with_the_wrong_content_leaves_no_file(
    client: HttpRegistryClient, fake_registry, tmp_path: Path
) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    resolved = await client.resolve(REF, AMD64)
    body = b"y" * (3 * 1024 * 1024 + 5)
    layer = LayerDescriptor(digest=digest_of(b"z" * len(body)), size=len(body), media_type="application/x-tar")
    fake_registry.scripts.append(
        lambda r: (
            httpx.Response(200, content=_chunks([body[i : i + 65536] for i in range(0, len(body), 65536)]))
            if "/blobs/" in r.url.path
            else None
        )
    )

    with pytest.raises(ImageRejected, match="does not match its digest"):
        await client.download_layer(resolved, layer, tmp_path)
    assert _names(tmp_path) == []
