"""Red Hat affected packages keyed by product and major

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:30:00.000000

Red Hat's OSV ecosystems name a product stream (`Red Hat:enterprise_linux:9::appstream`); an rpm database
does not record which stream a package came from, so lookups now use product and major
(`Red Hat:enterprise_linux:9`). Rows imported before this revision get the same key, since an unchanged
record is not written again by a later import; the version in force gets its per-ecosystem counts again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same query as the store's (kept literal here: a migration must not change when the code does).
ECOSYSTEM_COUNTS_SQL = (
    "SELECT a.ecosystem, count(DISTINCT a.vulnerability_id) FROM affected_packages a "
    "JOIN vulnerabilities v ON v.id = a.vulnerability_id WHERE v.withdrawn IS NULL GROUP BY a.ecosystem"
)


def _key(ecosystem: str) -> str:
    """`Red Hat:<product>:<version>[::<stream>]` → `Red Hat:<product>:<major>` (as `normalize_ecosystem` does
    today; kept literal here for the same reason as the query)."""
    parts = ecosystem.split(":")
    return ":".join([*parts[:2], parts[2].partition(".")[0]]) if len(parts) >= 3 else ecosystem


def upgrade() -> None:
    connection = op.get_bind()
    found = connection.execute(
        sa.text("SELECT DISTINCT ecosystem FROM affected_packages WHERE ecosystem LIKE 'Red Hat:%'")
    ).fetchall()
    changed = [(row[0], _key(row[0])) for row in found if _key(row[0]) != row[0]]
    for old, new in changed:
        connection.execute(
            sa.text("UPDATE affected_packages SET ecosystem = :new WHERE ecosystem = :old"), {"new": new, "old": old}
        )
    latest = connection.execute(sa.text("SELECT max(id) FROM vulndb_versions")).scalar()
    if changed and latest is not None:
        counts = connection.execute(sa.text(ECOSYSTEM_COUNTS_SQL)).fetchall()
        connection.execute(
            sa.text("UPDATE vulndb_versions SET ecosystems = :counts WHERE id = :id"),
            {"counts": json.dumps({row[0]: int(row[1]) for row in counts}, sort_keys=True), "id": latest},
        )


def downgrade() -> None:
    """The stream suffixes are gone; a re-import brings them back."""
