"""indexes in the order the queries read: the sweeper's unfinished scans, watches by status oldest first

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 03:00:00.000000

Found by `benchmarks/database.py` (1,000,000 scans):

- `idx_scans_unfinished_created`: the sweeper's `stale` (`WHERE status = 'queued' AND created_at < ? OR
  status = 'running' AND lease_expires_at < ? ORDER BY created_at LIMIT ?`) bitmap-scanned every queued and
  running scan through idx_scans_status_type and sorted them, so its cost grew with the backlog (a worker
  outage). A partial index on `created_at` over the unfinished scans only is read in order and stops at the
  limit; it stays small (finished scans leave it).
- `idx_watches_status_kind` gains (created_at, id): `SqlWatchRepository.by_status` (`WHERE status = ?
  [AND kind = ?] ORDER BY created_at, id LIMIT ?`) read every watch of the status and sorted them, or
  scanned the table. The index keeps its name: the spec's prefix (status, kind) is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_index(
        "idx_scans_unfinished_created",
        "scans",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text(UNFINISHED),
        sqlite_where=sa.text(UNFINISHED),
    )
    op.drop_index("idx_watches_status_kind", table_name="watches")
    op.create_index("idx_watches_status_kind", "watches", ["status", "kind", "created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_watches_status_kind", table_name="watches")
    op.create_index("idx_watches_status_kind", "watches", ["status", "kind"], unique=False)
    op.drop_index("idx_scans_unfinished_created", table_name="scans")
