"""vulndb sync state

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 22:45:00.000000

`secapi vulndb sync` remembers, per URL (or file) of the source, the cache validators it last got
(ETag, Last-Modified), for an ecosystem's files the newest `modified` it imported, and the content of
`ecosystems.txt` (so a 304 answers it too).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vulndb_sync_state",
        sa.Column("resource", sa.String(length=1000), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("high_water", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_success", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("resource", name=op.f("pk_vulndb_sync_state")),
    )


def downgrade() -> None:
    op.drop_table("vulndb_sync_state")
