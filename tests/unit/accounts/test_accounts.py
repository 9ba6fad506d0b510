"""Accounts and authentication against in-memory fakes."""

from __future__ import annotations

import asyncio

import pytest

from secapi.domain import api_keys
from secapi.domain.errors import (
    ApiKeyNotFound,
    Conflict,
    DependencyUnavailable,
    InvalidInput,
    NotAuthenticated,
    UserNotFound,
)
from secapi.domain.model import ApiKey, User
from secapi.domain.principal_cache import PrincipalCache
from secapi.domain.services.accounts import AccountService
from secapi.domain.services.authentication import Authenticator
from secapi.domain.tiers import Tier

from support.fakes import FakeClock, InMemoryKeys, InMemoryUsers

TTL = 30.0


@pytest.fixture
def keys() -> InMemoryKeys:
    return InMemoryKeys()


@pytest.fixture
def users(keys: InMemoryKeys) -> InMemoryUsers:
    return InMemoryUsers(keys)


@pytest.fixture
def cache(clock: FakeClock) -> PrincipalCache:
    return PrincipalCache(clock, ttl=TTL, max_entries=3)


@pytest.fixture
def accounts(users: InMemoryUsers, keys: InMemoryKeys, clock: FakeClock, cache: PrincipalCache) -> AccountService:
    return AccountService(users, keys, clock, cache)


@pytest.fixture
def authenticator(users: InMemoryUsers, keys: InMemoryKeys, clock: FakeClock, cache: PrincipalCache) -> Authenticator:
    return Authenticator(users, keys, clock, cache)


async def test_new_user_gets_a_working_key_stored_only_as_hash(
    accounts: AccountService, authenticator: Authenticator, keys: InMemoryKeys
) -> None:
    user, issued = await accounts.create_user("Dev@Example.com", Tier.STARTER)
    assert user.email == "dev@example.com"
    stored = keys.rows[issued.record.id]
    assert issued.secret not in (stored.key_hash, stored.prefix)
    assert stored.key_hash == api_keys.hash_key(issued.secret)
    principal = await authenticator.authenticate(issued.secret)
    assert principal.user_id == user.id
    assert principal.user.tier is Tier.STARTER


