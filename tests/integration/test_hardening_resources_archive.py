"""A gzip bomb uploaded over HTTP is a failed scan with a reason, after little scratch is written."""

from __future__ import annotations

import os
import tarfile
import zlib
from pathlib import Path

import pytest

from secapi.config import Settings
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample

from support.http import serve
from support.seed import bearer, container_of, create_user

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux /proc/self/io"),
]
MiB = 1024 * 1024


def _gzip_bomb(path: Path, uncompressed: int = 512 * MiB) -> Path:
    """A tar whose one member is `uncompressed` zero bytes, gzipped (~1000:1) as it is streamed."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    header = tarfile.TarInfo("layer.tar")
    header.size = uncompressed
    zeros = bytes(MiB)
    with path.open("wb") as out:
        out.write(compressor.compress(header.tobuf(format=tarfile.PAX_FORMAT)))
        for _ in range(uncompressed // MiB):
            out.write(compressor.compress(zeros))
        out.write(compressor.compress(bytes(1024)) + compressor.flush())
    return path


def _written_by_process() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError("no wchar in /proc/self/io")


async def test_an_uploaded_gzip_bomb_is_a_failed_scan_naming_the_bomb(settings: Settings, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    bomb = _gzip_bomb(tmp_path / "bomb.tar.gz").read_bytes()
    app = create_app(Settings.from_env({}, **{**settings.__dict__, "scan_tmp_dir": str(scratch)}))
    async with serve(app) as client:
        await import_sample(container_of(app))
        _, key = await create_user(app, "bomb@example.com")
        before = _written_by_process()
        response = await client.post(
            "/api/v1/scan/docker/archive",
            content=bomb,
            headers={**bearer(key), "Content-Type": "application/gzip"},
        )
        written = _written_by_process() - before
        assert response.status_code == 422, response.text
        assert response.json()["type"].endswith("/scan-failed")
        scan = (await client.get(response.headers["location"], headers=bearer(key))).json()
    assert scan["status"] == "failed"
    assert "decompression bomb" in scan["error"]
    # The upload (~0.5 MiB) plus the first chunks decompressed; the old code wrote all 512 MiB.
    assert written < 64 * MiB, written
    assert list(scratch.iterdir()) == []
