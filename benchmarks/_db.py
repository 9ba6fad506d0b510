"""A throwaway PostgreSQL database per benchmark run."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from secapi.adapters.sql.migrate import upgrade

SERVER = os.environ.get("SECAPI_BENCH_DATABASE_SERVER", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


@asynccontextmanager
async def fresh_database(prefix: str) -> AsyncIterator[str]:
    """Create, migrate, yield the URL of, and finally drop a new database."""
    name = f"{prefix}_{int(time.time())}_{os.getpid()}"
    admin = create_async_engine(SERVER, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url)
    try:
        await upgrade(engine)
        await engine.dispose()
        yield url
    finally:
        await engine.dispose()
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
