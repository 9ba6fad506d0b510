"""PostgreSQL at scale: the application's main queries against millions of rows (target p99 < 5 ms, indexed).

Usage: uv run python benchmarks/database.py [--scans 1000000] [--users 10000] [--advisories N] [--runs 200]

A fresh database (`_db.fresh_database`, migrated to head) is seeded by COPY: `--users` users with one API key
each, `--scans` scans (a skewed number per user, a realistic mix of types and statuses, inputs repeated the
way CI re-scans the same images and lockfiles, `created_at` spread over six months) whose result documents go
once per distinct document into `scan_results` (each input's result, sometimes a newer variant after a
database update), ten `api_usage` rows per scan into its monthly partitions (made first by the retention
store's own `prepare_usage_months`), the users' durable quota counters, a vulnerability store of `--advisories` generated OSV records
(`osv_synth`, imported by the application's own `VulnDbImporter`), and watches with their keys and events.
Then `VACUUM (ANALYZE)` (what autovacuum does to a loaded table), and each query is run `--runs` times
with varied parameters *through the application's repository methods*: the SQL is theirs, captured at the
cursor. Each reported time is the database round trip (cursor execute and fetch, without the ORM's row
building). One `EXPLAIN (ANALYZE, BUFFERS)` of each captured statement follows the table; DML (claims,
`DELETE ... RETURNING`) is explained inside a rolled-back transaction.

Rows marked "no caller in src" are the query shapes the spec's named indexes exist for, written here with
the models, because no application code issues them today. The retention rows run last and for real: each
call deletes a batch, as the job does.

Exit status 1 when a query reads `scans` or `api_usage` (or one of its monthly partitions) by a sequential scan,
or uses no index at all;
timings are reported (PASS/MISS against 5 ms), never a failure, so a smoke run on a busy machine passes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).parent))

from _db import fresh_database
from osv_synth import ECOSYSTEMS, package_name, write_zip

from secapi.adapters.osv.reader import iter_records
from secapi.adapters.sql.models import ApiUsageModel, ScanModel
from secapi.adapters.sql.quotas import SqlQuotaStore
from secapi.adapters.sql.repositories import SqlApiKeyRepository, SqlScanRepository
from secapi.adapters.sql.results import digest_of, store_documents
from secapi.adapters.sql.retention import SqlRetentionStore
from secapi.adapters.sql.vulnerabilities import SqlVulnerabilityStore
from secapi.adapters.sql.watches import SqlWatchRepository
from secapi.domain.model import PageCursor
from secapi.domain.packages import Package
from secapi.domain.retention import DEFAULT_RETENTION_DAYS
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.tiers import Tier
from secapi.domain.watches import KeyState, LookupKey, Watch, WatchKind, WatchStatus

TARGET_MS = 5.0
PAGE = 20
"""The list endpoint's default page size."""
NOW = datetime.now(UTC).replace(microsecond=0)
SPAN = timedelta(days=180)
PACKAGES_PER_ECOSYSTEM = 20_000
"""`osv_synth`'s default: watch keys use the same names, so the re-matcher's join finds advisories' keys."""
COPY_CHUNK = 100_000
USER_PAGE = 500
BATCH = 2_000
"""The retention job's page of users and batch of rows (`RetentionService`'s and the setting's defaults)."""
DAY = 86_400
MONTH_BUCKETS = 30

_INDEX = re.compile(
    r"(?:Index Scan|Index Only Scan)(?: Backward)? using (\S+) on (\S+)|Bitmap Index Scan on (\S+)"
    r"|Conflict Arbiter Indexes: (\S+)"
)
_SEQ = re.compile(r"Seq Scan on (\S+)")
GUARDED = frozenset({"scans", "api_usage"})


# --- seeding ---------------------------------------------------------------------------------------------


