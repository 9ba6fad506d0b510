"""Scratch bytes written, and time taken, before a gzip bomb uploaded as an image archive is refused.

Builds a tar whose one member is `--mib` MiB of zeros, gzipped (~1000:1), and has ArchiveImageSource
resolve it with scratch in a temporary directory; counts the bytes this process passed to write(2)
(`wchar` in /proc/self/io, Linux only) while it does.

Usage: uv run python benchmarks/archive_bomb.py [--mib 512 2048]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

from secapi.adapters.registry import ArchiveImageSource
from secapi.domain.images import DEFAULT_PLATFORM, ImageRejected, parse_image_reference

MiB = 1024 * 1024


def gzip_bomb(path: Path, size: int) -> Path:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    info = tarfile.TarInfo("layer.tar")
    info.size = size
    with path.open("wb") as out:
        out.write(compressor.compress(info.tobuf(format=tarfile.PAX_FORMAT)))
        for _ in range(size // MiB):
            out.write(compressor.compress(bytes(MiB)))
        out.write(compressor.compress(bytes(1024)) + compressor.flush())
    return path


def written_by_process() -> int:
    with open("/proc/self/io") as stats:
        return next(int(line.split()[1]) for line in stats if line.startswith("wchar:"))


async def measure(mib: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        bomb = gzip_bomb(Path(tmp) / "bomb.tar.gz", mib * MiB)
        before, started = written_by_process(), time.perf_counter()
        reason = "accepted"
        try:
            async with ArchiveImageSource(bomb, scratch_dir=Path(tmp)) as source:
                await source.resolve(parse_image_reference("bomb/bomb:1"), DEFAULT_PLATFORM)
        except ImageRejected as exc:
            reason = str(exc)
        written = (written_by_process() - before) / MiB
        seconds = time.perf_counter() - started
        return f"| {bomb.stat().st_size} | {mib} | {written:.1f} | {seconds:.2f} | {reason} |"


async def main(sizes: list[int]) -> None:
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    print("| upload bytes | expands to MiB | scratch written MiB | seconds | outcome |")
    print("|---|---|---|---|---|")
    for mib in sizes:
        print(await measure(mib))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, nargs="+", default=[512, 2048])
    asyncio.run(main(parser.parse_args().mib))
