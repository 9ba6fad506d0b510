"""Translating database driver failures into domain errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from secapi.domain.errors import Conflict, DependencyUnavailable


@asynccontextmanager
async def translate_db_errors(conflict_message: str | None = None) -> AsyncIterator[None]:
    """Raise `DependencyUnavailable` for connection trouble and `Conflict` for unique violations."""
    try:
        yield
    except IntegrityError as exc:
        if conflict_message is None:
            raise
        raise Conflict(conflict_message) from exc
    except (OperationalError, PoolTimeout, OSError, TimeoutError) as exc:
        raise DependencyUnavailable(f"the database is unavailable: {type(exc).__name__}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DependencyUnavailable("the database connection was lost") from exc
        raise
    except SQLAlchemyError:
        raise