@dataclass
class Seeded:
    """What the queries draw their parameters from."""

    users: list[uuid.UUID]
    weights: list[float]
    prefixes: list[str]
    scans: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    """A sample of (scan id, owner)."""
    digests: list[str] = field(default_factory=list)
    """A sample of result digests, drawn as often as scans repeat them."""
    documents: dict[str, str] = field(default_factory=dict)
    """Each distinct result document's JSON text by digest (what `scan_results` holds)."""
    tiers: dict[Tier, list[uuid.UUID]] = field(default_factory=dict)
    guarded: frozenset[str] | set[str] = GUARDED
    """Tables no query may read sequentially: `scans`, `api_usage` and its partitions that hold rows (an empty
    one, the month ahead or the DEFAULT partition, costs nothing to scan and the planner rightly does)."""
    keys: list[LookupKey] = field(default_factory=list)
    cursors: list[tuple[uuid.UUID, PageCursor]] = field(default_factory=list)
    """Cursors in the middle of users' histories (a scan of the sample: heavy users hold most of them)."""


def _input_hash(n: int) -> str:
    return hashlib.sha256(f"input-{n}".encode()).hexdigest()


def _input(scan_type: str, n: int, rng: random.Random) -> str:
    digest = _input_hash(n)
    if scan_type == "docker":
        data: dict[str, Any] = {"image": f"docker.io/library/app{n % 5000}:{n % 40}", "platform": "linux/amd64"}
    elif scan_type == "dependencies":
        name = rng.choice(("poetry.lock", "package-lock.json", "go.sum", "Cargo.lock", "requirements.txt"))
        data = {"filename": name, "sha256": digest, "size": 2_000 + n % 90_000}
    else:
        data = {"format": "cyclonedx-json", "sha256": digest, "size": 10_000 + n % 500_000}
    return msgspec.json.encode(data).decode()


def _result(rng: random.Random) -> str:
    """A completed scan's result document: summary and a handful of findings (about 1-2 KB)."""
    findings = [
        {
            "id": f"BENCH-{rng.randrange(200_000):07d}",
            "package": {"ecosystem": "PyPI", "name": package_name("PyPI", rng.randrange(20_000)), "version": "1.0.0"},
            "installed_version": "1.0.0",
            "fixed_versions": ["1.2.0"],
            "severity": rng.choice(("LOW", "MEDIUM", "HIGH", "CRITICAL")),
            "summary": "Synthetic advisory",
        }
        for _ in range(rng.randrange(0, 8))
    ]
    return msgspec.json.encode(
        {"packages": rng.randrange(20, 400), "vulnerabilities": len(findings), "findings": findings}
    ).decode()


async def _copy(
    connection: AsyncConnection, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]]
) -> int:
    """COPY `rows` in chunks on the connection's asyncpg connection; returns how many."""
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    total = 0
    while True:
        chunk = [row for _, row in zip(range(COPY_CHUNK), rows, strict=False)]
        if not chunk:
            return total
        await raw.copy_records_to_table(table, records=chunk, columns=list(columns))
        total += len(chunk)


def _users(rows: int, rng: random.Random) -> Seeded:
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(rows)]
    # A few heavy CI users, a long tail of occasional ones.
    weights = [rng.paretovariate(1.2) for _ in range(rows)]
    return Seeded(users=users, weights=weights, prefixes=[f"sk_{i:08d}" for i in range(rows)])


def _user_rows(seeded: Seeded) -> Iterator[tuple[Any, ...]]:
    tiers = (Tier.FREE, Tier.FREE, Tier.FREE, Tier.STARTER, Tier.PRO, Tier.BUSINESS)
    for i, user in enumerate(seeded.users):
        tier = tiers[i % len(tiers)]
        seeded.tiers.setdefault(tier, []).append(user)
        yield (user, f"user{i}@bench.invalid", tier.value, False, NOW - SPAN)


def _key_rows(seeded: Seeded) -> Iterator[tuple[Any, ...]]:
    for user, prefix in zip(seeded.users, seeded.prefixes, strict=True):
        yield (uuid.uuid4(), user, prefix, hashlib.sha256(prefix.encode()).hexdigest(), NOW - SPAN)


