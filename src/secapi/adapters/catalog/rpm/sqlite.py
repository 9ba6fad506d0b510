"""Header blobs of an rpm SQLite database (`rpmdb.sqlite`, rpm >= 4.16: Fedora, RHEL 9, Rocky, Alma, Mariner).

The file comes from a forward-only tar stream, so it is held in memory and handed to SQLite with
`deserialize`: nothing touches the disk. The connection is made safe for a hostile file first: no
extensions, schema-defined functions untrusted, read-only, extra corruption checks, and `Packages` must
be a stored table (a view could be an endless recursive query); a step budget stops any query that runs
far longer than reading a real database does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

_WAL_VERSIONS = slice(18, 20)
"""The header's read/write format bytes: 2 means WAL, which an in-memory database cannot open."""
_STEP_CHECK = 10_000
_MAX_STEPS = 20_000_000
"""SQLite VM steps allowed for one database: reading 20,000 packages took 80,000 (measured), so 50,000 (the
package cap) take ~200,000; a hostile file is stopped within seconds."""


def _load(connection: sqlite3.Connection, data: bytes) -> None:
    """Hand SQLite its own copy of the file (the patched copy, if any, is freed on return)."""
    connection.execute("PRAGMA trusted_schema = OFF")
    connection.execute("PRAGMA cell_size_check = ON")
    if data[_WAL_VERSIONS] == b"\x02\x02":
        # rpm writes in WAL mode, which an in-memory database cannot open; read it in rollback mode, as
        # rpm checkpoints its WAL on close and the main file is complete.
        data = data[:18] + b"\x01\x01" + data[20:]
    connection.deserialize(data)
    connection.execute("PRAGMA query_only = ON")


def sqlite_blobs(data: bytes, max_blobs: int) -> Iterator[bytes]:
    """Every `Packages.blob`, in install order; ValueError for a file SQLite cannot read as an rpm database."""
    if not data.startswith(b"SQLite format 3\0"):
        raise ValueError("an rpm SQLite database without the SQLite header")
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        _load(connection, data)
        steps = iter(range(_MAX_STEPS // _STEP_CHECK))
        connection.set_progress_handler(lambda: next(steps, None) is None, _STEP_CHECK)
        kind = connection.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
        if kind != ("table",):
            raise ValueError("an rpm SQLite database without a Packages table")
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
