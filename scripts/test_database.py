"""Drop a per-run test database (scripts/test.sh calls it at exit): `python scripts/test_database.py drop URL`."""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


async def drop(url: str) -> None:
    """Drop the database `url` names, disconnecting whoever is still in it (PostgreSQL 13+)."""
    parsed = make_url(url)
    name = parsed.database or ""
    if not name.startswith("secapi_test_"):
        raise SystemExit(f"refusing to drop {name!r}: only per-run secapi_test_* databases are dropped")
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "drop":
        raise SystemExit(__doc__)
    asyncio.run(drop(sys.argv[2]))
