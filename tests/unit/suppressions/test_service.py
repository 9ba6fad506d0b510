"""`SuppressionService`: validation, limits, and what applies to a tenant's answers (memoised, by the clock)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest

from secapi.adapters.memory.suppressions import InMemorySuppressionRepository
from secapi.domain.errors import DependencyUnavailable, InvalidInput
from secapi.domain.model import Principal, User
from secapi.domain.services.suppressions import SuppressionService
from secapi.domain.suppressions import (
    NO_SUPPRESSIONS,
    IgnoreRule,
    StoredVex,
    SuppressionLimitReached,
    SuppressionNotFound,
)
from secapi.domain.tiers import Tier

from support.fakes import FakeClock
from support.suppressions import LODASH, MINIMIST, document, result, statement, stored


def caller(clock: FakeClock) -> Principal:
    user = User(
        id=uuid.uuid4(), email=f"{uuid.uuid4().hex}@example.com", tier=Tier.FREE, is_admin=False, created_at=clock.now()
    )
    return Principal(user=user, key_id=uuid.uuid4())


@pytest.fixture
def repository() -> InMemorySuppressionRepository:
    return InMemorySuppressionRepository()


@pytest.fixture
def service(repository: InMemorySuppressionRepository, clock: FakeClock) -> SuppressionService:
    return SuppressionService(repository, clock, default_limit=20, max_limit=100, max_rules=3, max_documents=1)


async def test_a_tenant_without_rules_gets_nothing_to_apply(service: SuppressionService, clock: FakeClock) -> None:
    assert await service.active_for(caller(clock)) is NO_SUPPRESSIONS


async def test_a_new_rule_applies_at_once_and_deleting_it_restores_the_finding(
    service: SuppressionService, clock: FakeClock
) -> None:
    alice = caller(clock)
    assert not (await service.active_for(alice)).active  # memoised as empty
    made = await service.add_rule(
        alice, advisory="CVE-2021-23337", package="lodash", reason="not used", expires_at=None
    )
    assert ids(await service.active_for(alice), LODASH.id)
    await service.delete_rule(alice, made.id)
    assert not ids(await service.active_for(alice), LODASH.id)


async def test_another_tenants_rules_never_apply(service: SuppressionService, clock: FakeClock) -> None:
    alice, bob = caller(clock), caller(clock)
    await service.add_rule(alice, advisory=LODASH.id, package=None, reason="accepted", expires_at=None)
    assert ids(await service.active_for(alice), LODASH.id)
    assert await service.active_for(bob) is NO_SUPPRESSIONS
    with pytest.raises(SuppressionNotFound):
        await service.delete_rule(bob, (await service.rules(alice, limit=None, after=None)).items[0].id)


async def test_an_expired_rule_stops_applying_by_the_clock(service: SuppressionService, clock: FakeClock) -> None:
    alice = caller(clock)
    await service.add_rule(
        alice,
        advisory=LODASH.id,
        package=None,
        reason="until the fix ships",
        expires_at=clock.now() + timedelta(hours=1),
    )
    assert ids(await service.active_for(alice), LODASH.id)
    clock.advance(3599)
    assert ids(await service.active_for(alice), LODASH.id)
    clock.advance(1)
    assert not ids(await service.active_for(alice), LODASH.id)


async def test_a_change_made_elsewhere_shows_after_the_memo_ttl(
    service: SuppressionService, repository: InMemorySuppressionRepository, clock: FakeClock
) -> None:
    alice = caller(clock)
    assert not (await service.active_for(alice)).active
    other_process = SuppressionService(repository, clock, default_limit=20, max_limit=100)
    await other_process.add_rule(alice, advisory=LODASH.id, package=None, reason="accepted", expires_at=None)
    assert not (await service.active_for(alice)).active  # still the memo
    clock.advance(5)
    assert ids(await service.active_for(alice), LODASH.id)


async def test_vex_documents_apply_and_deleting_one_restores(service: SuppressionService, clock: FakeClock) -> None:
    alice = caller(clock)
    doc = stored(document(statement(MINIMIST.id, "fixed", {"@id": "pkg:npm/minimist@1.2.5"}))).document
    vex = await service.add_vex(alice, doc)
    assert ids(await service.active_for(alice), MINIMIST.id)
    assert (await service.get_vex(alice, vex.id)).document == doc
    with pytest.raises(SuppressionLimitReached):
        await service.add_vex(alice, doc)
    await service.delete_vex(alice, vex.id)
    assert not ids(await service.active_for(alice), MINIMIST.id)
    with pytest.raises(SuppressionNotFound):
        await service.get_vex(alice, vex.id)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"advisory": "log4shell"}, "advisory"),
        ({"package": "pkg:npm/lodash?x=1"}, "package"),
        ({"reason": "   "}, "reason"),
        ({"expires_at": "past"}, "expires_at"),
    ],
)
async def test_rules_are_validated(
    service: SuppressionService, clock: FakeClock, fields: dict[str, str], field: str
) -> None:
    values: dict[str, object] = {"advisory": LODASH.id, "package": None, "reason": "accepted", "expires_at": None}
    values.update(fields)
    if values["expires_at"] == "past":
        values["expires_at"] = clock.now()
    with pytest.raises(InvalidInput) as raised:
        await service.add_rule(caller(clock), **values)  # type: ignore[arg-type]
    assert raised.value.field == field


async def test_the_rule_count_is_bounded(service: SuppressionService, clock: FakeClock) -> None:
    alice = caller(clock)
    for n in range(3):
        await service.add_rule(alice, advisory=f"CVE-2021-{n:04d}", package=None, reason="r", expires_at=None)
    with pytest.raises(SuppressionLimitReached):
        await service.add_rule(alice, advisory="CVE-2021-9999", package=None, reason="r", expires_at=None)


def ids(active: object, advisory: str) -> bool:
    """Whether `active` suppresses the finding `advisory` in a result holding LODASH and MINIMIST."""
    answered = active.apply(result(LODASH, MINIMIST))  # type: ignore[attr-defined]
    return any(f.id == advisory for f in answered.suppressed)


class FailingStore(InMemorySuppressionRepository):
    """The in-memory store, made unavailable on demand (as the SQL adapter is when PostgreSQL is down)."""

    down = False

    async def everything(self, user_id: uuid.UUID) -> tuple[Sequence[IgnoreRule], Sequence[StoredVex]]:
        if self.down:
            raise DependencyUnavailable("the database is unavailable: OperationalError")
        return await super().everything(user_id)


async def test_the_last_known_set_keeps_applying_while_the_database_is_down(clock: FakeClock) -> None:
    store = FailingStore()
    service = SuppressionService(store, clock, default_limit=20, max_limit=100)
    alice, bob = caller(clock), caller(clock)
    await service.add_rule(alice, advisory=LODASH.id, package=None, reason="accepted", expires_at=None)
    assert ids(await service.active_for(alice), LODASH.id)
    store.down = True
    clock.advance(60)
    assert ids(await service.active_for(alice), LODASH.id)
    with pytest.raises(DependencyUnavailable):
        await service.active_for(bob)  # nothing known: never an answer that silently drops its rules
