"""Accounts: creating tenants, issuing and revoking their API keys, changing tiers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from uuid import UUID

from secapi.domain import api_keys
from secapi.domain.errors import ApiKeyNotFound, Conflict, InvalidInput, UserNotFound
from secapi.domain.model import ApiKey, IssuedKey, User
from secapi.domain.ports import ApiKeyRepository, Clock, UserRepository
from secapi.domain.principal_cache import PrincipalCache
from secapi.domain.text import NUL, refuse_nul
from secapi.domain.tiers import Tier

# Deliberately loose: the address is an identifier here, not something we mail
# through a validator; it must look like an address and fit the column.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
_MAX_PREFIX_ATTEMPTS = 5


class AccountService:
    """Creates users, issues and revokes keys, and changes tiers."""

    def __init__(self, users: UserRepository, keys: ApiKeyRepository, clock: Clock, principals: PrincipalCache) -> None:
        self._users = users
        self._keys = keys
        self._clock = clock
        # Changes made here are visible at once in this process; elsewhere within the cache TTL.
        self._principals = principals

    async def create_user(self, email: str, tier: Tier, *, is_admin: bool = False) -> tuple[User, IssuedKey]:
        """A new user and their first API key; `Conflict` if the email is taken."""
        normalized = refuse_nul(email, "email").strip().lower()
        if not _EMAIL.fullmatch(normalized):
            raise InvalidInput(f"{email!r} is not an email address", field="email")
        if await self._users.get_by_email(normalized) is not None:
            raise Conflict(f"a user with email {normalized} already exists")
        user = User(id=uuid.uuid4(), email=normalized, tier=tier, is_admin=is_admin, created_at=self._clock.now())
        issued = await self._new_key(user.id, name="initial")
        # One transaction: a failed key insert must not leave a user who can never authenticate.
        await self._users.add_with_first_key(user, issued.record)
        return user, issued

    async def get_user(self, user_id: UUID) -> User:
        """The user with this id; `UserNotFound` otherwise."""
        user = await self._users.get(user_id)
        if user is None:
            raise UserNotFound(f"no user with id {user_id}")
        return user

    async def find_user_by_email(self, email: str) -> User:
        """The user with this email; `UserNotFound` otherwise."""
        user = await self._users.get_by_email(email.strip().lower()) if NUL not in email else None
        if user is None:
            raise UserNotFound(f"no user with email {email}")
        return user

    async def issue_key(self, user_id: UUID, *, name: str | None = None) -> IssuedKey:
        """A new API key for the user; the plaintext is returned here and never again."""
        if name is not None:
            refuse_nul(name, "name")
        await self.get_user(user_id)
        issued = await self._new_key(user_id, name=name)
        await self._keys.add(issued.record)
        return issued

    async def _new_key(self, user_id: UUID, *, name: str | None) -> IssuedKey:
        """A key with a prefix no stored key has yet (not stored: the caller does that)."""
        for _ in range(_MAX_PREFIX_ATTEMPTS):
            prefix, secret = api_keys.generate_key()
            if await self._keys.find_by_prefix(prefix) is None:
                break
        else:  # pragma: no cover - 32^8 prefixes make this a cosmic-ray event
            raise Conflict("could not allocate a unique key prefix; try again")
        record = ApiKey(
            id=uuid.uuid4(),
            user_id=user_id,
            prefix=prefix,
            key_hash=api_keys.hash_key(secret),
            name=name,
            created_at=self._clock.now(),
        )
        return IssuedKey(record=record, secret=secret)

    async def list_keys(self, user_id: UUID) -> Sequence[ApiKey]:
        """The user's keys (records only), newest first."""
        await self.get_user(user_id)
        return await self._keys.list_for_user(user_id)

    async def revoke_key(self, key_id: UUID) -> ApiKey:
        """Revoke a key; repeated revocation keeps the first revocation time."""
        revoked = await self._keys.revoke(key_id, self._clock.now())
        if revoked is None:
            raise ApiKeyNotFound(f"no API key with id {key_id}")
        self._principals.forget_user(revoked.user_id)
        return revoked

    async def set_tier(self, user_id: UUID, tier: Tier) -> User:
        """Move a user to another tier; takes effect on their next request."""
        user = await self._users.set_tier(user_id, tier)
        if user is None:
            raise UserNotFound(f"no user with id {user_id}")
        self._principals.forget_user(user_id)
        return user
