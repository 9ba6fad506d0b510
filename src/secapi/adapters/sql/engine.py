"""Engine and session factory for PostgreSQL (asyncpg) or the embedded SQLite file."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from secapi.adapters.sql.errors import redact_driver_values
from secapi.config import Settings
from secapi.domain.text import without_nul


def json_text(value: Any) -> str:
    """JSON text of a column value: builtins, or a msgspec struct such as a scan's `ScanResult`."""
    encoded = msgspec.json.encode(value)
    if b"\\u0000" in encoded:  # rare: PostgreSQL's JSON types refuse NUL, which user or image text may hold
        encoded = msgspec.json.encode(_without_nul(msgspec.to_builtins(value)))
    return encoded.decode()


def _without_nul(value: Any) -> Any:
    """`value` with NUL characters in its strings (keys too) replaced by U+FFFD, as in reported text."""
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


_JSON_CODEC: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": msgspec.json.decode}
"""JSON columns through msgspec: the stdlib encoder was 4 % of a cache hit's CPU (its scan row's input)."""
_QUIET: dict[str, Any] = {"hide_parameters": True}
"""No error message carries a statement's parameters (keys' prefixes and hashes, scan inputs and results)."""


def create_engine(settings: Settings) -> AsyncEngine:
    """An async engine tuned for the configured database."""
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            settings.database_url, connect_args={"timeout": settings.db_pool_timeout}, **_JSON_CODEC, **_QUIET
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        **_JSON_CODEC,
        **_QUIET,
        connect_args={
            "timeout": settings.db_pool_timeout,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "secapi",
            },
        },
    )
    event.listen(engine.sync_engine, "handle_error", redact_driver_values)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (entities are converted right away)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers proceed during a write; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
