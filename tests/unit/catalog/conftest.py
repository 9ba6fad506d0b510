"""Layer blobs built by the tests themselves: tar members in order, then gzip, zstd or nothing."""

from __future__ import annotations

import gzip
import importlib
import io
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

Member = tuple[str, bytes | str] | tuple[str, bytes | str, int]
"""`(name, content)`: bytes make a file; "dir", "fifo", "chardev", "symlink:<target>", "hardlink:<target>".
An optional third item is the member's mode (0o755 for an executable); the default is 0o644."""
LayerBuilder = Callable[..., Path]


def tar_info(name: str, content: bytes | str, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes | None]:
    """The header (and data) for one `Member`."""
    info = tarfile.TarInfo(name)
    info.mtime = 1_700_000_000
    info.mode = mode
    if isinstance(content, bytes):
        info.size = len(content)
        return info, content
    kind, _, target = content.partition(":")
    info.type = {
        "dir": tarfile.DIRTYPE,
        "fifo": tarfile.FIFOTYPE,
        "chardev": tarfile.CHRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
    }[kind]
    info.linkname = target
    return info, None


def tar_bytes(members: Iterable[Member]) -> bytes:
    """An uncompressed PAX tar of `members`, in order (duplicates kept, as some layer tools write them)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info, data = tar_info(*member)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _zstd_compress(data: bytes) -> bytes:
    """zstd-compress with whichever binding is installed; fails when none is (zstandard is a dependency)."""
    for name in ("compression.zstd", "zstandard"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return bytes(module.compress(data))
    # zstandard is a pinned dependency: without it the install is broken, which must fail, not skip.
    pytest.fail("no zstd binding (zstandard, or Python 3.14's compression.zstd) is importable")


@pytest.fixture
def zstd_compress() -> Callable[[bytes], bytes]:
    """Compress bytes as one zstd frame."""
    return _zstd_compress


@pytest.fixture
def build_layer(tmp_path: Path) -> LayerBuilder:
    """Write `members` as a layer blob under tmp_path; `compression` is "gzip", "zstd" or "tar"."""
    counter = iter(range(1_000_000))

    def build(members: Iterable[Member], compression: str = "gzip") -> Path:
        raw = tar_bytes(members)
        blob = tmp_path / f"layer-{next(counter)}.{compression}"
        if compression == "gzip":
            blob.write_bytes(gzip.compress(raw, compresslevel=6, mtime=0))
        elif compression == "zstd":
            blob.write_bytes(_zstd_compress(raw))
        else:
            blob.write_bytes(raw)
        return blob

    return build
