"""advisory aliases, informational kind, per-ecosystem counts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 18:20:00.000000

Existing advisories get their alias rows and informational kind from the
columns and records already stored, so a database imported before this
revision answers like one imported after it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
# The same query as the store's (kept literal here: a migration must not change when the code does).
ECOSYSTEM_COUNTS_SQL = (
    "SELECT a.ecosystem, count(DISTINCT a.vulnerability_id) FROM affected_packages a "
    "JOIN vulnerabilities v ON v.id = a.vulnerability_id WHERE v.withdrawn IS NULL GROUP BY a.ecosystem"
)


def upgrade() -> None:
    op.add_column("vulnerabilities", sa.Column("informational", sa.String(length=32), nullable=True))
    op.add_column("vulndb_versions", sa.Column("ecosystems", sa.Text(), nullable=True))
    op.create_table(
        "vulnerability_aliases",
        sa.Column("alias", sa.String(length=200), nullable=False),
        sa.Column("vulnerability_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["vulnerability_id"],
            ["vulnerabilities.id"],
            name=op.f("fk_vulnerability_aliases_vulnerability_id_vulnerabilities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alias", "vulnerability_id", name=op.f("pk_vulnerability_aliases")),
    )
    op.create_index(
        "idx_vulnerability_aliases_vulnerability", "vulnerability_aliases", ["vulnerability_id"], unique=False
    )
    _backfill()


def _informational(record: object) -> str | None:
    if isinstance(record, str):
        record = json.loads(record)
    if not isinstance(record, dict):
        return None
    blocks = [record.get("database_specific")]
    blocks += [item.get("database_specific") for item in record.get("affected") or () if isinstance(item, dict)]
    for block in blocks:
        kind = block.get("informational") if isinstance(block, dict) else None
        if isinstance(kind, str) and kind.strip():
            return kind.strip().lower()[:32]
    return None


def _backfill() -> None:
    connection = op.get_bind()
    aliases = sa.table("vulnerability_aliases", sa.column("alias"), sa.column("vulnerability_id"))
    rows = connection.execute(sa.text("SELECT id, aliases FROM vulnerabilities")).fetchall()
    pairs = {(alias, row.id) for row in rows for alias in json.loads(row.aliases or "[]") if isinstance(alias, str)}
    batch = [{"alias": alias[:200], "vulnerability_id": vid} for alias, vid in sorted(pairs)]
    for start in range(0, len(batch), _BATCH):
        connection.execute(aliases.insert(), batch[start : start + _BATCH])
    # Only RustSec records can be informational; reading every record would be needlessly slow.
    rustsec = connection.execute(sa.text("SELECT id, record FROM vulnerabilities WHERE id LIKE 'RUSTSEC-%'"))
    for row in rustsec.fetchall():
        kind = _informational(row.record)
        if kind is not None:
            connection.execute(
                sa.text("UPDATE vulnerabilities SET informational = :kind WHERE id = :id"), {"kind": kind, "id": row.id}
            )
    # The version in force gets its per-ecosystem counts, as every later import records them.
    counts = connection.execute(sa.text(ECOSYSTEM_COUNTS_SQL)).fetchall()
    latest = connection.execute(sa.text("SELECT max(id) FROM vulndb_versions")).scalar()
    if latest is not None:
        connection.execute(
            sa.text("UPDATE vulndb_versions SET ecosystems = :counts WHERE id = :id"),
            {"counts": json.dumps({row[0]: int(row[1]) for row in counts}, sort_keys=True), "id": latest},
        )


def downgrade() -> None:
    op.drop_index("idx_vulnerability_aliases_vulnerability", table_name="vulnerability_aliases")
    op.drop_table("vulnerability_aliases")
    with op.batch_alter_table("vulndb_versions") as batch:
        batch.drop_column("ecosystems")
    with op.batch_alter_table("vulnerabilities") as batch:
        batch.drop_column("informational")
