"""result documents stored once by content; api_usage partitioned by month (PostgreSQL)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 04:15:00.000000

Issue 17, at a million scans:

- `scan_results (digest, document)` holds each distinct result document once; `scans.result_digest` names it
  and `scans.result` goes. Existing documents are keyed here by the SHA-256 of their stored text (PostgreSQL:
  `jsonb::text`, canonical for equal documents; SQLite: the text as written). The application keys new ones by
  the SHA-256 of msgspec's encoding, so a document stored before the upgrade is stored once more the first time
  a scan produces it again; after that they share it. On PostgreSQL `result_digest` is a foreign key (its
  check locks the document while the scan's transaction runs, so the retention job cannot take it away
  under a writer); SQLite, one writer at a time, keeps a plain indexed column (SQLite cannot drop a foreign
  key column again on the way down).
- PostgreSQL: `api_usage` becomes a table partitioned by range on `timestamp`, one partition per calendar
  month (UTC) from the oldest row's month (at most `OLDEST_MONTHS` back) to the month after this one, plus a
  DEFAULT partition so that an insert never fails; its primary key is (id, timestamp), as a partitioned
  table's must include the partition key. The retention job creates the next months' partitions ahead and
  drops whole ones older than the longest retention. The rows are copied (the id sequence is kept, so ids
  go on where they were). SQLite keeps the plain table.

Both steps rewrite their table under an exclusive lock. Measured on the shared 2-core machine (PostgreSQL 15):
100,000 scans (181 MB, 20,000 distinct results) and 1,000,000 usage rows went up in 33 s and down in 26 s;
the time grows with the tables' sizes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLDEST_MONTHS = 36
"""Monthly partitions made for older rows at most this far back; anything older lands in the DEFAULT partition."""
USAGE_COLUMNS = 'id, user_id, endpoint, method, status_code, "timestamp", duration_ms'
PG_DIGEST = "encode(sha256(convert_to(result::text, 'UTF8')), 'hex')"
HAS_RESULT = "result IS NOT NULL AND CAST(result AS TEXT) <> 'null'"
"""A scan without a result was written with JSON `null` (the JSON type's None), not SQL NULL: it gets no digest."""
SQLITE_BATCH = 5_000


def upgrade() -> None:
    op.create_table(
        "scan_results",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_scan_results")),
    )
    if op.get_bind().dialect.name == "postgresql":
        _results_by_digest_postgresql()
        _partition_usage()
    else:
        _results_by_digest_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _plain_usage()
        op.add_column("scans", sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
        op.execute("UPDATE scans SET result = r.document FROM scan_results r WHERE r.digest = scans.result_digest")
        op.drop_index("idx_scans_result_digest", table_name="scans")
        op.drop_constraint(op.f("fk_scans_result_digest_scan_results"), "scans", type_="foreignkey")
        op.drop_column("scans", "result_digest")
    else:
        op.execute("ALTER TABLE scans ADD COLUMN result JSON")
        op.execute(
            "UPDATE scans SET result = (SELECT document FROM scan_results WHERE digest = scans.result_digest)"
            " WHERE result_digest IS NOT NULL"
        )
        op.drop_index("idx_scans_result_digest", table_name="scans")
        op.execute("ALTER TABLE scans DROP COLUMN result_digest")
    op.drop_table("scan_results")


def _results_by_digest_postgresql() -> None:
    op.add_column("scans", sa.Column("result_digest", sa.String(length=64), nullable=True))
    op.execute(
        f"INSERT INTO scan_results (digest, document) SELECT {PG_DIGEST}, result FROM scans"  # noqa: S608
        f" WHERE {HAS_RESULT} ON CONFLICT (digest) DO NOTHING"
    )
    op.execute(f"UPDATE scans SET result_digest = {PG_DIGEST} WHERE {HAS_RESULT}")  # noqa: S608
    op.create_foreign_key(
        op.f("fk_scans_result_digest_scan_results"), "scans", "scan_results", ["result_digest"], ["digest"]
    )
    op.create_index("idx_scans_result_digest", "scans", ["result_digest"], unique=False)
    op.drop_column("scans", "result")


def _results_by_digest_sqlite() -> None:
    bind = op.get_bind()
    op.execute("ALTER TABLE scans ADD COLUMN result_digest VARCHAR(64)")
    after = 0
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT rowid, CAST(result AS TEXT) FROM scans WHERE {HAS_RESULT} AND rowid > :after"  # noqa: S608
                " ORDER BY rowid LIMIT :n"
            ),
            {"after": after, "n": SQLITE_BATCH},
        ).all()
        if not rows:
            break
        keyed = [(rowid, hashlib.sha256(text.encode()).hexdigest(), text) for rowid, text in rows]
        bind.execute(
            sa.text("INSERT OR IGNORE INTO scan_results (digest, document) VALUES (:digest, :document)"),
            [{"digest": digest, "document": text} for _, digest, text in keyed],
        )
        bind.execute(
            sa.text("UPDATE scans SET result_digest = :digest WHERE rowid = :rowid"),
            [{"digest": digest, "rowid": rowid} for rowid, digest, _ in keyed],
        )
        after = rows[-1][0]
    op.create_index("idx_scans_result_digest", "scans", ["result_digest"], unique=False)
    op.execute("ALTER TABLE scans DROP COLUMN result")


