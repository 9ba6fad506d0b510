"""scan leases and inventory caches

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 19:30:41.184677
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "image_inventories",
        sa.Column("manifest_digest", sa.String(length=100), nullable=False),
        sa.Column("cataloger_version", sa.Integer(), nullable=False),
        sa.Column("inventory", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("manifest_digest", "cataloger_version", name=op.f("pk_image_inventories")),
    )
    op.create_table(
        "layer_inventories",
        sa.Column("digest", sa.String(length=100), nullable=False),
        sa.Column("cataloger_version", sa.Integer(), nullable=False),
        sa.Column("inventory", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", "cataloger_version", name=op.f("pk_layer_inventories")),
    )
    op.add_column("scans", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "scans",
        sa.Column("lease_expires_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("scans", "lease_expires_at")
    op.drop_column("scans", "attempts")
    op.drop_table("layer_inventories")
    op.drop_table("image_inventories")
