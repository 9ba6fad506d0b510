"""A user and their first key are stored in one transaction, on PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from secapi.adapters.sql.engine import create_engine, create_session_factory
from secapi.adapters.sql.migrate import upgrade
from secapi.adapters.sql.repositories import SqlApiKeyRepository, SqlUserRepository
from secapi.config import Settings
from secapi.domain import api_keys
from secapi.domain.clock import SystemClock
from secapi.domain.errors import Conflict
from secapi.domain.model import ApiKey
from secapi.domain.principal_cache import PrincipalCache
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier

TAKEN_PREFIX = "taken234"


class RacedKeys(SqlApiKeyRepository):
    """Sees no key with the prefix it is asked about: another process takes it between check and insert."""

    async def find_by_prefix(self, prefix: str) -> ApiKey | None:
        return None


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        settings: Settings = request.getfixturevalue("settings")  # migrated, empty tables
        return settings
    return Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/secapi.db")


@pytest.fixture
async def sessions(database: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database)
    try:
        if database.is_sqlite:
            await upgrade(engine)
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def test_a_key_insert_that_fails_leaves_no_user(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    users, keys = SqlUserRepository(sessions), RacedKeys(sessions)
    accounts = AccountService(users, keys, SystemClock(), PrincipalCache(SystemClock(), ttl=30, max_entries=10))
    first, _ = await accounts.create_user("first@example.com", Tier.FREE)
    await keys.add(
        ApiKey(
            id=uuid4(),
            user_id=first.id,
            prefix=TAKEN_PREFIX,
            key_hash="0" * 64,
            name="racer",
            created_at=first.created_at,
        )
    )
    generate = api_keys.generate_key
    monkeypatch.setattr(api_keys, "generate_key", lambda: (TAKEN_PREFIX, f"sk_{TAKEN_PREFIX}_{'x' * 43}"))

    with pytest.raises(Conflict, match="prefix"):
        await accounts.create_user("second@example.com", Tier.PRO)

    assert await users.get_by_email("second@example.com") is None, "the user insert must roll back with the key's"
    monkeypatch.setattr(api_keys, "generate_key", generate)
    user, issued = await accounts.create_user("second@example.com", Tier.PRO)  # the email is not burnt
    assert [key.id for key in await keys.list_for_user(user.id)] == [issued.record.id]


async def test_a_taken_email_is_a_conflict_naming_it_and_stores_no_key(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    users, keys = SqlUserRepository(sessions), SqlApiKeyRepository(sessions)
    accounts = AccountService(users, keys, SystemClock(), PrincipalCache(SystemClock(), ttl=30, max_entries=10))
    user, issued = await accounts.create_user("same@example.com", Tier.FREE)
    twin = replace(user, id=uuid4())
    key = replace(issued.record, id=uuid4(), user_id=twin.id, prefix="other234")

    with pytest.raises(Conflict, match="email same@example"):
        await users.add_with_first_key(twin, key)

    assert await keys.get(key.id) is None
    assert await users.get(twin.id) is None
    assert [stored.id for stored in await keys.list_for_user(user.id)] == [issued.record.id]
