"""The in-process cache of key hash → principal: filled by authentication, cleared by account changes."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID

from secapi.domain.model import Principal
from secapi.domain.ports import Clock


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    expires_at: float


class PrincipalCache:
    """Process-wide LRU of key hash → principal, each entry living `ttl` seconds.

    Revocation and tier changes become visible within `ttl`; in the process
    that made the change, `forget_user` makes them visible at once.
    """

    def __init__(self, clock: Clock, *, ttl: float, max_entries: int) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, key_hash: str) -> Principal | None:
        """The cached principal, if present and fresh."""
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry.expires_at <= self._clock.monotonic():
            del self._entries[key_hash]
            return None
        self._entries.move_to_end(key_hash)
        return entry.principal

    def put(self, key_hash: str, principal: Principal) -> None:
        """Remember a principal for `ttl` seconds, evicting the least recently used beyond the bound."""
        if self._ttl <= 0:
            return
        self._entries[key_hash] = _Entry(principal, self._clock.monotonic() + self._ttl)
        self._entries.move_to_end(key_hash)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget_user(self, user_id: UUID) -> None:
        """Drop every cached principal of a user."""
        stale = [digest for digest, entry in self._entries.items() if entry.principal.user_id == user_id]
        for digest in stale:
            del self._entries[digest]

    def __len__(self) -> int:
        return len(self._entries)
