"""Request counts of shareable inputs in process memory, bounded, for cache warming."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from typing import Any

import msgspec

from secapi.domain.caching import PopularInputs

_decoder = msgspec.json.Decoder(dict[str, Any])


def ranked(counts: Counter[str], limit: int) -> list[str]:
    """The `limit` most counted hashes, ties broken by hash descending (as Redis `ZREVRANGE` orders them)."""
    best = heapq.nlargest(limit, counts.items(), key=lambda item: (item[1], item[0]))
    return [input_hash for input_hash, _ in best]


class InMemoryPopularInputs(PopularInputs):
    """`PopularInputs` over a Counter per scan type, trimmed to `max_tracked` every `trim_every` touches.

    Between trims a scan type may hold up to `max_tracked + trim_every` inputs. A trim drops
    everything below the top `max_tracked`, so a new input must out-count the tail between
    two trims to stay tracked (counts never decay).
    """

    def __init__(self, *, max_tracked: int = 10_000, trim_every: int = 100) -> None:
        self._max_tracked = max_tracked
        self._trim_every = trim_every
        self._counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        # Encoded, like the Redis hash: callers cannot mutate what was stored, and non-JSON fails alike.
        self._inputs: defaultdict[str, dict[str, bytes]] = defaultdict(dict)
        self._touches = 0

    def tracked(self, scan_type: str) -> int:
        """How many inputs of this type are counted now."""
        return len(self._counts[scan_type])

    async def touch(self, scan_type: str, input_hash: str, data: dict[str, Any]) -> None:
        """Count one request."""
        self._counts[scan_type][input_hash] += 1
        if input_hash not in self._inputs[scan_type]:
            self._inputs[scan_type][input_hash] = msgspec.json.encode(data)
        self._touches += 1
        if self._touches % self._trim_every == 0:
            self._trim(scan_type)

    async def top(self, scan_type: str, limit: int) -> list[dict[str, Any]]:
        """The most requested inputs, most popular first."""
        if limit <= 0:
            return []
        inputs = self._inputs[scan_type]
        return [_decoder.decode(inputs[input_hash]) for input_hash in ranked(self._counts[scan_type], limit)]

    def _trim(self, scan_type: str) -> None:
        counts = self._counts[scan_type]
        if len(counts) <= self._max_tracked:
            return
        kept = set(ranked(counts, self._max_tracked))
        for input_hash in [h for h in counts if h not in kept]:
            del counts[input_hash]
            self._inputs[scan_type].pop(input_hash, None)
