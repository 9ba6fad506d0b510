"""SQLAlchemy implementations of the account, scan and usage repositories.

Each call uses a short session of its own from the factory, so the repositories are
process-wide singletons and the request path builds no per-request objects for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import Select, and_, case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import ApiKeyModel, ScanModel, ScanResultModel, UserModel
from secapi.adapters.sql.results import WRITE_ATTEMPTS, document_taken, encoded, load_documents, store_documents
from secapi.domain.findings import ScanResult
from secapi.domain.model import (
    ApiKey,
    PageCursor,
    Scan,
    ScanPage,
    ScanStatus,
    ScanType,
    User,
)
from secapi.domain.ports import ApiKeyRepository, ScanRepository, UserRepository
from secapi.domain.scan_inputs import decode_scan_input, encode_scan_input
from secapi.domain.tiers import Tier


def _user(row: UserModel) -> User:
    return User(id=row.id, email=row.email, tier=Tier(row.tier), is_admin=row.is_admin, created_at=row.created_at)


def _key(row: ApiKeyModel) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        prefix=row.prefix,
        key_hash=row.key_hash,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _user_row(user: User) -> UserModel:
    return UserModel(
        id=user.id, email=user.email, tier=user.tier.value, is_admin=user.is_admin, created_at=user.created_at
    )


def _key_row(key: ApiKey) -> ApiKeyModel:
    return ApiKeyModel(
        id=key.id,
        user_id=key.user_id,
        prefix=key.prefix,
        key_hash=key.key_hash,
        name=key.name,
        created_at=key.created_at,
    )


def _scan(row: ScanModel, document: Any) -> Scan:
    scan = Scan(
        id=row.id,
        user_id=row.user_id,
        scan_type=ScanType(row.scan_type),
        status=ScanStatus(row.status),
        input_data=decode_scan_input(ScanType(row.scan_type), row.input_data),
        input_hash=row.input_hash,
        created_at=row.created_at,
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        attempts=row.attempts,
        lease_expires_at=row.lease_expires_at,
    )
    return scan if row.result_digest is None else _with_stored_result(scan, document)


_WITH_RESULT: Select[tuple[ScanModel, Any]] = select(ScanModel, ScanResultModel.document).outerjoin(
    ScanResultModel, ScanResultModel.digest == ScanModel.result_digest
)
"""Scans with their result documents: one round trip, the document fetched by its primary key."""


def _result_digest(scan: Scan) -> tuple[str, str] | None:
    return None if scan.result is None else encoded(scan.result)


def _with_stored_result(scan: Scan, document: Any) -> Scan:
    """`scan` carrying its stored result document, typed.

    Documents of older releases lack only fields `ScanResult` gives defaults (`unscanned`, `informational`,
    `vulndb`, `risk`, a finding's `severity_source`, `epss`, `kev`), so they read as they are. One that does not
    fit at all (hand-written, or damaged) must not break reading the scan list: the scan is shown without a
    result and its `error` says why (`Scan.unreadable_result`), rather than guessing the missing parts.
    """
    if document is None:  # its digest names no stored document (SQLite keeps no foreign key; a damaged copy)
        return scan.unreadable_result("its stored result document is missing")
    try:
        return scan.with_result(msgspec.convert(document, ScanResult))
    except msgspec.ValidationError as exc:
        return scan.unreadable_result(f"it does not fit this release's result format ({exc})")


class SqlUserRepository(UserRepository):
    """Users in SQL."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, user: User) -> None:
        """Insert a user; `Conflict` on a duplicate email."""
        async with translate_db_errors(f"a user with email {user.email} already exists"), self._sessions() as session:
            session.add(_user_row(user))
            await session.commit()

    async def add_with_first_key(self, user: User, key: ApiKey) -> None:
        """Insert a user and their first key in one transaction; `Conflict` (and neither stored) on a clash."""
        async with translate_db_errors(), self._sessions() as session:
            # The user is flushed first: the key references it, and each insert names its own clash.
            async with translate_db_errors(f"a user with email {user.email} already exists"):
                session.add(_user_row(user))
                await session.flush()
            async with translate_db_errors("an API key with this prefix already exists"):
                session.add(_key_row(key))
                await session.commit()

    async def get(self, user_id: UUID) -> User | None:
        """The user with this id."""
        async with translate_db_errors(), self._sessions() as session:
            row = await session.get(UserModel, user_id)
        return None if row is None else _user(row)

    async def get_by_email(self, email: str) -> User | None:
        """The user with this email (stored lower-case)."""
        async with translate_db_errors(), self._sessions() as session:
            row = await session.scalar(select(UserModel).where(UserModel.email == email.lower()))
        return None if row is None else _user(row)

    async def set_tier(self, user_id: UUID, tier: Tier) -> User | None:
        """Change the tier."""
        async with translate_db_errors(), self._sessions() as session:
            row = await session.get(UserModel, user_id)
            if row is None:
                return None
            row.tier = tier.value
            await session.commit()
        return _user(row)


class SqlApiKeyRepository(ApiKeyRepository):
    """API key records in SQL."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, key: ApiKey) -> None:
        """Insert a key record."""
        async with translate_db_errors("an API key with this prefix already exists"), self._sessions() as session:
            session.add(_key_row(key))
            await session.commit()

    async def get(self, key_id: UUID) -> ApiKey | None:
        """The key with this id."""
        async with translate_db_errors(), self._sessions() as session:
            row = await session.get(ApiKeyModel, key_id)
        return None if row is None else _key(row)

    async def find_by_prefix(self, prefix: str) -> ApiKey | None:
        """The key with this visible prefix."""
        async with translate_db_errors(), self._sessions() as session:
            row = await session.scalar(select(ApiKeyModel).where(ApiKeyModel.prefix == prefix))
        return None if row is None else _key(row)

    async def list_for_user(self, user_id: UUID) -> Sequence[ApiKey]:
        """The user's keys, newest first."""
        async with translate_db_errors(), self._sessions() as session:
            rows = await session.scalars(
                select(ApiKeyModel).where(ApiKeyModel.user_id == user_id).order_by(ApiKeyModel.created_at.desc())
            )
            return [_key(row) for row in rows]

    async def revoke(self, key_id: UUID, at: datetime) -> ApiKey | None:
        """Set `revoked_at` once."""
        async with translate_db_errors(), self._sessions() as session:
            row = await session.get(ApiKeyModel, key_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = at
                await session.commit()
        return _key(row)

    async def touch(self, key_id: UUID, at: datetime) -> None:
        """Update `last_used_at`."""
        async with translate_db_errors(), self._sessions() as session:
            await session.execute(update(ApiKeyModel).where(ApiKeyModel.id == key_id).values(last_used_at=at))
            await session.commit()


class SqlScanRepository(ScanRepository):
    """Scans in SQL; every read filters on the owner."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, scan: Scan) -> None:
        """Insert a scan (its result document stored once by content, in the same transaction)."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return await self._add(scan)
            except IntegrityError as exc:
                if attempt == WRITE_ATTEMPTS or not document_taken(exc):
                    raise

    async def _add(self, scan: Scan) -> None:
        stored = _result_digest(scan)
        async with translate_db_errors(), self._sessions() as session:
            if stored is not None:
                await store_documents(session, [stored])
            session.add(
                ScanModel(
                    id=scan.id,
                    user_id=scan.user_id,
                    scan_type=scan.scan_type.value,
                    status=scan.status.value,
                    input_data=encode_scan_input(scan.input_data),
                    input_hash=scan.input_hash,
                    result_digest=None if stored is None else stored[0],
                    error=scan.error,
                    created_at=scan.created_at,
                    started_at=scan.started_at,
                    finished_at=scan.finished_at,
                    duration_ms=scan.duration_ms,
                )
            )
            await session.commit()

    async def update(self, scan: Scan) -> None:
        """Write status, outcome and timings."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return await self._update(scan)
            except IntegrityError as exc:
                if attempt == WRITE_ATTEMPTS or not document_taken(exc):
                    raise

    async def _update(self, scan: Scan) -> None:
        stored = _result_digest(scan)
        async with translate_db_errors(), self._sessions() as session:
            if stored is not None:
                await store_documents(session, [stored])
            await session.execute(
                update(ScanModel)
                .where(ScanModel.id == scan.id)
                .values(
                    status=scan.status.value,
                    result_digest=None if stored is None else stored[0],
                    error=scan.error,
                    started_at=scan.started_at,
                    finished_at=scan.finished_at,
                    duration_ms=scan.duration_ms,
                    lease_expires_at=None if scan.is_finished else scan.lease_expires_at,
                )
            )
            await session.commit()

    async def get(self, scan_id: UUID) -> Scan | None:
        """Any scan by id."""
        async with translate_db_errors(), self._sessions() as session:
            found = (await session.execute(_WITH_RESULT.where(ScanModel.id == scan_id))).first()
        return None if found is None else _scan(*found)

    async def claim(self, scan_id: UUID, *, now: datetime, lease_until: datetime) -> Scan | None:
        """One UPDATE decides the race between workers: only one sees its row come back."""
        claimable = or_(
            ScanModel.status == ScanStatus.QUEUED.value,
            and_(ScanModel.status == ScanStatus.RUNNING.value, ScanModel.lease_expires_at < now),
        )
        statement = (
            update(ScanModel)
            .where(ScanModel.id == scan_id, claimable)
            .values(
                status=ScanStatus.RUNNING.value,
                started_at=now,
                lease_expires_at=lease_until,
                attempts=ScanModel.attempts + 1,
            )
            .returning(ScanModel)
        )
        async with translate_db_errors(), self._sessions() as session:
            row = (await session.scalars(statement.execution_options(populate_existing=True))).first()
            await session.commit()
            # A claimable scan has no result yet; one that has (handed out again after it finished) keeps it.
            documents = {} if row is None else await load_documents(session, [row.result_digest])
        return None if row is None else _scan(row, documents.get(row.result_digest or ""))

    async def renew_lease(self, scan_id: UUID, lease_until: datetime) -> bool:
        """Push the lease forward while the scan is still running."""
        async with translate_db_errors(), self._sessions() as session:
            result = await session.execute(
                update(ScanModel)
                .where(ScanModel.id == scan_id, ScanModel.status == ScanStatus.RUNNING.value)
                .values(lease_expires_at=lease_until)
            )
            await session.commit()
        return bool(getattr(result, "rowcount", 0))

    async def release(self, scan_id: UUID) -> bool:
        """One UPDATE, only while running: a scan finished meanwhile stays finished."""
        async with translate_db_errors(), self._sessions() as session:
            result = await session.execute(
                update(ScanModel)
                .where(ScanModel.id == scan_id, ScanModel.status == ScanStatus.RUNNING.value)
                .values(
                    status=ScanStatus.QUEUED.value,
                    started_at=None,
                    lease_expires_at=None,
                    attempts=case((ScanModel.attempts > 0, ScanModel.attempts - 1), else_=0),
                )
            )
            await session.commit()
        return bool(getattr(result, "rowcount", 0))

    async def stale(self, *, now: datetime, queued_before: datetime, limit: int) -> Sequence[Scan]:
        """Work a sweeper should hand out again."""
        query = (
            _WITH_RESULT.where(
                or_(
                    and_(ScanModel.status == ScanStatus.QUEUED.value, ScanModel.created_at < queued_before),
                    and_(ScanModel.status == ScanStatus.RUNNING.value, ScanModel.lease_expires_at < now),
                )
            )
            .order_by(ScanModel.created_at)
            .limit(limit)
        )
        async with translate_db_errors(), self._sessions() as session:
            rows = await session.execute(query.execution_options(populate_existing=True))
            return [_scan(row, document) for row, document in rows]

    async def get_for_user(self, scan_id: UUID, user_id: UUID) -> Scan | None:
        """The scan if it is this user's."""
        async with translate_db_errors(), self._sessions() as session:
            found = (
                await session.execute(_WITH_RESULT.where(ScanModel.id == scan_id, ScanModel.user_id == user_id))
            ).first()
        return None if found is None else _scan(*found)

    async def list_for_user(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> ScanPage:
        """Keyset pagination on (created_at, id) descending: stable under concurrent inserts."""
        query = _WITH_RESULT.where(ScanModel.user_id == user_id)
        if after is not None:
            query = query.where(
                # The redundant bound makes `created_at <= cursor` an index condition on idx_scans_user_created:
                # without it a deep page read (and filtered out) every newer scan of the user.
                ScanModel.created_at <= after.created_at,
                or_(
                    ScanModel.created_at < after.created_at,
                    and_(ScanModel.created_at == after.created_at, ScanModel.id < after.id),
                ),
            )
        query = query.order_by(ScanModel.created_at.desc(), ScanModel.id.desc()).limit(limit + 1)
        async with translate_db_errors(), self._sessions() as session:
            rows = list(await session.execute(query))
        items = [_scan(row, document) for row, document in rows[:limit]]
        cursor = None
        if len(rows) > limit:
            last = items[-1]
            cursor = PageCursor(created_at=last.created_at, id=last.id)
        return ScanPage(items=items, next_cursor=cursor)
