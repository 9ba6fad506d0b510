"""Bounded memory: a layer's size or entry count must not show up in the reader's peak memory."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.domain.inventory import LayerInventory

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MiB = 1024 * 1024
STATUS = b"Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1\n"


def _write_layer(path: Path, members: Iterator[tuple[tarfile.TarInfo, io.RawIOBase | io.BytesIO]]) -> None:
    """Stream members into a gzip layer on disk; level 1 keeps generation fast."""
    with (
        path.open("wb") as out,
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w|") as tar,
    ):
        for info, data in members:
            tar.addfile(info, data)


def _peak_while(run: Callable[[], LayerInventory]) -> tuple[LayerInventory, int]:
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_200_mb_of_irrelevant_content_is_read_in_bounded_memory(tmp_path: Path) -> None:
    # 1 MiB of text repeating every 8 KiB: deflate squeezes it ~45:1, fast to write yet short of a bomb's 200:1.
    block = os.urandom(4096).hex().encode() * (MiB // 8192)

    def members() -> Iterator[tuple[tarfile.TarInfo, io.RawIOBase | io.BytesIO]]:
        for i in range(200):
            info = tarfile.TarInfo(f"opt/app/blob{i:03}.bin")
            info.size = len(block)
            yield info, io.BytesIO(block)
            if i == 150:  # something worth keeping, deep in the stream
                info = tarfile.TarInfo("var/lib/dpkg/status")
                info.size = len(STATUS)
                yield info, io.BytesIO(STATUS)

    blob = tmp_path / "big.tar.gz"
    _write_layer(blob, members())
    layer, peak = _peak_while(lambda: catalog_layer(blob, GZIP, "sha256:big", LayerLimits()))
    assert [r.name for r in layer.packages["var/lib/dpkg/status"]] == ["openssl"]
    assert peak < 20 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"


def test_many_entries_do_not_accumulate_tar_headers(tmp_path: Path) -> None:
    empty = b""

    def members() -> Iterator[tuple[tarfile.TarInfo, io.RawIOBase | io.BytesIO]]:
        for i in range(20_000):
            yield tarfile.TarInfo(f"usr/share/doc/pkg{i // 100}/file-with-a-longish-name-{i}.txt"), io.BytesIO(empty)

    blob = tmp_path / "many.tar.gz"
    _write_layer(blob, members())
    layer, peak = _peak_while(lambda: catalog_layer(blob, GZIP, "sha256:many", LayerLimits()))
    assert layer.packages == {}
    # 20,000 TarInfo objects kept by tarfile's stream mode would take about 10 MiB.
    assert peak < 4 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"
