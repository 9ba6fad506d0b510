"""Users' webhook endpoints in `notification_endpoints`, one row per user.

The secret is stored as given, not hashed: it is a shared HMAC key the server must read to sign every
event (a hash could verify a secret but never sign with it). Protect the database and its backups
accordingly; the API never shows the secret again after it is registered.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import NotificationEndpointModel
from secapi.domain.notifications import NotificationEndpoint, NotificationEndpoints

_ENDPOINTS: Table = NotificationEndpointModel.__table__  # type: ignore[assignment]


class SqlNotificationEndpoints(NotificationEndpoints):
    """`NotificationEndpoints` over the engine (no request session: workers and the 429 path use it too)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, user_id: UUID) -> NotificationEndpoint | None:
        """The user's endpoint, or None."""
        query = select(_ENDPOINTS.c.url, _ENDPOINTS.c.secret, _ENDPOINTS.c.created_at).where(
            _ENDPOINTS.c.user_id == user_id
        )
        async with translate_db_errors(), self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return NotificationEndpoint(user_id=user_id, url=row.url, secret=row.secret, created_at=row.created_at)

    async def put(self, endpoint: NotificationEndpoint) -> None:
        """Insert or replace the user's endpoint in one statement (no read-then-write race)."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        values = {"url": endpoint.url, "secret": endpoint.secret, "created_at": endpoint.created_at}
        statement = dialect.insert(_ENDPOINTS).values(user_id=endpoint.user_id, **values)
        statement = statement.on_conflict_do_update(index_elements=["user_id"], set_=values)
        async with translate_db_errors(), self._engine.begin() as connection:
            await connection.execute(statement)

    async def delete(self, user_id: UUID) -> bool:
        """Remove the user's endpoint; False if there was none."""
        async with translate_db_errors(), self._engine.begin() as connection:
            result = await connection.execute(delete(_ENDPOINTS).where(_ENDPOINTS.c.user_id == user_id))
        return bool(result.rowcount)
