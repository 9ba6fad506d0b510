"""Turning a bearer key into a `Principal`, with a short in-process cache."""

from __future__ import annotations

import asyncio
import functools

from secapi.domain import api_keys
from secapi.domain.errors import NotAuthenticated
from secapi.domain.model import Principal
from secapi.domain.ports import ApiKeyRepository, Clock, UserRepository
from secapi.domain.principal_cache import PrincipalCache


class Authenticator:
    """Verifies a presented API key against the stored hash, through the cache."""

    def __init__(self, users: UserRepository, keys: ApiKeyRepository, clock: Clock, cache: PrincipalCache) -> None:
        self._users = users
        self._keys = keys
        self._clock = clock
        self._cache = cache
        self._loading: dict[str, asyncio.Future[Principal]] = {}

    async def authenticate(self, presented: str | None) -> Principal:
        """The principal owning `presented`; `NotAuthenticated` for a missing, malformed, unknown or revoked key."""
        if not presented:
            raise NotAuthenticated("this endpoint needs an API key: send 'Authorization: Bearer <key>'")
        parsed = api_keys.parse_key(presented)
        if parsed is None:
            raise NotAuthenticated("the API key is malformed: keys look like sk_<8 characters>_<43 characters>")
        digest = api_keys.hash_key(parsed.full)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        # Concurrent requests with the same uncached key share one lookup (no stampede when an entry expires).
        loading = self._loading.get(digest)
        if loading is None:
            loading = self._loading[digest] = asyncio.ensure_future(self._load_and_cache(parsed, digest))
            loading.add_done_callback(functools.partial(self._loaded, digest))
        return await asyncio.shield(loading)  # a caller that gives up does not cancel the others' lookup

    async def _load_and_cache(self, parsed: api_keys.ParsedKey, digest: str) -> Principal:
        principal = await self._load(parsed)
        self._cache.put(digest, principal)
        return principal

    def _loaded(self, digest: str, done: asyncio.Future[Principal]) -> None:
        self._loading.pop(digest, None)
        if not done.cancelled():
            done.exception()  # retrieved here too, for when every caller gave up

    async def _load(self, parsed: api_keys.ParsedKey) -> Principal:
        record = await self._keys.find_by_prefix(parsed.prefix)
        # Compare even when no record exists so timing does not reveal which prefixes exist.
        stored = record.key_hash if record is not None else "0" * 64
        if not api_keys.key_matches(parsed.full, stored) or record is None:
            raise NotAuthenticated("the API key is not valid")
        if record.is_revoked:
            raise NotAuthenticated("the API key has been revoked")
        user = await self._users.get(record.user_id)
        if user is None:
            raise NotAuthenticated("the API key is not valid")
        await self._keys.touch(record.id, self._clock.now())
        return Principal(user=user, key_id=record.id)
