"""`SqlWatchRepository`: watches, their per-key state and their events in SQL (PostgreSQL or SQLite).

Each key row stores its packages and findings msgpack-encoded: the re-matcher reads only the rows of the
keys an update changed (one indexed query on `idx_watch_keys_ecosystem_name`) and never a whole inventory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from advanced_alchemy.types import GUID
from sqlalchemy import LargeBinary, Table, and_, bindparam, column, delete, func, or_, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import UserModel, WatchEventModel, WatchKeyModel, WatchModel
from secapi.domain.model import PageCursor
from secapi.domain.packages import Package
from secapi.domain.watches import (
    MATCHED_STATUSES,
    EventKind,
    EventOutbox,
    EventPage,
    KeyState,
    LookupKey,
    Watch,
    WatchedFinding,
    WatchEvent,
    WatchKind,
    WatchLimitReached,
    WatchPage,
    WatchRepository,
    WatchStatus,
    WatchUpdate,
)

_WATCHES: Table = WatchModel.__table__  # type: ignore[assignment]
_KEYS: Table = WatchKeyModel.__table__  # type: ignore[assignment]
_EVENTS: Table = WatchEventModel.__table__  # type: ignore[assignment]
_USERS: Table = UserModel.__table__  # type: ignore[assignment]
T = TypeVar("T")

KEY_BATCH = 1000
"""Lookup keys per query: 2,000 bind parameters, well within asyncpg's and SQLite's limits."""
ID_BATCH = 1000

SET_BATCH = 20_000
"""Rows per set-based (unnest) UPDATE on PostgreSQL."""
_PG_REWRITE_KEYS = text(
    """
    UPDATE watch_keys AS k SET state = u.state
    FROM unnest(CAST(:watch_ids AS uuid[]), CAST(:ecosystems AS text[]), CAST(:names AS text[]),
                CAST(:states AS bytea[])) AS u(watch_id, ecosystem, name, state)
    WHERE k.watch_id = u.watch_id AND k.ecosystem = u.ecosystem AND k.name = u.name
    """
)
_PG_MATCHED = text(
    """
    UPDATE watches AS w SET vulndb_version = u.version, matched_at = u.at, findings = w.findings + u.delta
    FROM unnest(CAST(:ids AS uuid[]), CAST(:versions AS integer[]), CAST(:ats AS timestamptz[]),
                CAST(:deltas AS integer[])) AS u(id, version, at, delta)
    WHERE w.id = u.id
    """
)
_PG_EVENTS = text(
    """
    INSERT INTO watch_events (id, watch_id, user_id, kind, target, advisories, findings, vulndb_version, created_at,
                              attempts, next_attempt_at)
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:watch_ids AS uuid[]), CAST(:user_ids AS uuid[]),
                         CAST(:kinds AS text[]), CAST(:targets AS text[]), CAST(:advisories AS jsonb[]),
                         CAST(:findings AS jsonb[]), CAST(:versions AS integer[]), CAST(:created AS timestamptz[]),
                         CAST(:attempts AS integer[]), CAST(:due AS timestamptz[]))
    """
)
_PG_AFFECTED = text(
    """
    SELECT k.watch_id, k.ecosystem, k.name, k.state
    FROM unnest(CAST(:ecosystems AS text[]), CAST(:names AS text[])) AS c(ecosystem, name)
    JOIN watch_keys k ON k.ecosystem = c.ecosystem AND k.name = c.name
    """
).columns(column("watch_id", GUID(length=16)), column("ecosystem"), column("name"), column("state", LargeBinary()))


class _KeyBlob(msgspec.Struct, array_like=True):
    packages: tuple[Package, ...]
    findings: tuple[WatchedFinding, ...]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_KeyBlob)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _blob(state: KeyState) -> bytes:
    return _ENCODER.encode(_KeyBlob(packages=state.packages, findings=state.findings))


def _state(ecosystem: str, name: str, raw: bytes) -> KeyState:
    blob = _DECODER.decode(raw)
    return KeyState(key=(ecosystem, name), packages=blob.packages, findings=blob.findings)


def _watch(row: Row[Any]) -> Watch:
    return Watch(
        id=row.id,
        user_id=row.user_id,
        kind=WatchKind(row.kind),
        target=row.target,
        status=WatchStatus(row.status),
        created_at=row.created_at,
        platform=row.platform,
        scan_id=row.scan_id,
        image_digest=row.image_digest,
        packages=row.packages,
        findings=row.findings,
        vulndb_version=row.vulndb_version,
        matched_at=row.matched_at,
        error=row.error,
    )


def _event(row: Row[Any]) -> WatchEvent:
    return WatchEvent(
        id=row.id,
        watch_id=row.watch_id,
        user_id=row.user_id,
        kind=EventKind(row.kind),
        target=row.target,
        advisories=tuple(row.advisories),
        findings=msgspec.convert(row.findings, tuple[WatchedFinding, ...]),
        vulndb_version=row.vulndb_version,
        created_at=row.created_at,
        attempts=row.attempts,
        delivered_at=row.delivered_at,
        given_up=row.given_up,
    )


def _event_values(event: WatchEvent, due: datetime | None) -> dict[str, Any]:
    return {
        "id": event.id,
        "watch_id": event.watch_id,
        "user_id": event.user_id,
        "kind": event.kind.value,
        "target": event.target,
        "advisories": list(event.advisories),
        "findings": msgspec.to_builtins(event.findings),
        "vulndb_version": event.vulndb_version,
        "created_at": event.created_at,
        "attempts": event.attempts,
        "next_attempt_at": due,
        "delivered_at": None,
        "given_up": None,
    }


def _event_arrays(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`_event_values` rows as the column arrays of `_PG_EVENTS` (JSON columns as JSON text)."""
    return {
        "ids": [r["id"] for r in rows],
        "watch_ids": [r["watch_id"] for r in rows],
        "user_ids": [r["user_id"] for r in rows],
        "kinds": [r["kind"] for r in rows],
        "targets": [r["target"] for r in rows],
        "advisories": [msgspec.json.encode(r["advisories"]).decode() for r in rows],
        "findings": [msgspec.json.encode(r["findings"]).decode() for r in rows],
        "versions": [r["vulndb_version"] for r in rows],
        "created": [r["created_at"] for r in rows],
        "attempts": [r["attempts"] for r in rows],
        "due": [r["next_attempt_at"] for r in rows],
    }


