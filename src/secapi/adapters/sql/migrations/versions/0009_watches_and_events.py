"""watched targets, their lookup keys and their events

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 23:00:00.000000

`watches` holds what a tenant watches; `watch_keys` one row per (watch, lookup key) with the packages
filed under the key and the findings last matched through it, indexed by (ecosystem, name) so the
re-matcher finds what a database update touched with one indexed query; `watch_events` the findings
gained or lost, and for `new_findings` the webhook delivery state (a durable outbox).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "watches",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("user_id", GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=600), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=True),
        sa.Column("scan_id", GUID(length=16), nullable=True),
        sa.Column("image_digest", sa.String(length=100), nullable=True),
        sa.Column("packages", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("vulndb_version", sa.Integer(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("matched_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_watches_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watches")),
    )
    op.create_index("idx_watches_user_created", "watches", ["user_id", "created_at", "id"], unique=False)
    op.create_index("idx_watches_status_kind", "watches", ["status", "kind"], unique=False)
    op.create_table(
        "watch_keys",
        sa.Column("watch_id", GUID(length=16), nullable=False),
        sa.Column("ecosystem", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["watch_id"], ["watches.id"], name=op.f("fk_watch_keys_watch_id_watches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("watch_id", "ecosystem", "name", name=op.f("pk_watch_keys")),
    )
    op.create_index("idx_watch_keys_ecosystem_name", "watch_keys", ["ecosystem", "name"], unique=False)
    op.create_table(
        "watch_events",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("watch_id", GUID(length=16), nullable=False),
        sa.Column("user_id", GUID(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("target", sa.String(length=600), nullable=False),
        sa.Column("advisories", _json(), nullable=False),
        sa.Column("findings", _json(), nullable=False),
        sa.Column("vulndb_version", sa.Integer(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("delivered_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("given_up", sa.Text(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["watch_id"], ["watches.id"], name=op.f("fk_watch_events_watch_id_watches"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_watch_events_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_events")),
    )
    op.create_index("idx_watch_events_watch_created", "watch_events", ["watch_id", "created_at", "id"], unique=False)
    op.create_index("idx_watch_events_due", "watch_events", ["next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_watch_events_due", table_name="watch_events")
    op.drop_index("idx_watch_events_watch_created", table_name="watch_events")
    op.drop_table("watch_events")
    op.drop_index("idx_watch_keys_ecosystem_name", table_name="watch_keys")
    op.drop_table("watch_keys")
    op.drop_index("idx_watches_status_kind", table_name="watches")
    op.drop_index("idx_watches_user_created", table_name="watches")
    op.drop_table("watches")