def _scan_rows(seeded: Seeded, count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    distinct = max(10, count // 5)  # each input scanned five times on average, popular ones far more
    owners = rng.choices(seeded.users, weights=seeded.weights, k=count)
    span = int(SPAN.total_seconds())
    types = ("dependencies",) * 12 + ("docker",) * 7 + ("sbom",)
    inputs: dict[int, tuple[str, str, str]] = {}
    variants: dict[int, list[str]] = {}
    """Each input's result documents' digests: the same input gives the same result, until a database update."""
    for owner in owners:
        n = min(int(rng.paretovariate(0.8)) - 1, distinct - 1)
        n = n if rng.random() < 0.5 else rng.randrange(distinct)
        if n not in inputs:
            scan_type = rng.choice(types)
            inputs[n] = (scan_type, _input(scan_type, n, rng), _input_hash(n))
        scan_type, data, digest = inputs[n]
        roll = rng.random()
        created = NOW - timedelta(seconds=rng.randrange(span))
        scan_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        head = (scan_id, owner, scan_type)
        if len(seeded.scans) < 20_000 and rng.random() < 0.05:
            seeded.scans.append((scan_id, owner))
        if roll < 0.001:  # queued: recent, a few just past the queue timeout
            created = NOW - timedelta(seconds=rng.randrange(600))
            yield (*head, "queued", data, digest, None, None, created, None, None, None, 0, None)
        elif roll < 0.002:  # running: leases mostly current, some expired (a dead worker)
            created = NOW - timedelta(seconds=rng.randrange(600))
            lease = NOW + timedelta(seconds=rng.randrange(-120, 60))
            yield (*head, "running", data, digest, None, None, created, created, None, None, 1, lease)
        elif roll < 0.05:
            finished = created + timedelta(seconds=rng.uniform(0.1, 30))
            error = "image not found: manifest unknown"
            yield (*head, "failed", data, digest, None, error, created, created, finished, 900.0, 1, None)
        else:
            seconds = rng.uniform(0.05, 20)
            finished = created + timedelta(seconds=seconds)
            known = variants.setdefault(n, [])
            if not known or (len(known) < 3 and rng.random() < 0.05):
                document = _result(rng)
                known.append(digest_of(document))
                seeded.documents.setdefault(known[-1], document)
            result = known[-1] if rng.random() < 0.8 else rng.choice(known)
            if len(seeded.digests) < 20_000 and rng.random() < 0.05:
                seeded.digests.append(result)
            yield (*head, "completed", data, digest, result, None, created, created, finished, seconds * 1000, 1, None)


def _document_rows(seeded: Seeded) -> Iterator[tuple[Any, ...]]:
    """The distinct documents the scans referenced (iterated after the scans were generated)."""
    yield from seeded.documents.items()


def _usage_rows(seeded: Seeded, count: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    endpoints = (
        ("/api/v1/scan/dependencies", "POST", 200),
        ("/api/v1/scan/docker", "POST", 202),
        ("/api/v1/scans/{scan_id}", "GET", 200),
        ("/api/v1/scans", "GET", 200),
        ("/api/v1/usage", "GET", 200),
        ("/api/v1/scan/docker", "POST", 429),
    )
    span = int(SPAN.total_seconds())
    done = 0
    while done < count:
        size = min(COPY_CHUNK, count - done)
        owners = rng.choices(seeded.users, weights=seeded.weights, k=size)
        kinds = rng.choices(endpoints, weights=(30, 20, 30, 10, 8, 2), k=size)
        for owner, (endpoint, method, status) in zip(owners, kinds, strict=True):
            yield (owner, endpoint, method, status, NOW - timedelta(seconds=rng.randrange(span)), rng.uniform(1, 80))
        done += size


def _quota_rows(seeded: Seeded, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    today = int(NOW.timestamp()) // DAY
    for user in seeded.users:
        for day in range(today - MONTH_BUCKETS, today + 1):
            if rng.random() < 0.6:
                yield (user, "scans_per_month", day, rng.randrange(1, 50))
        if rng.random() < 0.01:  # counted in PostgreSQL during a Redis outage, replayed by the next read
            yield (user, "scans_per_hour", int(NOW.timestamp()) // 60, rng.randrange(1, 5))


async def _seed_vulnerabilities(engine: AsyncEngine, advisories: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "all.zip"
        write_zip(archive, advisories, packages_per_ecosystem=PACKAGES_PER_ECOSYSTEM)
        started = time.perf_counter()
        await VulnDbImporter(SqlVulnerabilityStore(engine)).run(iter_records(archive), source=str(archive))
        return time.perf_counter() - started


def _popular(rng: random.Random) -> LookupKey:
    ecosystem = rng.choice(ECOSYSTEMS)
    return (ecosystem, package_name(ecosystem, min(int(rng.paretovariate(0.7)) - 1, PACKAGES_PER_ECOSYSTEM - 1)))


async def _seed_watches(engine: AsyncEngine, seeded: Seeded, watches: int, rng: random.Random) -> None:
    """Watches through the repository's own `add` (50-150 keys each), then their events by COPY."""
    repository = SqlWatchRepository(engine)
    statuses = [WatchStatus.ACTIVE] * 17 + [WatchStatus.PENDING, WatchStatus.RESCANNING, WatchStatus.FAILED]
    ids: list[tuple[uuid.UUID, uuid.UUID]] = []
    for i in range(watches):
        owner = seeded.users[i % len(seeded.users)]
        keys = {_popular(rng) for _ in range(rng.randrange(50, 150))}
        status = rng.choice(statuses)
        watch = Watch(
            id=uuid.uuid4(),
            user_id=owner,
            kind=WatchKind.IMAGE if i % 3 else WatchKind.SCAN,
            target=f"docker.io/library/app{i}:latest",
            status=status,
            created_at=NOW - timedelta(seconds=rng.randrange(int(SPAN.total_seconds()))),
            packages=len(keys),
        )
        matched = status in (WatchStatus.ACTIVE, WatchStatus.RESCANNING)
        states = [
            KeyState(key=key, packages=(Package(name=key[1], version="1.0.0", ecosystem=key[0]),)) for key in keys
        ]
        await repository.add(watch, states if matched else [], limit=1_000_000)
        ids.append((watch.id, owner))
    seeded.keys = [_popular(rng) for _ in range(5_000)]

    def events() -> Iterator[tuple[Any, ...]]:
        for _ in range(watches * 20):
            watch_id, owner = rng.choice(ids)
            created = NOW - timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
            due = NOW - timedelta(seconds=rng.randrange(600)) if rng.random() < 0.005 else None
            yield (uuid.uuid4(), watch_id, owner, "new_findings", "target", "[]", "[]", 1, created, 1, due, created)

    columns = ["id", "watch_id", "user_id", "kind", "target", "advisories", "findings", "vulndb_version"]
    columns += ["created_at", "attempts", "next_attempt_at", "delivered_at"]
    async with engine.begin() as connection:
        await _copy(connection, "watch_events", columns, events())


async def seed(engine: AsyncEngine, args: argparse.Namespace, rng: random.Random) -> tuple[Seeded, list[str]]:
    """Everything the queries read; returns the draw pools and a log of what took how long."""
    log: list[str] = []
    seeded = _users(args.users, rng)
    scan_columns = ["id", "user_id", "scan_type", "status", "input_data", "input_hash", "result_digest", "error"]
    scan_columns += ["created_at", "started_at", "finished_at", "duration_ms", "attempts", "lease_expires_at"]
    usage_columns = ("user_id", "endpoint", "method", "status_code", "timestamp", "duration_ms")
    steps: list[tuple[str, str, Sequence[str], Iterator[tuple[Any, ...]]]] = [
        ("users", "users", ("id", "email", "tier", "is_admin", "created_at"), _user_rows(seeded)),
        ("api_keys", "api_keys", ("id", "user_id", "prefix", "key_hash", "created_at"), _key_rows(seeded)),
        ("scans", "scans", scan_columns, _scan_rows(seeded, args.scans, rng)),
        ("scan_results", "scan_results", ("digest", "document"), _document_rows(seeded)),
        ("api_usage", "api_usage", usage_columns, _usage_rows(seeded, args.scans * 10, rng)),
        ("rate_limits", "rate_limits", ("user_id", "quota", "bucket", "count"), _quota_rows(seeded, rng)),
    ]
    made = await SqlRetentionStore(engine).prepare_usage_months(NOW - SPAN, NOW)
    log.append(f"api_usage: {len(made)} monthly partitions made by SqlRetentionStore.prepare_usage_months")
    for label, table, columns, rows in steps:
        started = time.perf_counter()
        async with engine.begin() as connection:
            # A bulk load: the rows are consistent by construction, so foreign-key triggers are skipped.
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            count = await _copy(connection, table, columns, rows)
        log.append(f"{label}: {count:,} rows by COPY in {time.perf_counter() - started:.1f} s")
    took = await _seed_vulnerabilities(engine, args.advisories)
    log.append(f"vulnerabilities: {args.advisories:,} advisories imported by VulnDbImporter in {took:.1f} s")
    started = time.perf_counter()
    await _seed_watches(engine, seeded, args.watches, rng)
    log.append(
        f"watches: {args.watches:,} with keys and {args.watches * 20:,} events in {time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM (ANALYZE)"))
    log.append(f"VACUUM (ANALYZE) in {time.perf_counter() - started:.1f} s")
    async with engine.connect() as connection:
        # A partitioned table's own size is 0: its partitions hold the rows.
        sizes = await connection.execute(
            text(
                "SELECT coalesce(p.relname, c.relname), (sum(pg_total_relation_size(c.oid)) / 1048576)::bigint"
                " FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid"
                " LEFT JOIN pg_class p ON p.oid = i.inhparent"
                " WHERE coalesce(p.relname, c.relname) IN"
                " ('scans', 'scan_results', 'api_usage', 'affected_packages', 'vulnerabilities', 'watch_keys')"
                " AND c.relkind = 'r' GROUP BY 1 ORDER BY 2 DESC"
            )
        )
        log.append("sizes with indexes and TOAST: " + ", ".join(f"{name} {mb:,} MB" for name, mb in sizes))
        filled = await connection.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'api_usage'::regclass AND c.reltuples > 0"
            )
        )
        seeded.guarded = GUARDED | set(filled)
    return seeded, log


# --- measuring -------------------------------------------------------------------------------------------


@dataclass
class Captured:
    """Statements the application sent through the engine, with the time each took at the cursor."""

    calls: list[tuple[str, Any, float]] = field(default_factory=list)

    def attach(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        self.calls.append((statement, parameters, time.perf_counter() - conn.info.pop("bench_started")))


@dataclass
class Query:
    name: str
    call: Callable[[random.Random], Awaitable[object]]


@dataclass
class Measured:
    name: str
    p50: float
    p99: float
    plans: list[tuple[str, str]]
    """(statement, EXPLAIN output) of each statement of one call."""
    guarded: frozenset[str] | set[str] = GUARDED

    @property
    def indexes(self) -> list[str]:
        found: list[str] = []
        for _, plan in self.plans:
            for match in _INDEX.finditer(plan):
                name = match.group(1) or match.group(3) or match.group(4)
                if name not in found:
                    found.append(name)
        return found

    @property
    def seq_scans(self) -> list[str]:
        return sorted({m.group(1) for _, plan in self.plans for m in _SEQ.finditer(plan)})

    @property
    def ok(self) -> bool:
        return bool(self.indexes) and not self.guarded.intersection(self.seq_scans)


def queries(engine: AsyncEngine, seeded: Seeded) -> list[Query]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    scans = SqlScanRepository(sessions)
    keys = SqlApiKeyRepository(sessions)
    quotas = SqlQuotaStore(engine)
    watches = SqlWatchRepository(engine)
    vulns = SqlVulnerabilityStore(engine)
    today = int(NOW.timestamp()) // DAY

    def user(rng: random.Random) -> uuid.UUID:
        return rng.choices(seeded.users, weights=seeded.weights)[0]

    async def next_page(rng: random.Random) -> object:
        owner = user(rng)
        first = await scans.list_for_user(owner, limit=PAGE, after=None)
        cursor = first.next_cursor or PageCursor(created_at=NOW, id=uuid.UUID(int=0))
        return await scans.list_for_user(owner, limit=PAGE, after=cursor)

    async def deep_page(rng: random.Random) -> object:
        owner, cursor = rng.choice(seeded.cursors)
        return await scans.list_for_user(owner, limit=PAGE, after=cursor)

    async def store_again(rng: random.Random) -> object:
        digest = rng.choice(seeded.digests)
        async with sessions() as session:
            await store_documents(session, [(digest, seeded.documents[digest])])
            await session.commit()
        return digest

    async def raw(statement: Any) -> object:
        async with sessions() as session:
            return (await session.execute(statement)).all()

    return [
        Query("API key by prefix (every request)", lambda rng: keys.find_by_prefix(rng.choice(seeded.prefixes))),
        Query("list my scans, first page", lambda rng: scans.list_for_user(user(rng), limit=PAGE, after=None)),
        Query("list my scans, next page (2 statements: page 1, page 2)", next_page),
        Query("list my scans, deep page (a cursor anywhere in the history)", deep_page),
        Query("scan by id (API: owner's)", lambda rng: scans.get_for_user(*rng.choice(seeded.scans))),
        Query("scan by id (worker)", lambda rng: scans.get(rng.choice(seeded.scans)[0])),
        Query(
            "scans by status and type (no caller in src)",
            lambda rng: raw(
                select(ScanModel.id, ScanModel.created_at)
                .where(ScanModel.status == "queued", ScanModel.scan_type == rng.choice(("docker", "dependencies")))
                .limit(100)
            ),
        ),
        Query("store a result document by digest (a repeated scan: ON CONFLICT DO NOTHING)", store_again),
        Query(
            "usage: month's quota counters (GET /usage)",
            lambda rng: quotas.buckets(user(rng), "scans_per_month", today - MONTH_BUCKETS),
        ),
        Query("usage: outage hours taken back (GET /usage)", lambda rng: quotas.take(user(rng), "scans_per_hour")),
        Query(
            "api_usage of a user, last 30 days (no caller in src)",
            lambda rng: raw(
                select(func.count())
                .select_from(ApiUsageModel)
                .where(ApiUsageModel.user_id == user(rng), ApiUsageModel.timestamp >= NOW - timedelta(days=30))
            ),
        ),
        Query(
            "sweeper: stale scans (ScanSweeper)",
            lambda rng: scans.stale(now=NOW, queued_before=NOW - timedelta(seconds=120), limit=100),
        ),
        Query(
            "worker: claim a scan",
            lambda rng: scans.claim(rng.choice(seeded.scans)[0], now=NOW, lease_until=NOW + timedelta(seconds=60)),
        ),
        Query(
            "matcher: candidates of 200 package keys",
            lambda rng: vulns.candidates({rng.choice(seeded.keys) for _ in range(200)}),
        ),
        Query(
            "re-matcher: key rows of 50 changed keys",
            lambda rng: watches.affected({rng.choice(seeded.keys) for _ in range(50)}),
        ),
        Query(
            "re-matcher: active image watches, oldest first",
            lambda rng: watches.by_status(WatchStatus.ACTIVE, kind=WatchKind.IMAGE, limit=100),
        ),
        Query(
            "webhooks: claim due events",
            lambda rng: watches.claim(NOW, NOW + timedelta(seconds=30), 50),
        ),
        *retention_queries(engine, seeded),
    ]


def retention_queries(engine: AsyncEngine, seeded: Seeded) -> list[Query]:
    """The retention job's batches (`SqlRetentionStore`), at default retention; they delete for real, so run last."""
    store = SqlRetentionStore(engine)
    free = seeded.tiers.get(Tier.FREE, seeded.users)
    cutoff = NOW - timedelta(days=DEFAULT_RETENTION_DAYS[Tier.FREE])

    async def page(rng: random.Random) -> list[uuid.UUID]:
        return list(await store.users_of_tier(Tier.FREE, after=rng.choice(free), limit=USER_PAGE))

    async def scans(rng: random.Random) -> object:
        return await store.delete_scans(await page(rng), before=cutoff, limit=BATCH)

    async def usage(rng: random.Random) -> object:
        return await store.delete_usage(await page(rng), before=cutoff, limit=BATCH)

    async def results(rng: random.Random) -> object:
        return await store.delete_unreferenced_results(after=rng.choice(seeded.digests), limit=BATCH)

    return [
        Query(f"retention: expired scans, one batch ({USER_PAGE} free users, then DELETE of {BATCH:,})", scans),
        Query(f"retention: expired usage, one batch ({USER_PAGE} free users, then DELETE of {BATCH:,})", usage),
        Query(f"retention: unreferenced results, one window of {BATCH:,} digests", results),
    ]


async def _explain(engine: AsyncEngine, statement: str, parameters: Any) -> str:
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        transaction = raw.transaction()
        await transaction.start()
        try:
            rows = await raw.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *(parameters or ()))
        finally:
            await transaction.rollback()
    return "\n".join(row[0] for row in rows)


async def measure(
    engine: AsyncEngine,
    query: Query,
    runs: int,
    captured: Captured,
    rng: random.Random,
    guarded: frozenset[str] | set[str],
) -> Measured:
    for _ in range(min(20, runs)):  # warm the pool, the caches and the prepared statements
        await query.call(rng)
    times: list[float] = []
    first: list[tuple[str, Any, float]] = []
    for run in range(runs):
        captured.calls.clear()
        await query.call(rng)
        calls = [c for c in captured.calls if not c[0].lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
        if run == 0:
            first = calls
        times.append(sum(c[2] for c in calls) * 1000)
    captured.calls.clear()
    plans = [(statement, await _explain(engine, statement, parameters)) for statement, parameters, _ in first]
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Measured(query.name, statistics.median(ordered), p99, plans, guarded)


async def main(args: argparse.Namespace) -> int:
    rng = random.Random(17)
    started = time.perf_counter()
    async with fresh_database(args.db_prefix) as url:
        engine = create_async_engine(url, pool_size=2)
        try:
            seeded, log = await seed(engine, args, rng)
            seeding = time.perf_counter() - started
            repository = SqlScanRepository(async_sessionmaker(engine, expire_on_commit=False))
            for scan_id, owner in seeded.scans[:500]:
                found = await repository.get(scan_id)
                assert found is not None
                seeded.cursors.append((owner, PageCursor(created_at=found.created_at, id=found.id)))
            captured = Captured()
            captured.attach(engine)
            results = [
                await measure(engine, q, args.runs, captured, rng, seeded.guarded) for q in queries(engine, seeded)
            ]
        finally:
            await engine.dispose()
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    print(f"command: benchmarks/database.py --scans {args.scans} --users {args.users} --advisories {args.advisories}")
    print(f"seeded in {seeding:.0f} s:")
    for line in log:
        print(f"- {line}")
    print()
    print(f"{args.runs} runs per query; times are the database round trips of the application's statements.")
    print()
    print("| query | p50 ms | p99 ms | index used |")
    print("|---|---|---|---|")
    for m in results:
        used = ", ".join(m.indexes) or "none"
        if m.seq_scans:
            used += f" (Seq Scan on {', '.join(m.seq_scans)})"
        print(f"| {m.name} | {m.p50:.2f} | {m.p99:.2f} | {used} |")
    print()
    for m in results:
        print(f"### {m.name}")
        for statement, plan in m.plans:
            print()
            print("```sql")
            print(statement.strip())
            print("```")
            print("```")
            print(plan)
            print("```")
        print()
    missed = [m.name for m in results if not m.ok]
    slow = [m.name for m in results if m.p99 >= TARGET_MS]
    print(f"every query used an index (no Seq Scan on scans or api_usage): {'PASS' if not missed else 'FAIL'}")
    print("(api_usage's partitions that hold rows count as api_usage: " + ", ".join(sorted(seeded.guarded)) + ")")
    for name in missed:
        print(f"- not indexed: {name}")
    print(f"p99 < {TARGET_MS:.0f} ms: {'PASS' if not slow else 'MISS'}")
    for name in slow:
        print(f"- slower: {name}")
    return 1 if missed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--advisories", type=int, default=None, help="default: scans / 5, 2,000 to 200,000")
    parser.add_argument("--watches", type=int, default=None, help="default: users / 5, at most 3,000")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--db-prefix", default="secapi_bench_database")
    return parser


if __name__ == "__main__":
    arguments = _parser().parse_args()
    if arguments.advisories is None:
        arguments.advisories = max(2_000, min(200_000, arguments.scans // 5))
    if arguments.watches is None:
        arguments.watches = max(10, min(3_000, arguments.users // 5))
    sys.exit(asyncio.run(main(arguments)))
