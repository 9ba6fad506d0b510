"""Layer blobs as streams of tar bytes: compression sniffed and undone, with bomb and size guards."""

from __future__ import annotations

import gzip
import importlib
import io
import zlib
from typing import IO, TYPE_CHECKING, Any, Protocol

from secapi.domain.inventory import LayerLimits, LayerRejected

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

GiB, MiB = 1024**3, 1024**2
GZIP_MAGIC, ZSTD_MAGIC = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
_RATIO_GRACE = 1 * MiB
"""Uncompressed bytes allowed beyond the ratio: tiny layers (tar padding, empty files) compress far beyond 200:1."""
_ZSTD_MAX_WINDOW = 1 << 27
"""zstd's own default decoding limit (128 MiB), stated so a hostile frame header cannot ask for more."""
_CHUNK = 64 * 1024


class Readable(Protocol):
    """Anything with a binary `read`."""

    def read(self, size: int = -1, /) -> bytes: ...


class _CountingReader(io.RawIOBase):
    """Counts the compressed bytes handed to the decompressor, for the compression-ratio check."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        with memoryview(buffer) as view:
            data = self._raw.read(view.nbytes)
            view[: len(data)] = data
        self.count += len(data)
        return len(data)

    def readable(self) -> bool:
        return True


def compression_of(media_type: str, head: bytes) -> str:
    """`gzip`, `zstd` or `tar`: what the magic bytes say, falling back on the media type when they say nothing."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head[257:262] == b"ustar":
        return "tar"
    kind = media_type.strip().lower().split(";")[0]
    return "gzip" if kind.endswith("gzip") else "zstd" if kind.endswith("zstd") else "tar"


def _gzip_reader(source: Readable) -> tuple[Readable, tuple[type[BaseException], ...]]:
    # python-isal inflates about 2.5x faster than zlib, which is most of a layer's cataloging time; optional.
    module: Any
    errors: tuple[type[BaseException], ...]
    try:
        module = importlib.import_module("isal.igzip")
        errors = (importlib.import_module("isal.isal_zlib").error,)
    except ImportError:
        module, errors = gzip, ()
    # Corrupt or truncated data; a failing disk (plain OSError) is not the layer's fault.
    return module.GzipFile(fileobj=source, mode="rb"), (gzip.BadGzipFile, EOFError, zlib.error, *errors)


def _zstd_reader(source: Readable, digest: str) -> tuple[Readable, tuple[type[BaseException], ...]]:
    # Loaded lazily, as few layers are zstd: Python 3.14 ships compression.zstd; before it `zstandard` does.
    module: Any
    try:
        module = importlib.import_module("compression.zstd")
        return module.ZstdFile(source, "rb"), (module.ZstdError, EOFError)
    except ImportError:
        pass
    try:
        module = importlib.import_module("zstandard")
    except ImportError:
        raise LayerRejected(
            f"layer {digest} is zstd-compressed and this server cannot read zstd (install the zstandard package)",
            digest=digest,
        ) from None
    reader = module.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW).stream_reader(source, read_across_frames=True)
    return reader, (module.ZstdError,)


class GuardedStream(io.RawIOBase):
    """Decompressed tar bytes; rejects the layer on corrupt data, too many bytes, or a bomb's ratio."""

    def __init__(self, raw: IO[bytes], media_type: str, digest: str, limits: LayerLimits) -> None:
        super().__init__()
        head = raw.read(512)
        raw.seek(0)
        self.compression = compression_of(media_type, head)
        self._digest, self._limits = digest, limits
        self._compressed = _CountingReader(raw)
        self._source: Readable = self._compressed
        self._errors: tuple[type[BaseException], ...] = ()
        if self.compression == "gzip":
            self._source, self._errors = _gzip_reader(self._compressed)
        elif self.compression == "zstd":
            self._source, self._errors = _zstd_reader(self._compressed, digest)
        self.uncompressed = 0

    def read(self, size: int = -1, /) -> bytes:
        """Up to `size` decompressed bytes (a bounded chunk when `size` is negative)."""
        try:
            data = self._source.read(size if size >= 0 else _CHUNK)
        except self._errors as exc:
            raise self.rejected(f"is not a valid {self.compression} stream: {exc}") from exc
        self.uncompressed += len(data)
        limits = self._limits
        if self.uncompressed > limits.max_uncompressed_bytes:
            raise self.rejected(f"is larger than {limits.max_uncompressed_bytes} bytes uncompressed")
        if self.uncompressed > limits.max_compression_ratio * self._compressed.count + _RATIO_GRACE:
            raise self.rejected(
                f"expands more than {limits.max_compression_ratio}:1 "
                f"({self._compressed.count} compressed bytes gave {self.uncompressed}): a decompression bomb"
            )
        return data

    def readable(self) -> bool:
        return True

    def rejected(self, reason: str) -> LayerRejected:
        """The error that refuses this layer, naming it."""
        return LayerRejected(f"layer {self._digest} {reason}", digest=self._digest)