async def test_duplicate_email_is_a_conflict(accounts: AccountService) -> None:
    await accounts.create_user("a@example.com", Tier.FREE)
    with pytest.raises(Conflict):
        await accounts.create_user("A@example.com ", Tier.PRO)


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "a b@example.com", "@example.com"])
async def test_malformed_email_is_rejected_naming_the_field(accounts: AccountService, email: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        await accounts.create_user(email, Tier.FREE)
    assert raised.value.field == "email"


@pytest.mark.parametrize(
    ("presented", "message"),
    [
        (None, "needs an API key"),
        ("", "needs an API key"),
        ("hunter2", "malformed"),
        ("sk_abcdefgh_short", "malformed"),
        ("sk_abcdefgh_" + "A" * 43, "not valid"),
    ],
)
async def test_missing_malformed_or_unknown_keys_are_refused(
    authenticator: Authenticator, presented: str | None, message: str
) -> None:
    with pytest.raises(NotAuthenticated, match=message):
        await authenticator.authenticate(presented)


async def test_key_with_a_known_prefix_but_wrong_secret_is_refused(
    accounts: AccountService, authenticator: Authenticator
) -> None:
    _, issued = await accounts.create_user("a@example.com", Tier.FREE)
    forged = issued.secret[:-1] + ("B" if issued.secret[-1] != "B" else "C")
    with pytest.raises(NotAuthenticated, match="not valid"):
        await authenticator.authenticate(forged)


async def test_lookup_is_cached_until_ttl_then_revocation_applies(
    users: InMemoryUsers, keys: InMemoryKeys, clock: FakeClock, cache: PrincipalCache, authenticator: Authenticator
) -> None:
    # A second process's AccountService has its own cache: revocation there is seen here after the TTL.
    other_process = AccountService(users, keys, clock, PrincipalCache(clock, ttl=TTL, max_entries=10))
    _, issued = await other_process.create_user("a@example.com", Tier.FREE)
    await authenticator.authenticate(issued.secret)
    lookups = keys.lookups
    await authenticator.authenticate(issued.secret)
    assert keys.lookups == lookups, "a cached key must not hit the repository"

    await other_process.revoke_key(issued.record.id)
    clock.advance(TTL - 1)
    await authenticator.authenticate(issued.secret)  # still cached
    clock.advance(2)
    with pytest.raises(NotAuthenticated, match="revoked"):
        await authenticator.authenticate(issued.secret)


async def test_revocation_in_the_same_process_applies_at_once(
    accounts: AccountService, authenticator: Authenticator
) -> None:
    _, issued = await accounts.create_user("a@example.com", Tier.FREE)
    await authenticator.authenticate(issued.secret)
    await accounts.revoke_key(issued.record.id)
    with pytest.raises(NotAuthenticated, match="revoked"):
        await authenticator.authenticate(issued.secret)


async def test_tier_change_is_seen_on_the_next_request(accounts: AccountService, authenticator: Authenticator) -> None:
    user, issued = await accounts.create_user("a@example.com", Tier.FREE)
    assert (await authenticator.authenticate(issued.secret)).user.tier is Tier.FREE
    await accounts.set_tier(user.id, Tier.BUSINESS)
    assert (await authenticator.authenticate(issued.secret)).user.tier is Tier.BUSINESS


async def test_cache_is_bounded(accounts: AccountService, authenticator: Authenticator, cache: PrincipalCache) -> None:
    for n in range(5):
        _, issued = await accounts.create_user(f"u{n}@example.com", Tier.FREE)
        await authenticator.authenticate(issued.secret)
    assert len(cache) == 3


async def test_revoking_twice_keeps_the_first_time(accounts: AccountService, clock: FakeClock) -> None:
    _, issued = await accounts.create_user("a@example.com", Tier.FREE)
    first = await accounts.revoke_key(issued.record.id)
    clock.advance(60)
    second = await accounts.revoke_key(issued.record.id)
    assert first.revoked_at == second.revoked_at


async def test_unknown_ids_raise_not_found(accounts: AccountService) -> None:
    from uuid import uuid4

    with pytest.raises(ApiKeyNotFound):
        await accounts.revoke_key(uuid4())
    with pytest.raises(UserNotFound):
        await accounts.set_tier(uuid4(), Tier.PRO)
    with pytest.raises(UserNotFound):
        await accounts.issue_key(uuid4())


def test_keys_are_high_entropy_and_parse_back() -> None:
    seen = {api_keys.generate_key()[1] for _ in range(200)}
    assert len(seen) == 200
    for key in seen:
        parsed = api_keys.parse_key(key)
        assert parsed is not None
        assert key.startswith(f"sk_{parsed.prefix}_")
        assert len(key) == 3 + 8 + 1 + 43
        assert api_keys.redact(key) == f"sk_{parsed.prefix}_…"
        assert api_keys.key_matches(key, api_keys.hash_key(key))
        assert not api_keys.key_matches(key + "x", api_keys.hash_key(key))


class SlowKeys(InMemoryKeys):
    """A key store that takes a moment to answer, like a database."""

    async def find_by_prefix(self, prefix: str) -> ApiKey | None:
        await asyncio.sleep(0.01)
        return await super().find_by_prefix(prefix)


async def _slow_store_with_uncached_key(
    users: InMemoryUsers, clock: FakeClock, cache: PrincipalCache
) -> tuple[SlowKeys, Authenticator, User, str]:
    keys = SlowKeys()
    users.keys = keys  # the first key goes where the authenticator looks
    accounts, authenticator = AccountService(users, keys, clock, cache), Authenticator(users, keys, clock, cache)
    user, issued = await accounts.create_user("burst@example.com", Tier.PRO)
    cache.forget_user(user.id)
    keys.lookups = 0
    return keys, authenticator, user, issued.secret


async def test_concurrent_requests_with_an_uncached_key_share_one_lookup(
    users: InMemoryUsers, clock: FakeClock, cache: PrincipalCache
) -> None:
    keys, authenticator, user, secret = await _slow_store_with_uncached_key(users, clock, cache)

    principals = await asyncio.gather(*(authenticator.authenticate(secret) for _ in range(20)))

    assert {p.user_id for p in principals} == {user.id}
    assert keys.lookups == 1
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    refused = await asyncio.gather(*(authenticator.authenticate(wrong) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, NotAuthenticated) for r in refused)
    assert keys.lookups == 2  # a bad key is looked up once per burst too, and refused for every caller


async def test_a_caller_that_gives_up_does_not_cancel_the_shared_lookup(
    users: InMemoryUsers, clock: FakeClock, cache: PrincipalCache
) -> None:
    keys, authenticator, user, secret = await _slow_store_with_uncached_key(users, clock, cache)
    impatient = asyncio.ensure_future(authenticator.authenticate(secret))
    patient = asyncio.ensure_future(authenticator.authenticate(secret))
    await asyncio.sleep(0)
    impatient.cancel()

    assert (await patient).user_id == user.id
    assert impatient.cancelled()
    assert keys.lookups == 1


class BrokenKeys(InMemoryKeys):
    """A key store whose insert fails, as a lost connection would between the user and the key rows."""

    async def add(self, key: ApiKey) -> None:
        raise DependencyUnavailable("the database connection was lost")


async def test_a_failed_first_key_leaves_no_user(clock: FakeClock, cache: PrincipalCache) -> None:
    broken = BrokenKeys()
    users = InMemoryUsers(broken)
    with pytest.raises(DependencyUnavailable):
        await AccountService(users, broken, clock, cache).create_user("a@example.com", Tier.FREE)
    assert users.rows == {}, "a user without a key could never authenticate, and would hold the email"

    users.keys = InMemoryKeys()
    user, issued = await AccountService(users, users.keys, clock, cache).create_user("a@example.com", Tier.FREE)
    assert users.keys.rows[issued.record.id].user_id == user.id
