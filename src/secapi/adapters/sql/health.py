"""Readiness probe for the database."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.ports import HealthProbe


class SqlHealthProbe(HealthProbe):
    """Runs `SELECT 1` with a timeout."""

    name = "database"

    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        self._engine = engine
        self._timeout = timeout

    async def check(self) -> None:
        """Raise `DependencyUnavailable` unless the database answers within the timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                async with self._engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except TimeoutError as exc:
            raise DependencyUnavailable(f"the database did not answer within {self._timeout:g} s") from exc
        except Exception as exc:
            raise DependencyUnavailable(f"the database is unreachable: {type(exc).__name__}: {exc}") from exc
