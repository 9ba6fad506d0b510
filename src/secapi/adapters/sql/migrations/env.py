"""Alembic environment: runs on a connection handed over by `secapi.adapters.sql.migrate`."""

from __future__ import annotations

from advanced_alchemy.base import orm_registry
from alembic import context
from sqlalchemy.engine import Connection

from secapi.adapters.sql import models  # noqa: F401  (registers the tables on the metadata)

target_metadata = orm_registry.metadata


def run_migrations(connection: Connection) -> None:
    """Apply migrations on `connection`; batch mode lets SQLite alter tables."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `secapi db upgrade`, which supplies the connection")
run_migrations(connection)
