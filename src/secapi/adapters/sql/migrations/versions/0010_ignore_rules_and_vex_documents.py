"""per-tenant suppressions: ignore rules and OpenVEX documents

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 02:00:00.000000

`ignore_rules` holds a tenant's rules (advisory, optional package pattern, reason, optional expiry);
`vex_documents` its OpenVEX documents as validated JSON. Both are read whole per tenant (bounded counts)
and paged newest first on (user_id, created_at, id).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ignore_rules",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("user_id", GUID(length=16), nullable=False),
        sa.Column("advisory", sa.String(length=100), nullable=False),
        sa.Column("package", sa.String(length=300), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ignore_rules_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ignore_rules")),
    )
    op.create_index("idx_ignore_rules_user_created", "ignore_rules", ["user_id", "created_at", "id"], unique=False)
    op.create_table(
        "vex_documents",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("user_id", GUID(length=16), nullable=False),
        sa.Column("document_id", sa.String(length=1000), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_vex_documents_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vex_documents")),
    )
    op.create_index("idx_vex_documents_user_created", "vex_documents", ["user_id", "created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_vex_documents_user_created", table_name="vex_documents")
    op.drop_table("vex_documents")
    op.drop_index("idx_ignore_rules_user_created", table_name="ignore_rules")
    op.drop_table("ignore_rules")