def _month(year: int, month: int) -> tuple[int, int]:
    return (year + (month - 1) // 12, (month - 1) % 12 + 1)


def _partition_ddl(year: int, month: int) -> str:
    start, end = _month(year, month), _month(year, month + 1)
    return (
        f"CREATE TABLE api_usage_y{start[0]:04d}m{start[1]:02d} PARTITION OF api_usage"
        f" FOR VALUES FROM ('{start[0]:04d}-{start[1]:02d}-01 00:00:00+00')"
        f" TO ('{end[0]:04d}-{end[1]:02d}-01 00:00:00+00')"
    )


def _partition_usage() -> None:
    bind = op.get_bind()
    op.execute("ALTER TABLE api_usage RENAME TO api_usage_0011")
    op.execute("ALTER INDEX pk_api_usage RENAME TO pk_api_usage_0011")
    op.execute("ALTER INDEX idx_api_usage_user_timestamp RENAME TO idx_api_usage_user_timestamp_0011")
    op.execute("ALTER SEQUENCE api_usage_id_seq OWNED BY NONE")
    op.execute(
        "CREATE TABLE api_usage ("
        " id BIGINT NOT NULL DEFAULT nextval('api_usage_id_seq'),"
        " user_id UUID NOT NULL,"
        " endpoint VARCHAR(200) NOT NULL,"
        " method VARCHAR(10) NOT NULL,"
        " status_code INTEGER NOT NULL,"
        ' "timestamp" TIMESTAMP WITH TIME ZONE NOT NULL,'
        " duration_ms DOUBLE PRECISION NOT NULL,"
        ' CONSTRAINT pk_api_usage PRIMARY KEY (id, "timestamp"),'
        " CONSTRAINT fk_api_usage_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE"
        ') PARTITION BY RANGE ("timestamp")'
    )
    op.execute('CREATE INDEX idx_api_usage_user_timestamp ON api_usage (user_id, "timestamp")')
    now = datetime.now(UTC)
    oldest = bind.execute(sa.text('SELECT min("timestamp") FROM api_usage_0011')).scalar()
    year, month = now.year, now.month
    if oldest is not None:  # from the oldest row's month, within OLDEST_MONTHS
        oldest = oldest.astimezone(UTC)
        year, month = min((year, month), max(_month(year, month - OLDEST_MONTHS), (oldest.year, oldest.month)))
    while (year, month) <= _month(now.year, now.month + 1):
        op.execute(_partition_ddl(year, month))
        year, month = _month(year, month + 1)
    op.execute("CREATE TABLE api_usage_default PARTITION OF api_usage DEFAULT")
    op.execute(f"INSERT INTO api_usage ({USAGE_COLUMNS}) SELECT {USAGE_COLUMNS} FROM api_usage_0011")  # noqa: S608
    op.execute("DROP TABLE api_usage_0011")
    op.execute("ALTER SEQUENCE api_usage_id_seq OWNED BY api_usage.id")


def _plain_usage() -> None:
    op.execute("ALTER TABLE api_usage RENAME TO api_usage_0012")
    op.execute("ALTER INDEX pk_api_usage RENAME TO pk_api_usage_0012")
    op.execute("ALTER INDEX idx_api_usage_user_timestamp RENAME TO idx_api_usage_user_timestamp_0012")
    op.execute("ALTER SEQUENCE api_usage_id_seq OWNED BY NONE")
    op.execute(
        "CREATE TABLE api_usage ("
        " id BIGINT NOT NULL DEFAULT nextval('api_usage_id_seq'),"
        " user_id UUID NOT NULL,"
        " endpoint VARCHAR(200) NOT NULL,"
        " method VARCHAR(10) NOT NULL,"
        " status_code INTEGER NOT NULL,"
        ' "timestamp" TIMESTAMP WITH TIME ZONE NOT NULL,'
        " duration_ms DOUBLE PRECISION NOT NULL,"
        " CONSTRAINT pk_api_usage PRIMARY KEY (id),"
        " CONSTRAINT fk_api_usage_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE"
        ")"
    )
    op.execute(f"INSERT INTO api_usage ({USAGE_COLUMNS}) SELECT {USAGE_COLUMNS} FROM api_usage_0012")  # noqa: S608
    op.execute("DROP TABLE api_usage_0012")  # and its partitions
    op.execute('CREATE INDEX idx_api_usage_user_timestamp ON api_usage (user_id, "timestamp")')
    op.execute("ALTER SEQUENCE api_usage_id_seq OWNED BY api_usage.id")
