"""A `tarfile` stream reader tuned for headers-only walks: most members are never opened.

`tarfile.TarInfo.frombuf` decodes every header field of every member, which dominates the cost
of walking a layer full of small files. `LeanTarInfo` decodes only what a catalog walk and tarfile's own
member processing use (name, mode, size, type, link name, ustar prefix), checks the header checksum like
tarfile does, and defers to the full parser for the rare GNU sparse members. Unlike tarfile it treats a
bad header or a missing end-of-archive marker after the first member as an error, not as the end.
"""

from __future__ import annotations

import io
import tarfile
from typing import Self

_ZERO_BLOCK = bytes(tarfile.BLOCKSIZE)


def _text(field: bytes | bytearray, encoding: str, errors: str) -> str:
    end = field.find(0)
    return (field if end < 0 else field[:end]).decode(encoding, errors)


def _number(field: bytes | bytearray) -> int:
    if field[0] in (0o200, 0o377):  # GNU base-256 for values octal cannot hold
        value = int.from_bytes(field[1:], "big")
        return value - 256 ** (len(field) - 1) if field[0] == 0o377 else value
    end = field.find(0)
    digits = (field if end < 0 else field[:end]).strip()
    try:
        return int(digits or b"0", 8)
    except ValueError:
        raise tarfile.ReadError(f"invalid number field {bytes(field)!r} in a header") from None


def _checksum_matches(buf: bytes | bytearray, stored: int) -> bool:
    unsigned = 256 + sum(buf) - sum(buf[148:156])  # the checksum field itself counts as eight spaces
    if stored == unsigned:
        return True
    # Some old tars (Sun, NeXT) summed signed chars; tarfile accepts both, so do we.
    high = sum(1 for byte in buf[:148] + buf[156:] if byte > 127)
    return stored == unsigned - 256 * high


class LeanTarInfo(tarfile.TarInfo):
    """A TarInfo whose header parsing skips the ownership, time and device fields nobody reads here."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
        """Parse one 512-byte header; a corrupt one is a ReadError, even where tarfile would stop quietly."""
        if len(buf) != tarfile.BLOCKSIZE:
            # tarfile takes a stream that stops at a member boundary for a complete archive; every layer
            # writer ends with the end-of-archive blocks, and zstd readers report truncation as a quiet EOF.
            raise tarfile.ReadError("unexpected end of data (truncated before the end-of-archive marker)")
        if buf == _ZERO_BLOCK or buf[156:157] == tarfile.GNUTYPE_SPARSE:
            return super().frombuf(buf, encoding, errors)
        chksum = _number(buf[148:156])
        if not _checksum_matches(buf, chksum):
            # tarfile ends the archive quietly at a bad header after the first; Docker and containerd refuse
            # the layer, and so do we, rather than catalog half of it.
            raise tarfile.ReadError("bad checksum in a member header")
        obj = cls()
        obj.name = _text(buf[0:100], encoding, errors)
        obj.mode = _number(buf[100:108])  # the executable bits pick which files may be Go or Rust binaries
        obj.size = _number(buf[124:136])
        obj.chksum = chksum
        obj.type = bytes(buf[156:157])
        obj.linkname = _text(buf[157:257], encoding, errors)
        prefix = _text(buf[345:500], encoding, errors)
        if obj.type == tarfile.AREGTYPE and obj.name.endswith("/"):  # v7 tar marks directories this way
            obj.type = tarfile.DIRTYPE
        if obj.type == tarfile.DIRTYPE:
            obj.name = obj.name.rstrip("/")
        if prefix and obj.type not in tarfile.GNU_TYPES:
            obj.name = prefix + "/" + obj.name
        return obj


def open_tar_stream(fileobj: io.RawIOBase) -> tarfile.TarFile:
    """A forward-only TarFile over decompressed tar bytes (mode `r|`), with lean header parsing."""
    return tarfile.open(fileobj=fileobj, mode="r|", tarinfo=LeanTarInfo)


_LINKS_NOT_FOLLOWED = "links are not followed, since what a link names is only resolved in a running container"
_DEVICES = {tarfile.CHRTYPE: "a character device", tarfile.BLKTYPE: "a block device", tarfile.FIFOTYPE: "a named pipe"}


def describe_member(member: tarfile.TarInfo) -> str:
    """What a tar member that is not a regular file is, and why it is not read, as a sentence's object.

    E.g. "a named pipe, not a regular file: it holds no file contents to read, and it is never opened".
    """
    if member.issym():
        return f"a symbolic link to {member.linkname}; {_LINKS_NOT_FOLLOWED}"
    if member.islnk():
        return f"a hard link to {member.linkname}, a file this layer did not read; {_LINKS_NOT_FOLLOWED}"
    what = _DEVICES.get(member.type, f"a special file (tar type {member.type.decode('latin-1')!r})")
    return f"{what}, not a regular file: it holds no file contents to read, and it is never opened"
