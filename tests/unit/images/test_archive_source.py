"""ArchiveImageSource reads docker save and OCI layout tarballs by member name, refusing hostile ones."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from secapi.adapters.registry import ArchiveImageSource
from secapi.domain.images import DEFAULT_PLATFORM, ImageRejected, parse_image_reference, parse_platform

from support.registry import OCI_INDEX, OCI_MANIFEST, build_layer, digest_of, image_blobs

REF = parse_image_reference("example/app:1.0")

Member = tuple[str, bytes] | tarfile.TarInfo


def _write_tar(path: Path, members: list[Member], *, gzipped: bool = False) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, content = member
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    data = gzip.compress(raw.getvalue()) if gzipped else raw.getvalue()
    path.write_bytes(data)
    return path


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _plain_layer(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def docker_save_members(tags: list[str], layer: bytes | None = None) -> list[Member]:
    """The legacy `docker save` layout: manifest.json, <image id>.json, <layer id>/layer.tar."""
    layer = layer if layer is not None else _plain_layer({"etc/os-release": b"ID=debian\n"})
    diff_id = digest_of(layer)
    config = json.dumps(
        {"os": "linux", "architecture": "amd64", "created": "2026-01-01T00:00:00Z", "rootfs": {"diff_ids": [diff_id]}}
    ).encode()
    config_name = digest_of(config)[7:] + ".json"
    manifest = [{"Config": config_name, "RepoTags": tags, "Layers": ["abc123/layer.tar"]}]
    return [
        ("abc123/VERSION", b"1.0"),
        ("abc123/layer.tar", layer),
        (config_name, config),
        ("manifest.json", json.dumps(manifest).encode()),
        ("repositories", b"{}"),
    ]


def oci_layout_members(
    platforms: list[str], name: str = "docker.io/example/app:1.0"
) -> tuple[list[Member], dict[str, str]]:
    """An OCI image layout; several platforms go in an index blob that index.json points at (as docker 25 writes)."""
    members: list[Member] = [("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')]
    digests: dict[str, str] = {}
    entries = []
    for platform in platforms:
        manifest, config, layers = image_blobs(platform, {"etc/platform": platform.encode()})
        for blob in (manifest, config, *layers):
            members.append((f"blobs/sha256/{digest_of(blob)[7:]}", blob))
        digests[platform] = digest_of(manifest)
        os_name, arch, *variant = platform.split("/")
        spec = {"os": os_name, "architecture": arch, **({"variant": variant[0]} if variant else {})}
        entries.append(
            {"mediaType": OCI_MANIFEST, "digest": digest_of(manifest), "size": len(manifest), "platform": spec}
        )
    annotations = {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}
    if len(platforms) > 1:
        inner = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        members.append((f"blobs/sha256/{digest_of(inner)[7:]}", inner))
        top = {"mediaType": OCI_INDEX, "digest": digest_of(inner), "size": len(inner), "annotations": annotations}
        digests["top"] = digest_of(inner)
    else:
        top = {**entries[0], "annotations": annotations}
        digests["top"] = entries[0]["digest"]  # type: ignore[assignment]
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top]}
    members.append(("index.json", json.dumps(index).encode()))
    return members, digests


async def test_a_docker_save_archive_resolves_and_its_layer_digest_is_the_diff_id(tmp_path: Path) -> None:
    archive = _write_tar(tmp_path / "image.tar", docker_save_members(["example/app:1.0"]))
    out = tmp_path / "out"
    out.mkdir()

    async with ArchiveImageSource(archive) as source:
        resolved = await source.resolve(REF, DEFAULT_PLATFORM)
        [layer] = resolved.layers
        path = await source.download_layer(resolved, layer, out)

    assert (resolved.os, resolved.architecture, resolved.created) == ("linux", "amd64", "2026-01-01T00:00:00Z")
    assert layer.media_type == "application/vnd.oci.image.layer.v1.tar"
    assert digest_of(path.read_bytes()) == layer.digest
    with tarfile.open(path) as layer_tar:
        assert layer_tar.getnames() == ["etc/os-release"]
    assert resolved.reference.digest == resolved.manifest_digest == resolved.config_digest


async def test_a_docker_save_layer_that_does_not_match_its_diff_id_leaves_no_file(tmp_path: Path) -> None:
    members = docker_save_members(["example/app:1.0"])
    members[1] = ("abc123/layer.tar", _plain_layer({"etc/os-release": b"ID=evil\n"}))
    archive = _write_tar(tmp_path / "image.tar", members)
    out = tmp_path / "out"
    out.mkdir()

    async with ArchiveImageSource(archive) as source:
        resolved = await source.resolve(REF, DEFAULT_PLATFORM)
        with pytest.raises(ImageRejected, match="does not match its digest"):
            await source.download_layer(resolved, resolved.layers[0], out)
    assert _names(out) == []


async def test_a_compressed_docker_save_layer_is_hashed_as_it_is(tmp_path: Path) -> None:
    layer, _ = build_layer({"etc/os-release": b"ID=alpine\n"})
    members = docker_save_members(["example/app:1.0"])
    members[1] = ("abc123/layer.tar", layer)
    async with ArchiveImageSource(_write_tar(tmp_path / "image.tar", members)) as source:
        resolved = await source.resolve(REF, DEFAULT_PLATFORM)
    assert resolved.layers[0].media_type == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert resolved.layers[0].digest == digest_of(layer)


async def test_an_oci_layout_picks_the_platform_from_its_index(tmp_path: Path) -> None:
    members, digests = oci_layout_members(["linux/amd64", "linux/arm64"])
    archive = _write_tar(tmp_path / "image.tar", members)
    out = tmp_path / "out"
    out.mkdir()

    async with ArchiveImageSource(archive) as source:
        resolved = await source.resolve(REF, parse_platform("linux/arm64"))
        path = await source.download_layer(resolved, resolved.layers[0], out)
        with pytest.raises(ImageRejected, match="available platforms: linux/amd64, linux/arm64"):
            await source.resolve(REF, parse_platform("linux/riscv64"))

    assert resolved.manifest_digest == digests["linux/arm64"]
    assert resolved.reference.digest == digests["top"]
    assert resolved.architecture == "arm64"
    assert digest_of(path.read_bytes()) == resolved.layers[0].digest


async def test_a_gzipped_archive_is_read_and_its_scratch_copy_removed(tmp_path: Path) -> None:
    members, digests = oci_layout_members(["linux/amd64"])
    archive = _write_tar(tmp_path / "image.tar.gz", members, gzipped=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    source = ArchiveImageSource(archive, scratch_dir=scratch)
    resolved = await source.resolve(REF, DEFAULT_PLATFORM)
    assert len(_names(scratch)) == 1
    await source.aclose()

    assert resolved.manifest_digest == digests["linux/amd64"]
    assert _names(scratch) == []


async def test_a_gzip_bomb_is_stopped_at_the_uncompressed_limit(tmp_path: Path) -> None:
    archive = _write_tar(tmp_path / "bomb.tar.gz", [("big", b"\0" * 200_000)], gzipped=True)
    async with ArchiveImageSource(archive, max_uncompressed_bytes=100_000, scratch_dir=tmp_path) as source:
        with pytest.raises(ImageRejected, match="decompresses to more than 100000 bytes"):
            await source.resolve(REF, DEFAULT_PLATFORM)
    assert _names(tmp_path) == ["bomb.tar.gz"]


async def test_the_image_is_chosen_by_name_when_an_archive_holds_several(tmp_path: Path) -> None:
    first = docker_save_members(["example/app:1.0"])
    manifest_json = json.loads(first[3][1])
    manifest_json.append({**manifest_json[0], "RepoTags": ["example/other:2.0"]})
    first[3] = ("manifest.json", json.dumps(manifest_json).encode())
    archive = _write_tar(tmp_path / "image.tar", first)

    async with ArchiveImageSource(archive) as source:
        await source.resolve(REF, DEFAULT_PLATFORM)
        with pytest.raises(ImageRejected, match=r"holds 2 images \(example/app:1.0, example/other:2.0\); name one"):
            await source.resolve(parse_image_reference("example/third:3"), DEFAULT_PLATFORM)


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


def _hardlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, target
    return info


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ([("../escape", b"x")], "climbs out of the archive"),
        ([("blobs/../../escape", b"x")], "climbs out of the archive"),
        ([("/etc/passwd", b"x")], "absolute or unsafe path"),
        ([("repositories", b"again")], "appears twice"),
    ],
)
async def test_hostile_member_names_are_refused(tmp_path: Path, extra: list[Member], reason: str) -> None:
    archive = _write_tar(tmp_path / "image.tar", docker_save_members(["example/app:1.0"]) + extra)
    async with ArchiveImageSource(archive) as source:
        with pytest.raises(ImageRejected, match=reason):
            await source.resolve(REF, DEFAULT_PLATFORM)


@pytest.mark.parametrize("link", [_symlink, _hardlink])
async def test_a_linked_manifest_is_refused(tmp_path: Path, link) -> None:  # type: ignore[no-untyped-def]
    members = [
        m for m in docker_save_members(["example/app:1.0"]) if not (isinstance(m, tuple) and m[0] == "manifest.json")
    ]
    members += [("real.json", b"[]"), link("manifest.json", "real.json")]
    async with ArchiveImageSource(_write_tar(tmp_path / "image.tar", members)) as source:
        with pytest.raises(ImageRejected, match=r"'manifest\.json' is a link; links are not followed"):
            await source.resolve(REF, DEFAULT_PLATFORM)


async def test_a_linked_layer_blob_is_refused_at_resolve(tmp_path: Path) -> None:
    members, _ = oci_layout_members(["linux/amd64"])
    _manifest, _config, layers = image_blobs("linux/amd64", {"etc/platform": b"linux/amd64"})
    layer_name = f"blobs/sha256/{digest_of(layers[0])[7:]}"
    members = [m for m in members if not (isinstance(m, tuple) and m[0] == layer_name)]
    members.append(_symlink(layer_name, "/etc/shadow"))
    async with ArchiveImageSource(_write_tar(tmp_path / "image.tar", members)) as source:
        with pytest.raises(ImageRejected, match="is a link"):
            await source.resolve(REF, DEFAULT_PLATFORM)


async def test_a_blob_whose_content_does_not_match_its_digest_is_refused(tmp_path: Path) -> None:
    members, digests = oci_layout_members(["linux/amd64"])
    manifest_name = f"blobs/sha256/{digests['linux/amd64'][7:]}"
    members = [(n, c + b" ") if n == manifest_name else (n, c) for n, c in members]  # type: ignore[misc]
    async with ArchiveImageSource(_write_tar(tmp_path / "image.tar", members)) as source:
        with pytest.raises(ImageRejected, match="does not match its digest"):
            await source.resolve(REF, DEFAULT_PLATFORM)


async def test_too_many_members_are_refused(tmp_path: Path) -> None:
    members = docker_save_members(["example/app:1.0"]) + [(f"junk/{i}", b"") for i in range(20)]
    async with ArchiveImageSource(_write_tar(tmp_path / "image.tar", members), max_members=10) as source:
        with pytest.raises(ImageRejected, match="more than 10 members"):
            await source.resolve(REF, DEFAULT_PLATFORM)


async def test_an_oversized_manifest_is_refused(tmp_path: Path) -> None:
    members = docker_save_members(["example/app:1.0"])
    members[3] = ("manifest.json", b"[" + b" " * 5000 + b"]")
    async with ArchiveImageSource(_write_tar(tmp_path / "image.tar", members), max_manifest_bytes=4096) as source:
        with pytest.raises(ImageRejected, match=r"'manifest\.json' is 5002 bytes; the limit is 4096"):
            await source.resolve(REF, DEFAULT_PLATFORM)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is not a tar archive" * 100, "not a readable tar archive"),
        (gzip.compress(b"")[:10], "not valid gzip"),
    ],
)
async def test_garbage_uploads_are_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "upload").write_bytes(content)
    async with ArchiveImageSource(tmp_path / "upload", scratch_dir=tmp_path) as source:
        with pytest.raises(ImageRejected, match=reason):
            await source.resolve(REF, DEFAULT_PLATFORM)


async def test_an_archive_of_neither_layout_is_refused(tmp_path: Path) -> None:
    async with ArchiveImageSource(_write_tar(tmp_path / "x.tar", [("hello.txt", b"hi")])) as source:
        with pytest.raises(ImageRejected, match="neither an OCI image layout"):
            await source.resolve(REF, DEFAULT_PLATFORM)


async def test_a_diff_id_count_mismatch_is_refused(tmp_path: Path) -> None:
    members = docker_save_members(["example/app:1.0"])
    manifest_json = json.loads(members[3][1])
    manifest_json[0]["Layers"].append("abc123/layer.tar")
    members[3] = ("manifest.json", json.dumps(manifest_json).encode())
    async with ArchiveImageSource(_write_tar(tmp_path / "image.tar", members)) as source:
        with pytest.raises(ImageRejected, match="lists 2 layers but the image config has 1 diff_ids"):
            await source.resolve(REF, DEFAULT_PLATFORM)
