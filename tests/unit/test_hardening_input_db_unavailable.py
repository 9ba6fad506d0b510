"""A database that is there but cannot serve right now is a 503 (DependencyUnavailable), never a 500.

The failures are simulated at the adapter: asyncpg's own exception types, raised where asyncpg raises
them (while connecting, unwrapped by SQLAlchemy) and as SQLAlchemy wraps them during a statement.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from secapi.adapters.sql.engine import create_session_factory
from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.repositories import SqlUserRepository
from secapi.domain.errors import DependencyUnavailable

UNAVAILABLE: list[Callable[[], Exception]] = [
    lambda: asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    lambda: asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    lambda: asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    lambda: asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another server process"),
    lambda: asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    lambda: asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
]
IDS = ["starting-up", "too-many-connections", "admin-shutdown", "crash-shutdown", "connection-gone", "timeout"]

_URL = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


def _wrapped(driver_error: Exception) -> DBAPIError:
    """The error as SQLAlchemy's asyncpg dialect raises it from a statement: adapted, then wrapped."""
    dbapi = create_async_engine(_URL).dialect.dbapi
    assert dbapi is not None
    adapted = dbapi.Error(f"{type(driver_error)}: {driver_error}")
    adapted.sqlstate = adapted.pgcode = driver_error.sqlstate  # type: ignore[attr-defined]
    adapted.__cause__ = driver_error
    wrapped = DBAPIError.instance("SELECT 1", None, adapted, dbapi.Error)
    assert isinstance(wrapped, DBAPIError)
    return wrapped


@pytest.mark.parametrize("make", UNAVAILABLE, ids=IDS)
async def test_a_driver_error_while_connecting_is_unavailable(make: Callable[[], Exception]) -> None:
    with pytest.raises(DependencyUnavailable) as raised:
        async with translate_db_errors():
            raise make()
    assert type(make()).__name__ in str(raised.value)


@pytest.mark.parametrize("make", UNAVAILABLE, ids=IDS)
async def test_a_driver_error_during_a_statement_is_unavailable(make: Callable[[], Exception]) -> None:
    error = _wrapped(make())
    with pytest.raises(DependencyUnavailable):
        async with translate_db_errors():
            raise error


async def test_a_repository_on_a_database_starting_up_raises_unavailable() -> None:
    async def starting_up() -> asyncpg.Connection:
        raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")

    engine = create_async_engine(_URL, async_creator=starting_up)
    try:
        with pytest.raises(DependencyUnavailable, match="starting up"):
            await SqlUserRepository(create_session_factory(engine)).get_by_email("a@example.com")
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UndefinedTableError('relation "users" does not exist'),
        asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding"),
    ],
)
async def test_a_bug_or_bad_data_is_not_disguised_as_unavailability(error: Exception) -> None:
    with pytest.raises(type(error)):
        async with translate_db_errors():
            raise error
    with pytest.raises(DBAPIError):
        async with translate_db_errors():
            raise _wrapped(error)
