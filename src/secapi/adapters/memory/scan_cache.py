"""Scan results in process memory (embedded default and unit tests): TTLs, LRU bound, statistics."""

from __future__ import annotations

from collections import Counter, OrderedDict
from fnmatch import fnmatchcase

import msgspec

from secapi.domain.caching import CachedScan, CacheStats, ScanCache, check_invalidation_pattern, hit_rates
from secapi.domain.ports import Clock

_decoder = msgspec.json.Decoder(CachedScan)
_encoder = msgspec.json.Encoder()


class InMemoryScanCache(ScanCache):
    """`ScanCache` over an LRU-ordered dict of encoded entries, expiring by the injected clock."""

    def __init__(self, clock: Clock, *, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        # Encoded bytes, as Redis holds them: an entry that does not round-trip fails here too.
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        self.gets = 0
        self.sets = 0
        self.evictions = 0

    def keys(self) -> list[str]:
        """The live keys, least recently used first."""
        self._purge_expired()
        return list(self._entries)

    async def get_scan_result(self, cache_key: str) -> CachedScan | None:
        """The live entry (refreshing its LRU position), or None."""
        self.gets += 1
        stored = self._entries.get(cache_key)
        if stored is None:
            return None
        payload, expires = stored
        if expires <= self._clock.monotonic():
            del self._entries[cache_key]
            return None
        entry = _decoder.decode(payload)
        if entry.expires_at <= self._clock.now():
            del self._entries[cache_key]
            return None
        self._entries.move_to_end(cache_key)
        return entry

    async def set_scan_result(self, cache_key: str, result: CachedScan, ttl: int) -> None:
        """Store for `ttl` seconds, evicting the least recently used entries beyond the bound."""
        if ttl <= 0:
            return
        self.sets += 1
        self._entries[cache_key] = (_encoder.encode(result), self._clock.monotonic() + ttl)
        self._entries.move_to_end(cache_key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
            self.evictions += 1

    async def invalidate_pattern(self, pattern: str) -> int:
        """Delete the live keys matching the glob (fnmatch syntax, which covers `*`, `?` and `[...]`)."""
        check_invalidation_pattern(pattern)
        self._purge_expired()
        doomed = [key for key in self._entries if fnmatchcase(key, pattern)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    async def get_cache_stats(self) -> CacheStats:
        """This process's counters; `memory_bytes` counts the stored payloads only."""
        self._purge_expired()
        hits, misses = dict(self.hits), dict(self.misses)
        return CacheStats(
            hits=hits,
            misses=misses,
            hit_rate=hit_rates(hits, misses),
            keys=len(self._entries),
            memory_bytes=sum(len(payload) for payload, _ in self._entries.values()),
            memory_by_node={},
            available=True,
        )

    async def record(self, scan_type: str, *, hit: bool) -> None:
        """Count one lookup."""
        (self.hits if hit else self.misses)[scan_type] += 1

    def _purge_expired(self) -> None:
        now = self._clock.monotonic()
        for key in [key for key, (_, expires) in self._entries.items() if expires <= now]:
            del self._entries[key]
