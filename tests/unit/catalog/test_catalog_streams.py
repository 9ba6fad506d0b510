"""Layer streams: compression sniffing, and the fallbacks when optional decompressors are missing."""

from __future__ import annotations

import gzip
import io
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.adapters.catalog.streams import compression_of
from secapi.domain.inventory import LayerRejected

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
STATUS = "var/lib/dpkg/status"
STATUS_BYTES = b"Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n"
USTAR_HEAD = bytes(257) + b"ustar\x0000" + bytes(247)


@pytest.mark.parametrize(
    ("media_type", "head", "expected"),
    [
        (GZIP, b"\x1f\x8b\x08\x00", "gzip"),
        ("application/vnd.docker.image.rootfs.diff.tar.gzip", b"\x1f\x8b", "gzip"),
        ("application/vnd.oci.image.layer.v1.tar", b"\x1f\x8b\x08", "gzip"),  # the media type lies
        (GZIP, b"\x28\xb5\x2f\xfd\x00", "zstd"),
        (GZIP, USTAR_HEAD, "tar"),
        (ZSTD, b"garbage", "zstd"),  # no magic at all: believe the media type, which will then fail clearly
        ("application/octet-stream", b"garbage", "tar"),
    ],
)
def test_compression_is_sniffed_before_the_media_type_is_believed(media_type: str, head: bytes, expected: str) -> None:
    assert compression_of(media_type, head) == expected


@pytest.fixture
def without_isal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `isal` unimportable, so the standard library's gzip reads the layer."""
    monkeypatch.setitem(sys.modules, "isal.igzip", None)


@pytest.mark.usefixtures("without_isal")
def test_stdlib_gzip_fallback_reads_layers(build_layer: Callable[..., Path]) -> None:
    blob = build_layer([(STATUS, STATUS_BYTES)])
    assert [r.name for r in catalog_layer(blob, GZIP, "sha256:std", LayerLimits()).packages[STATUS]] == ["zlib1g"]


@pytest.mark.usefixtures("without_isal")
def test_stdlib_gzip_fallback_rejects_truncation_and_bombs(build_layer: Callable[..., Path], tmp_path: Path) -> None:
    blob = build_layer([("srv/a.bin", bytes(range(256)) * 4000), (STATUS, STATUS_BYTES)])
    blob.write_bytes(blob.read_bytes()[:-100])
    with pytest.raises(LayerRejected, match="is not a valid gzip stream"):
        catalog_layer(blob, GZIP, "sha256:cut", LayerLimits())

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 8 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(out.getvalue(), compresslevel=9))
    with pytest.raises(LayerRejected, match="decompression bomb"):
        catalog_layer(bomb, GZIP, "sha256:bomb", LayerLimits())


def test_zstd_without_any_binding_is_rejected_with_the_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "compression.zstd", None)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    blob = tmp_path / "layer.zst"
    blob.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(64))
    with pytest.raises(LayerRejected, match="sha256:z is zstd-compressed and this server cannot read zstd"):
        catalog_layer(blob, ZSTD, "sha256:z", LayerLimits())
