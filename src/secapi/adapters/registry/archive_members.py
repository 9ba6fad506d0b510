"""Safe random access to the members of an uploaded image tarball: indexed once, read by offset, never extracted."""

from __future__ import annotations

import gzip
import hashlib
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from secapi.adapters.catalog.tarstream import describe_member
from secapi.adapters.registry.scratch import check_expansion
from secapi.domain.images import ImageRejected

_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


def normalise_member_name(name: str) -> str:
    """`./blobs/sha256/x` → `blobs/sha256/x`; absolute paths and `..` components are refused."""
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise ImageRejected(f"archive member {name[:200]!r} has an absolute or unsafe path")
    parts = [part for part in PurePosixPath(name).parts if part != "."]
    if ".." in parts:
        raise ImageRejected(f"archive member {name[:200]!r} climbs out of the archive with '..'")
    return "/".join(parts)


def plain_tar(archive: Path, scratch_dir: Path | None, max_bytes: int, charge: Callable[[int], None]) -> Path | None:
    """A decompressed copy of a gzipped archive in `scratch_dir` (the caller deletes it), or None if not gzipped.

    Decompressing once to a file keeps member reads random-access; tarfile on a gzip stream would
    re-decompress from the start for every backward seek. Each chunk is checked against the expansion
    ratio and `charge`d to the scratch budget before it is written, so a bomb fails within a few chunks.
    """
    with archive.open("rb") as handle:
        if handle.read(2) != _GZIP_MAGIC:
            return None
    fd, name = tempfile.mkstemp(prefix="secapi-image-", suffix=".tar", dir=scratch_dir)
    target = Path(name)
    try:
        with archive.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as source, open(fd, "wb") as sink:
            written = 0
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise ImageRejected(f"the archive decompresses to more than {max_bytes} bytes")
                check_expansion(written, raw.tell())
                charge(len(chunk))
                sink.write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        target.unlink(missing_ok=True)
        raise ImageRejected(f"the archive is not valid gzip: {exc}") from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


class ArchiveMembers:
    """The members of a plain tar file by normalised name, with their data offsets."""

    def __init__(self, path: Path, members: dict[str, tarfile.TarInfo]) -> None:
        self._path = path
        self._members = members

    @classmethod
    def index(cls, path: Path, max_members: int) -> ArchiveMembers:
        """Read every header once; refuse too many members, unsafe names and duplicates."""
        members: dict[str, tarfile.TarInfo] = {}
        try:
            with tarfile.open(path, mode="r:") as archive:
                count = 0
                while (info := archive.next()) is not None:
                    count += 1
                    if count > max_members:
                        raise ImageRejected(f"the archive has more than {max_members} members")
                    name = normalise_member_name(info.name)
                    if info.isdir() or not name:
                        continue
                    if name in members:
                        raise ImageRejected(f"archive member {name!r} appears twice")
                    members[name] = info
        except (tarfile.TarError, EOFError) as exc:
            raise ImageRejected(f"the upload is not a readable tar archive: {exc}") from None
        return cls(path, members)

    def has(self, name: str) -> bool:
        """True if a member (of any type) has this normalised name."""
        return name in self._members

    def names(self) -> list[str]:
        """Every non-directory member name."""
        return list(self._members)

    def regular(self, name: str) -> tarfile.TarInfo:
        """The member, which must be a plain regular file: links are refused, not followed."""
        info = self._members.get(name)
        if info is None:
            raise ImageRejected(f"the archive has no member {name!r}")
        if info.issym() or info.islnk():
            raise ImageRejected(f"archive member {name!r} is a link; links are not followed")
        if info.issparse():
            raise ImageRejected(f"archive member {name!r} is a sparse file; an image archive holds only regular files")
        if not info.isreg():
            raise ImageRejected(f"archive member {name!r} is {describe_member(info)}")
        return info

    def read(self, name: str, limit: int) -> bytes:
        """The whole member, which must be at most `limit` bytes."""
        info = self.regular(name)
        if info.size > limit:
            raise ImageRejected(f"archive member {name!r} is {info.size} bytes; the limit is {limit}")
        with self._path.open("rb") as handle:
            handle.seek(info.offset_data)
            data = handle.read(info.size)
        if len(data) != info.size:
            raise ImageRejected(f"archive member {name!r} is truncated")
        return data

    def head(self, name: str, count: int) -> bytes:
        """The member's first `count` bytes (fewer if it is shorter)."""
        info = self.regular(name)
        with self._path.open("rb") as handle:
            handle.seek(info.offset_data)
            return handle.read(min(count, info.size))

    def sha256(self, name: str) -> str:
        """`sha256:<hex>` of the member's content."""
        hasher = hashlib.sha256()
        for chunk in self._chunks(self.regular(name)):
            hasher.update(chunk)
        return "sha256:" + hasher.hexdigest()

    def copy_verified(self, name: str, target: Path, limit: int, digest: str, charge: Callable[[int], None]) -> None:
        """Copy the member to `target`, hashing as it goes; on a digest mismatch or an error no file remains.

        Each chunk is `charge`d to the scratch budget before it is written.
        """
        info = self.regular(name)
        if info.size > limit:
            raise ImageRejected(f"archive member {name!r} is {info.size} bytes; the limit is {limit}")
        hasher = hashlib.sha256()
        try:
            with target.open("wb") as sink:
                for chunk in self._chunks(info):
                    hasher.update(chunk)
                    charge(len(chunk))
                    sink.write(chunk)
            actual = "sha256:" + hasher.hexdigest()
            if actual != digest:
                raise ImageRejected(
                    f"archive member {name!r} does not match its digest: expected {digest}, got {actual}"
                )
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    def _chunks(self, info: tarfile.TarInfo) -> Iterator[bytes]:
        with self._path.open("rb") as handle:
            handle.seek(info.offset_data)
            remaining = info.size
            while remaining > 0:
                chunk = handle.read(min(_CHUNK, remaining))
                if not chunk:
                    raise ImageRejected(f"archive member {info.name!r} is truncated")
                remaining -= len(chunk)
                yield chunk
