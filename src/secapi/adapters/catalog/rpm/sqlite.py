"""Header blobs of an rpm SQLite database (`rpmdb.sqlite`, rpm >= 4.16: Fedora, RHEL 9, Rocky, Alma, Mariner).

The file comes from a forward-only tar stream, so it is held in memory and handed to SQLite with
`deserialize`: nothing touches the disk. The connection is made safe for a hostile file first: no
extensions, schema-defined functions and views untrusted, read-only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

_WAL_VERSIONS = slice(18, 20)
"""The header's read/write format bytes: 2 means WAL, which an in-memory database cannot open."""


def sqlite_blobs(data: bytes, max_blobs: int) -> Iterator[bytes]:
    """Every `Packages.blob`, in install order; ValueError for a file SQLite cannot read as an rpm database."""
    if not data.startswith(b"SQLite format 3\0"):
        raise ValueError("an rpm SQLite database without the SQLite header")
    if data[_WAL_VERSIONS] == b"\x02\x02":
        # A copy in legacy rollback mode: rpm checkpoints its WAL on close, so the main file is complete.
        data = data[:18] + b"\x01\x01" + data[20:]
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        connection.execute("PRAGMA trusted_schema = OFF")
        connection.deserialize(data)
        connection.execute("PRAGMA query_only = ON")
        rows = connection.execute("SELECT blob FROM Packages ORDER BY hnum LIMIT ?", (max_blobs + 1,))
        for n, (blob,) in enumerate(rows):
            if n >= max_blobs:
                raise ValueError(f"an rpm database with more than {max_blobs} packages")
            if not isinstance(blob, bytes):
                raise ValueError("an rpm SQLite database whose Packages.blob is not a blob")
            yield blob
    except sqlite3.Error as exc:
        raise ValueError(f"an rpm SQLite database SQLite cannot read: {exc}") from exc
    finally:
        connection.close()
