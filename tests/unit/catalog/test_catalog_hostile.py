"""Hostile and broken layers: traversal, links, bombs, corrupt streams, lying media types, limits."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.domain.errors import InvalidInput
from secapi.domain.inventory import LayerRejected, merge_layers

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
TAR = "application/vnd.oci.image.layer.v1.tar"
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
LIMITS = LayerLimits()
STATUS = "var/lib/dpkg/status"
STATUS_BYTES = b"Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1\n"
Builder = Callable[..., Path]


def manifest(name: str) -> bytes:
    return json.dumps({"name": name, "version": "1.0.0"}).encode()


def test_traversal_and_absolute_members_are_counted_and_never_used(build_layer: Builder) -> None:
    blob = build_layer(
        [
            ("../etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
            ("/var/lib/dpkg/status", STATUS_BYTES),
            ("var/lib/../../../etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
            ("app/../../.wh.etc", b""),
            ("./ok/node_modules/a/package.json", manifest("a")),
        ]
    )
    layer = catalog_layer(blob, GZIP, "sha256:evil", LIMITS)
    assert layer.refused_members == 4
    assert list(layer.packages) == ["ok/node_modules/a/package.json"]
    assert (layer.os_files, layer.deleted, layer.skipped) == ({}, (), {})
    assert [(i.path, i.kind, i.reason) for i in merge_layers([layer]).unscanned] == [
        ("sha256:evil", "refused-members", "4 tar members with absolute or `..` paths were ignored")
    ]


def test_symlinked_status_file_is_not_followed_and_hides_lower_ones(build_layer: Builder) -> None:
    blob = build_layer([("etc/shadow", b"root:$6$secret:19000::::::\n"), (STATUS, "symlink:/etc/shadow")])
    layer = catalog_layer(blob, GZIP, "sha256:link", LIMITS)
    assert layer.packages == {}
    assert layer.deleted == (STATUS,)
    assert layer.skipped == {
        STATUS: "not cataloged: a symbolic link to /etc/shadow; links are not followed, "
        "since what a link names is only resolved in a running container"
    }


def test_hard_link_outside_the_layer_root_is_refused(build_layer: Builder) -> None:
    blob = build_layer([(STATUS, "hardlink:../../etc/shadow")])
    layer = catalog_layer(blob, GZIP, "sha256:hl", LIMITS)
    assert layer.refused_members == 1
    assert layer.packages == {}
    assert layer.skipped == {
        STATUS: "not cataloged: a hard link to ../../etc/shadow, a file this layer did not read; "
        "links are not followed, since what a link names is only resolved in a running container"
    }


def test_hard_link_to_a_file_already_read_reuses_its_result(build_layer: Builder) -> None:
    blob = build_layer(
        [
            ("usr/lib/os-release", b"ID=alpine\nVERSION_ID=3.18.4\n"),
            ("etc/os-release", "hardlink:usr/lib/os-release"),
            ("app/node_modules/a/package.json", manifest("a")),
            ("app/node_modules/b/node_modules/a/package.json", "hardlink:app/node_modules/a/package.json"),
            ("tmp/status", STATUS_BYTES),  # not a cataloged path, so never read
            (STATUS, "hardlink:tmp/status"),
        ]
    )
    layer = catalog_layer(blob, GZIP, "sha256:hl2", LIMITS)
    assert layer.os_files["etc/os-release"] == layer.os_files["usr/lib/os-release"]
    assert (
        layer.packages["app/node_modules/b/node_modules/a/package.json"]
        == layer.packages["app/node_modules/a/package.json"]
    )
    assert STATUS not in layer.packages
    assert layer.skipped[STATUS].startswith("not cataloged: a hard link to tmp/status, a file this layer did not read")


def test_devices_fifos_and_symlinked_directories(build_layer: Builder) -> None:
    blob = build_layer(
        [
            ("lib/apk/db/installed", "chardev"),
            ("etc/os-release", "fifo"),
            ("app/node_modules", "symlink:/opt/elsewhere/node_modules"),
        ]
    )
    layer = catalog_layer(blob, GZIP, "sha256:dev", LIMITS)
    assert (layer.packages, layer.os_files) == ({}, {})
    assert set(layer.deleted) == {"lib/apk/db/installed", "etc/os-release", "app/node_modules"}
    assert layer.skipped == {
        "lib/apk/db/installed": "not cataloged: a character device, not a regular file: "
        "it holds no file contents to read, and it is never opened"
    }


def test_later_duplicate_member_replaces_the_earlier_one(build_layer: Builder) -> None:
    blob = build_layer([(STATUS, STATUS_BYTES), (STATUS, "symlink:/etc/shadow")])
    layer = catalog_layer(blob, GZIP, "sha256:dup", LIMITS)
    assert layer.packages == {}
    assert STATUS in layer.skipped


class _Zeros(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        buffer[:] = bytes(len(buffer))
        return len(buffer)


def _write_zero_file_layer(path: Path, size: int) -> None:
    """A gzip layer holding one `size`-byte file of zeros, written as a stream (nothing in memory)."""
    with (
        path.open("wb") as out,
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w|") as tar,
    ):
        info = tarfile.TarInfo("var/cache/zeros.bin")
        info.size = size
        tar.addfile(info, io.BufferedReader(_Zeros(), buffer_size=1 << 20))


def test_decompression_bomb_is_rejected_while_reading(tmp_path: Path) -> None:
    blob = tmp_path / "bomb.tar.gz"
    _write_zero_file_layer(blob, 200 * 1024 * 1024)
    assert blob.stat().st_size < 1024 * 1024  # > 200:1
    with pytest.raises(LayerRejected, match=r"sha256:bomb expands more than 200:1 .*decompression bomb"):
        catalog_layer(blob, GZIP, "sha256:bomb", LIMITS)


def test_uncompressed_size_limit(build_layer: Builder) -> None:
    blob = build_layer([("srv/data.bin", os.urandom(300_000))])
    with pytest.raises(LayerRejected, match="larger than 200000 bytes uncompressed"):
        catalog_layer(blob, GZIP, "sha256:big", LayerLimits(max_uncompressed_bytes=200_000))


def test_too_many_entries(build_layer: Builder) -> None:
    blob = build_layer([(f"srv/{i}.txt", b"x") for i in range(20)])
    with pytest.raises(LayerRejected, match="sha256:many has more than 10 entries"):
        catalog_layer(blob, GZIP, "sha256:many", LayerLimits(max_entries=10))


def test_kept_bytes_limit(build_layer: Builder) -> None:
    blob = build_layer([(STATUS, STATUS_BYTES * 100)])
    with pytest.raises(LayerRejected, match="needs more than 1000 bytes of cataloged files"):
        catalog_layer(blob, GZIP, "sha256:kept", LayerLimits(max_kept_bytes=1000))


def test_truncated_gzip_is_rejected_with_a_reason(build_layer: Builder) -> None:
    blob = build_layer([("srv/data.bin", os.urandom(200_000)), (STATUS, STATUS_BYTES)])
    blob.write_bytes(blob.read_bytes()[:50_000])
    with pytest.raises(LayerRejected, match=r"^layer sha256:cut is not a valid gzip stream: Compressed file ended"):
        catalog_layer(blob, GZIP, "sha256:cut", LIMITS)


def test_corrupt_deflate_data_is_rejected(build_layer: Builder) -> None:
    data = bytearray(build_layer([("srv/a.txt", b"hello world " * 2000)]).read_bytes())
    data[20:60] = b"\xff" * 40
    blob = Path(str(build_layer([])) + ".bad")
    blob.write_bytes(bytes(data))
    with pytest.raises(LayerRejected, match="is not a valid gzip stream"):
        catalog_layer(blob, GZIP, "sha256:flip", LIMITS)


@pytest.mark.parametrize(("media_type", "reason"), [(TAR, "not a valid tar archive"), (GZIP, "not a valid gzip")])
def test_garbage_bytes_are_rejected(tmp_path: Path, media_type: str, reason: str) -> None:
    blob = tmp_path / "garbage"
    blob.write_bytes(b"\x00\x01garbage" + os.urandom(4096))
    with pytest.raises(LayerRejected, match=reason) as caught:
        catalog_layer(blob, media_type, "sha256:junk", LIMITS)
    assert isinstance(caught.value, InvalidInput)  # the HTTP layer maps it to a 4xx / failed scan
    assert caught.value.digest == "sha256:junk"


def test_empty_blob_is_rejected(tmp_path: Path) -> None:
    blob = tmp_path / "empty"
    blob.write_bytes(b"")
    with pytest.raises(LayerRejected, match="not a valid tar archive"):
        catalog_layer(blob, TAR, "sha256:empty", LIMITS)


def test_bad_header_checksum_mid_archive_rejects_instead_of_stopping_quietly(build_layer: Builder) -> None:
    data = bytearray(build_layer([("srv/a.txt", b"a" * 100), (STATUS, STATUS_BYTES)], compression="tar").read_bytes())
    second_header = data.index(b"ustar", 1024) - 257
    data[second_header + 10] ^= 0x55  # corrupt the name, not the checksum field
    blob = Path(str(build_layer([], compression="tar")) + ".bad")
    blob.write_bytes(bytes(data))
    with pytest.raises(LayerRejected, match="bad checksum"):
        catalog_layer(blob, TAR, "sha256:chk", LIMITS)


@pytest.mark.parametrize("declared", [TAR, GZIP, ZSTD, "application/vnd.docker.image.rootfs.diff.tar.gzip", ""])
@pytest.mark.parametrize("actual", ["tar", "gzip"])
def test_magic_bytes_win_over_a_lying_media_type(build_layer: Builder, declared: str, actual: str) -> None:
    blob = build_layer([(STATUS, STATUS_BYTES)], compression=actual)
    assert list(catalog_layer(blob, declared, "sha256:mt", LIMITS).packages) == [STATUS]


def test_zstd_layer(build_layer: Builder) -> None:
    blob = build_layer([(STATUS, STATUS_BYTES), ("srv/data.bin", os.urandom(100_000))], compression="zstd")
    assert list(catalog_layer(blob, GZIP, "sha256:zst", LIMITS).packages) == [STATUS]  # sniffed, media type lies


def test_truncated_zstd_is_rejected(tmp_path: Path, zstd_compress: Callable[[bytes], bytes]) -> None:
    data = zstd_compress(tar_with_random_files(2))
    blob = tmp_path / "cut.zst"
    blob.write_bytes(data[: len(data) // 2])
    with pytest.raises(LayerRejected, match="sha256:zcut is not a valid tar archive: unexpected end of data"):
        catalog_layer(blob, ZSTD, "sha256:zcut", LIMITS)


def test_corrupt_zstd_is_rejected(tmp_path: Path, zstd_compress: Callable[[bytes], bytes]) -> None:
    data = bytearray(zstd_compress(tar_with_random_files(1)))
    data[8:40] = bytes(32)
    blob = tmp_path / "bad.zst"
    blob.write_bytes(bytes(data))
    with pytest.raises(LayerRejected, match="sha256:zbad is not a valid zstd stream"):
        catalog_layer(blob, ZSTD, "sha256:zbad", LIMITS)


def test_tar_cut_exactly_at_a_member_boundary_is_rejected(tmp_path: Path) -> None:
    data = tar_with_random_files(2)
    blob = tmp_path / "cut.tar"
    blob.write_bytes(data[: 512 + 4096])  # the first member whole, then nothing: no end-of-archive marker
    with pytest.raises(LayerRejected, match="truncated before the end-of-archive marker"):
        catalog_layer(blob, TAR, "sha256:edge", LIMITS)


def tar_with_random_files(count: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(count):
            info = tarfile.TarInfo(f"srv/data{i}.bin")
            info.size = 4096
            tar.addfile(info, io.BytesIO(os.urandom(info.size)))
    return out.getvalue()