def _before(table: Table, after: PageCursor) -> Any:
    return or_(
        table.c.created_at < after.created_at,
        and_(table.c.created_at == after.created_at, table.c.id < after.id),
    )


class SqlWatchRepository(WatchRepository, EventOutbox):
    """`WatchRepository` and `EventOutbox` over the engine (the API, the re-matcher and the delivery loop share it)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def add(self, watch: Watch, keys: Sequence[KeyState], *, limit: int) -> int:
        """Count and insert under the user's row lock: two concurrent creates at the limit cannot both pass."""
        async with translate_db_errors(), self._engine.begin() as connection:
            # A no-op write takes the user's row lock (PostgreSQL) or the database's write lock (SQLite)
            # before counting, so a concurrent create waits here and then counts this one.
            await connection.execute(update(_USERS).where(_USERS.c.id == watch.user_id).values(tier=_USERS.c.tier))
            count = await connection.scalar(
                select(func.count()).select_from(_WATCHES).where(_WATCHES.c.user_id == watch.user_id)
            )
            if (count or 0) >= limit:
                raise WatchLimitReached(count or 0)
            await connection.execute(
                _WATCHES.insert().values(
                    id=watch.id,
                    user_id=watch.user_id,
                    kind=watch.kind.value,
                    target=watch.target,
                    status=watch.status.value,
                    platform=watch.platform,
                    scan_id=watch.scan_id,
                    image_digest=watch.image_digest,
                    packages=watch.packages,
                    findings=watch.findings,
                    vulndb_version=watch.vulndb_version,
                    created_at=watch.created_at,
                    matched_at=watch.matched_at,
                    error=watch.error,
                )
            )
            await self._put_keys(connection, watch.id, keys)
        return (count or 0) + 1

    async def count(self, user_id: UUID) -> int:
        """How many watches the user has."""
        query = select(func.count()).select_from(_WATCHES).where(_WATCHES.c.user_id == user_id)
        async with translate_db_errors(), self._engine.connect() as connection:
            return int(await connection.scalar(query) or 0)

    async def get(self, user_id: UUID, watch_id: UUID) -> Watch | None:
        """The user's watch, or None (another tenant's is None too)."""
        query = select(_WATCHES).where(_WATCHES.c.id == watch_id, _WATCHES.c.user_id == user_id)
        async with translate_db_errors(), self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _watch(row)

    async def page(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> WatchPage:
        """Keyset pagination on (created_at, id) descending."""
        query = select(_WATCHES).where(_WATCHES.c.user_id == user_id)
        if after is not None:
            query = query.where(_before(_WATCHES, after))
        query = query.order_by(_WATCHES.c.created_at.desc(), _WATCHES.c.id.desc()).limit(limit + 1)
        async with translate_db_errors(), self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        items = [_watch(row) for row in rows[:limit]]
        cursor = PageCursor(created_at=items[-1].created_at, id=items[-1].id) if len(rows) > limit else None
        return WatchPage(items=items, next_cursor=cursor)

    async def delete(self, user_id: UUID, watch_id: UUID) -> bool:
        """Remove the watch; its keys and events go with it (ON DELETE CASCADE)."""
        async with translate_db_errors(), self._engine.begin() as connection:
            # SQLite enforces the cascade only with foreign keys on (the engine turns them on); delete explicitly
            # anyway so a connection without the pragma leaves nothing behind.
            owned = _WATCHES.c.id == watch_id
            found = await connection.scalar(select(_WATCHES.c.id).where(owned, _WATCHES.c.user_id == user_id))
            if found is None:
                return False
            await connection.execute(delete(_EVENTS).where(_EVENTS.c.watch_id == watch_id))
            await connection.execute(delete(_KEYS).where(_KEYS.c.watch_id == watch_id))
            await connection.execute(delete(_WATCHES).where(owned))
        return True

    async def events(self, user_id: UUID, watch_id: UUID, *, limit: int, after: PageCursor | None) -> EventPage:
        """The watch's events, newest first."""
        query = select(_EVENTS).where(_EVENTS.c.watch_id == watch_id, _EVENTS.c.user_id == user_id)
        if after is not None:
            query = query.where(_before(_EVENTS, after))
        query = query.order_by(_EVENTS.c.created_at.desc(), _EVENTS.c.id.desc()).limit(limit + 1)
        async with translate_db_errors(), self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        items = [_event(row) for row in rows[:limit]]
        cursor = PageCursor(created_at=items[-1].created_at, id=items[-1].id) if len(rows) > limit else None
        return EventPage(items=items, next_cursor=cursor)

    async def affected(self, keys: Collection[LookupKey]) -> Mapping[UUID, Sequence[KeyState]]:
        """Key rows of re-matched watches for `keys`: on PostgreSQL one query, the keys travelling as two arrays
        joined to `idx_watch_keys_ecosystem_name` (a long row-value IN list would make the planner scan the
        table); on SQLite `KEY_BATCH` keys per row-value IN query.

        Only active and rescanning watches have key rows (a pending watch gets them with its baseline, and a
        failed one never does), so no join to `watches` is needed: it was 480,000 index probes for 10,000 watches.
        """
        found: dict[UUID, list[KeyState]] = defaultdict(list)
        ordered = sorted(set(keys))
        statuses = [status.value for status in MATCHED_STATUSES]
        async with translate_db_errors(), self._engine.connect() as connection:
            if self._postgres:
                batches: list[tuple[Any, dict[str, Any]]] = [
                    (_PG_AFFECTED, {"ecosystems": [k[0] for k in ordered], "names": [k[1] for k in ordered]})
                ]
            else:
                batches = [
                    (
                        select(_KEYS.c.watch_id, _KEYS.c.ecosystem, _KEYS.c.name, _KEYS.c.state)
                        .join(_WATCHES, _WATCHES.c.id == _KEYS.c.watch_id)
                        .where(tuple_(_KEYS.c.ecosystem, _KEYS.c.name).in_(batch), _WATCHES.c.status.in_(statuses)),
                        {},
                    )
                    for batch in _chunks(ordered, KEY_BATCH)
                ]
            for query, parameters in batches:
                # Buffered, not streamed: a streamed row costs a greenlet switch, 11 of 12 s for 340,000 rows.
                for watch_id, ecosystem, name, state in (await connection.execute(query, parameters)).tuples():
                    found[watch_id].append(_state(ecosystem, name, state))
        return found

    async def key_states(self, watch_id: UUID) -> Sequence[KeyState]:
        """Every key row of one watch."""
        query = select(_KEYS.c.ecosystem, _KEYS.c.name, _KEYS.c.state).where(_KEYS.c.watch_id == watch_id)
        async with translate_db_errors(), self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_state(row.ecosystem, row.name, row.state) for row in rows]

    async def watches(self, ids: Collection[UUID]) -> Sequence[Watch]:
        """The watches with these ids."""
        out: list[Watch] = []
        async with translate_db_errors(), self._engine.connect() as connection:
            for batch in _chunks(sorted(ids), ID_BATCH):
                rows = (await connection.execute(select(_WATCHES).where(_WATCHES.c.id.in_(batch)))).all()
                out.extend(_watch(row) for row in rows)
        return out

    async def by_status(self, status: WatchStatus, *, kind: WatchKind | None = None, limit: int) -> Sequence[Watch]:
        """Watches in `status`, oldest first."""
        query = select(_WATCHES).where(_WATCHES.c.status == status.value)
        if kind is not None:
            query = query.where(_WATCHES.c.kind == kind.value)
        query = query.order_by(_WATCHES.c.created_at, _WATCHES.c.id).limit(limit)
        async with translate_db_errors(), self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_watch(row) for row in rows]

    async def apply(self, updates: Sequence[WatchUpdate]) -> None:
        """Every update and event in one transaction; plain re-matches are set-based UPDATEs (PostgreSQL)."""
        if not updates:
            return
        async with translate_db_errors(), self._engine.begin() as connection:
            plain: list[dict[str, Any]] = []
            rewritten: list[dict[str, Any]] = []
            updates = await self._existing(connection, updates)
            for item in updates:
                if item.replace_all:
                    await connection.execute(delete(_KEYS).where(_KEYS.c.watch_id == item.watch_id))
                elif item.removed_keys:
                    for batch in _chunks(sorted(item.removed_keys), KEY_BATCH):
                        await connection.execute(
                            delete(_KEYS).where(
                                _KEYS.c.watch_id == item.watch_id, tuple_(_KEYS.c.ecosystem, _KEYS.c.name).in_(batch)
                            )
                        )
                if item.replace_all:
                    await self._put_keys(connection, item.watch_id, item.keys)
                else:
                    rewritten.extend(
                        {"b_watch": item.watch_id, "b_eco": k.key[0], "b_name": k.key[1], "b_state": _blob(k)}
                        for k in item.keys
                    )
                if item.replace_all or any(
                    value is not None for value in (item.status, item.error, item.scan_id, item.image_digest)
                ):
                    values: dict[str, Any] = {"vulndb_version": item.vulndb_version, "matched_at": item.matched_at}
                    if item.findings is not None:
                        values["findings"] = item.findings
                    else:
                        values["findings"] = _WATCHES.c.findings + item.findings_delta
                    for name in ("status", "scan_id", "image_digest", "packages", "error"):
                        value = getattr(item, name)
                        if value is not None:
                            values[name] = value.value if name == "status" else value
                    await connection.execute(update(_WATCHES).where(_WATCHES.c.id == item.watch_id).values(**values))
                else:
                    plain.append(
                        {
                            "b_id": item.watch_id,
                            "b_version": item.vulndb_version,
                            "b_at": item.matched_at,
                            "b_delta": item.findings_delta,
                        }
                    )
            if self._postgres and rewritten:
                # One set-based statement per batch: per-row executemany cost the server ~70 µs a row.
                for key_rows in _chunks(rewritten, SET_BATCH):
                    await connection.execute(
                        _PG_REWRITE_KEYS,
                        {
                            "watch_ids": [r["b_watch"] for r in key_rows],
                            "ecosystems": [r["b_eco"] for r in key_rows],
                            "names": [r["b_name"] for r in key_rows],
                            "states": [r["b_state"] for r in key_rows],
                        },
                    )
                rewritten = []
            if self._postgres and plain:
                for plain_rows in _chunks(plain, SET_BATCH):
                    await connection.execute(
                        _PG_MATCHED,
                        {
                            "ids": [r["b_id"] for r in plain_rows],
                            "versions": [r["b_version"] for r in plain_rows],
                            "ats": [r["b_at"] for r in plain_rows],
                            "deltas": [r["b_delta"] for r in plain_rows],
                        },
                    )
                plain = []
            if rewritten:
                rows = (
                    update(_KEYS)
                    .where(
                        _KEYS.c.watch_id == bindparam("b_watch"),
                        _KEYS.c.ecosystem == bindparam("b_eco"),
                        _KEYS.c.name == bindparam("b_name"),
                    )
                    .values(state=bindparam("b_state"))
                )
                for key_rows in _chunks(rewritten, ID_BATCH):
                    await connection.execute(rows, list(key_rows))
            if plain:
                statement = (
                    update(_WATCHES)
                    .where(_WATCHES.c.id == bindparam("b_id"))
                    .values(
                        vulndb_version=bindparam("b_version"),
                        matched_at=bindparam("b_at"),
                        findings=_WATCHES.c.findings + bindparam("b_delta"),
                    )
                )
                for plain_rows in _chunks(plain, ID_BATCH):
                    await connection.execute(statement, list(plain_rows))
            events = [
                _event_values(event, event.created_at if event.kind is EventKind.NEW_FINDINGS else None)
                for item in updates
                for event in item.events
            ]
            if self._postgres:
                for event_rows in _chunks(events, SET_BATCH):
                    await connection.execute(_PG_EVENTS, _event_arrays(event_rows))
                return
            for event_rows in _chunks(events, ID_BATCH):
                await connection.execute(_EVENTS.insert(), list(event_rows))

    async def _existing(self, connection: AsyncConnection, updates: Sequence[WatchUpdate]) -> list[WatchUpdate]:
        """The updates whose watch still exists, share-locked (PostgreSQL) so a concurrent delete waits for us."""
        ids = sorted({item.watch_id for item in updates})
        found: set[UUID] = set()
        for batch in _chunks(ids, ID_BATCH):
            query = select(_WATCHES.c.id).where(_WATCHES.c.id.in_(batch))
            if self._postgres:
                query = query.with_for_update(read=True)
            found.update((await connection.scalars(query)).all())
        return [item for item in updates if item.watch_id in found]

    async def _put_keys(self, connection: AsyncConnection, watch_id: UUID, keys: Sequence[KeyState]) -> None:
        if not keys:
            return
        rows = [{"watch_id": watch_id, "ecosystem": k.key[0], "name": k.key[1], "state": _blob(k)} for k in keys]
        dialect = postgresql if self._postgres else sqlite
        statement = dialect.insert(_KEYS)
        statement = statement.on_conflict_do_update(
            index_elements=["watch_id", "ecosystem", "name"], set_={"state": statement.excluded.state}
        )
        for batch in _chunks(rows, ID_BATCH):
            await connection.execute(statement, list(batch))

    # --- EventOutbox ---

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[WatchEvent]:
        """Due events pushed to `lease_until` and returned, in one statement; PostgreSQL skips rows another
        claimer holds (`FOR UPDATE SKIP LOCKED`), SQLite serialises writers anyway."""
        due = (
            select(_EVENTS.c.id)
            .where(_EVENTS.c.next_attempt_at <= now)
            .order_by(_EVENTS.c.next_attempt_at)
            .limit(limit)
        )
        if self._postgres:
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(_EVENTS).where(_EVENTS.c.id.in_(due.scalar_subquery())).values(next_attempt_at=lease_until)
        ).returning(*_EVENTS.c)
        async with translate_db_errors(), self._engine.begin() as connection:
            rows = (await connection.execute(statement)).all()
        return sorted((_event(row) for row in rows), key=lambda e: (e.created_at, e.id))

    async def delivered(self, event_id: UUID, at: datetime, attempts: int) -> None:
        """Delivered: never due again."""
        await self._finish(event_id, delivered_at=at, attempts=attempts, next_attempt_at=None)

    async def retry(self, event_id: UUID, at: datetime, attempts: int) -> None:
        """Due again at `at`."""
        await self._finish(event_id, attempts=attempts, next_attempt_at=at)

    async def give_up(self, event_id: UUID, reason: str, attempts: int) -> None:
        """Never due again, with the reason."""
        await self._finish(event_id, given_up=reason[:2000], attempts=attempts, next_attempt_at=None)

    async def _finish(self, event_id: UUID, **values: Any) -> None:
        async with translate_db_errors(), self._engine.begin() as connection:
            await connection.execute(update(_EVENTS).where(_EVENTS.c.id == event_id).values(**values))
