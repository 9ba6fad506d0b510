"""One contract, two adapters: the in-memory and the SQL (SQLite) suppression repositories."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from secapi.adapters.memory.suppressions import InMemorySuppressionRepository
from secapi.adapters.sql.engine import create_session_factory
from secapi.adapters.sql.migrate import upgrade
from secapi.adapters.sql.repositories import SqlUserRepository
from secapi.adapters.sql.suppressions import SqlSuppressionRepository
from secapi.domain.model import User
from secapi.domain.suppressions import SuppressionLimitReached, SuppressionRepository
from secapi.domain.tiers import Tier

from support.suppressions import T0, document, rule, statement, stored

ALICE = uuid.UUID(int=1)
BOB = uuid.UUID(int=2)


@pytest.fixture(params=["memory", "sqlite"])
async def repository(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SuppressionRepository]:
    if request.param == "memory":
        yield InMemorySuppressionRepository()
        return
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/secapi.db")
    await upgrade(engine)
    users = SqlUserRepository(create_session_factory(engine))
    for user_id, email in ((ALICE, "alice@example.com"), (BOB, "bob@example.com")):
        await users.add(User(id=user_id, email=email, tier=Tier.FREE, is_admin=False, created_at=T0))
    yield SqlSuppressionRepository(engine)
    await engine.dispose()


async def test_rules_are_per_tenant_newest_first_and_paged(repository: SuppressionRepository) -> None:
    made = [rule(f"CVE-2021-{n:04d}", "pkg:npm/lodash@4.*", expires_at=T0 + timedelta(days=n + 1)) for n in range(5)]
    made = [r.__class__(**{**_fields(r), "created_at": T0 + timedelta(seconds=n)}) for n, r in enumerate(made)]
    for r in made:
        await repository.add_rule(r, limit=10)
    await repository.add_rule(rule("CVE-2022-0001", user=BOB), limit=10)
    first = await repository.rules(ALICE, limit=3, after=None)
    assert [r.advisory for r in first.items] == ["CVE-2021-0004", "CVE-2021-0003", "CVE-2021-0002"]
    assert first.items[0] == made[4]
    assert first.next_cursor is not None
    second = await repository.rules(ALICE, limit=3, after=first.next_cursor)
    assert [r.advisory for r in second.items] == ["CVE-2021-0001", "CVE-2021-0000"]
    assert second.next_cursor is None
    rules, documents = await repository.everything(BOB)
    assert [r.advisory for r in rules] == ["CVE-2022-0001"]
    assert list(documents) == []


async def test_deleting_needs_the_owner(repository: SuppressionRepository) -> None:
    mine = rule("CVE-2021-0001")
    await repository.add_rule(mine, limit=10)
    assert not await repository.delete_rule(BOB, mine.id)
    assert await repository.delete_rule(ALICE, mine.id)
    assert not await repository.delete_rule(ALICE, mine.id)
    assert list((await repository.everything(ALICE))[0]) == []


async def test_the_rule_limit_holds_under_concurrent_adds(repository: SuppressionRepository) -> None:
    outcomes = await asyncio.gather(
        *(repository.add_rule(rule(f"CVE-2021-{n:04d}"), limit=3) for n in range(6)), return_exceptions=True
    )
    assert sum(1 for o in outcomes if isinstance(o, SuppressionLimitReached)) == 3
    assert len((await repository.everything(ALICE))[0]) == 3
    await repository.add_rule(rule("CVE-2021-9999", user=BOB), limit=3)  # another tenant's count is its own


async def test_vex_documents_round_trip(repository: SuppressionRepository) -> None:
    doc = document(
        statement(
            "CVE-2021-23337",
            "not_affected",
            {"@id": "pkg:oci/web", "subcomponents": [{"identifiers": {"purl": "pkg:npm/lodash"}}]},
            justification="component_not_present",
        )
    )
    vex = stored(doc)
    await repository.add_vex(vex, limit=2)
    assert await repository.get_vex(ALICE, vex.id) == vex
    assert await repository.get_vex(BOB, vex.id) is None
    page = await repository.vex_documents(ALICE, limit=10, after=None)
    assert page.items == [vex]
    assert page.next_cursor is None
    await repository.add_vex(stored(doc), limit=2)
    with pytest.raises(SuppressionLimitReached):
        await repository.add_vex(stored(doc), limit=2)
    assert not await repository.delete_vex(BOB, vex.id)
    assert await repository.delete_vex(ALICE, vex.id)
    assert len((await repository.everything(ALICE))[1]) == 1


def _fields(item: object) -> dict[str, object]:
    return {name: getattr(item, name) for name in item.__slots__}  # type: ignore[attr-defined]
