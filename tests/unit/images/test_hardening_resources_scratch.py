"""Uploaded archives cannot fill the scratch disk: a gzip bomb, a scan's budget and the process's budget."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_archive_source import docker_save_members

from secapi.adapters.registry import ArchiveImageSource
from secapi.adapters.registry.scratch import ScratchBudget
from secapi.domain.images import DEFAULT_PLATFORM, ImageRejected, parse_image_reference

REF = parse_image_reference("example/app:1.0")
MiB = 1024 * 1024
BOMB_BYTES = 512 * MiB


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.PAX_FORMAT)


def gzip_bomb(path: Path, uncompressed: int = BOMB_BYTES) -> Path:
    """A tar whose one member is `uncompressed` zero bytes, gzipped (~1000:1), streamed so memory stays small."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    zeros = bytes(MiB)
    with path.open("wb") as out:
        out.write(compressor.compress(_tar_header("layer.tar", uncompressed)))
        for _ in range(uncompressed // MiB):
            out.write(compressor.compress(zeros))
        out.write(compressor.compress(bytes(1024)))  # end-of-archive blocks
        out.write(compressor.flush())
    return path


def _written_by_process() -> int:
    """Bytes this process has passed to write(2) so far (`wchar`), whatever the file system."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError("no wchar in /proc/self/io")


@contextmanager
def measured_writes() -> Iterator[list[int]]:
    written: list[int] = []
    before = _written_by_process()
    yield written
    written.append(_written_by_process() - before)


pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux /proc/self/io")


def _gzipped_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    path.write_bytes(gzip.compress(raw.getvalue(), compresslevel=1))
    return path


async def test_a_gzip_bomb_fails_as_a_bomb_before_much_scratch_is_written(tmp_path: Path) -> None:
    bomb = gzip_bomb(tmp_path / "bomb.tar.gz")
    assert bomb.stat().st_size < 2 * MiB
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with measured_writes() as written, pytest.raises(ImageRejected, match="decompression bomb"):
        async with ArchiveImageSource(bomb, scratch_dir=scratch) as source:
            await source.resolve(REF, DEFAULT_PLATFORM)
    # The old code decompressed all 512 MiB to scratch before looking at the tar; 200:1 of the
    # compressed bytes read (plus read-ahead and a 1 MiB grace) is a few tens of MiB at most.
    assert written[0] < 64 * MiB, written
    assert list(scratch.iterdir()) == []


async def test_an_archive_larger_than_the_scan_budget_fails_with_the_setting_named(tmp_path: Path) -> None:
    # Random bytes do not compress: no ratio guard helps, only the scan's budget.
    archive = _gzipped_tar(tmp_path / "big.tar.gz", [("blob", os.urandom(12 * MiB))])
    budget = ScratchBudget(max_bytes=1024 * MiB)
    with measured_writes() as written, pytest.raises(ImageRejected, match="SECAPI_SCAN_SCRATCH_MAX_BYTES"):
        async with ArchiveImageSource(archive, scratch_dir=tmp_path, scratch=budget.for_scan(4 * MiB)) as source:
            await source.resolve(REF, DEFAULT_PLATFORM)
    assert written[0] < 6 * MiB, written
    assert budget.in_use == 0


async def test_layer_copies_count_against_the_scan_budget(tmp_path: Path) -> None:
    layer = _layer_of_random_bytes(3 * MiB)
    members = [m for m in docker_save_members(["example/app:1.0"], layer) if isinstance(m, tuple)]
    archive = _gzipped_tar(tmp_path / "save.tar.gz", members)
    budget = ScratchBudget(max_bytes=1024 * MiB)
    layers_dir = tmp_path / "layers"
    layers_dir.mkdir()
    # The decompressed copy (~3 MiB) fits in 5 MiB; copying the layer out as well does not.
    async with ArchiveImageSource(archive, scratch_dir=tmp_path, scratch=budget.for_scan(5 * MiB)) as source:
        resolved = await source.resolve(REF, DEFAULT_PLATFORM)
        with pytest.raises(ImageRejected, match="SECAPI_SCAN_SCRATCH_MAX_BYTES"):
            await source.download_layer(resolved, resolved.layers[0], layers_dir)
        assert list(layers_dir.iterdir()) == []
    assert budget.in_use == 0


async def test_concurrent_scans_share_the_process_budget_and_give_it_back(tmp_path: Path) -> None:
    archive = _gzipped_tar(tmp_path / "a.tar.gz", [("blob", os.urandom(3 * MiB))])
    budget = ScratchBudget(max_bytes=5 * MiB)
    first = ArchiveImageSource(archive, scratch_dir=tmp_path, scratch=budget.for_scan(4 * MiB))
    with pytest.raises(ImageRejected):  # not an image, but its decompressed copy now holds ~3 MiB
        await first.resolve(REF, DEFAULT_PLATFORM)
    assert budget.in_use > 3 * MiB
    with pytest.raises(ImageRejected, match="SECAPI_PROCESS_SCRATCH_MAX_BYTES"):
        async with ArchiveImageSource(archive, scratch_dir=tmp_path, scratch=budget.for_scan(4 * MiB)) as second:
            await second.resolve(REF, DEFAULT_PLATFORM)
    await first.aclose()
    assert budget.in_use == 0
    with pytest.raises(ImageRejected, match="neither an OCI image layout"):  # the budget is free again
        async with ArchiveImageSource(archive, scratch_dir=tmp_path, scratch=budget.for_scan(4 * MiB)) as third:
            await third.resolve(REF, DEFAULT_PLATFORM)


def _layer_of_random_bytes(size: int) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("opt/blob")
        info.size = size
        archive.addfile(info, io.BytesIO(os.urandom(size)))
    return raw.getvalue()
