"""The `MetricsSink` port: domain events that adapters turn into metrics (Prometheus) or records (tests).

Events are plain method calls with domain values; nothing here knows how they
are exported. Every call is synchronous and must be cheap: several happen on
the cache-hit path of every scan request.
"""

from __future__ import annotations

import hmac
from enum import StrEnum
from typing import Protocol

from secapi.domain.tiers import Tier


class ScanRequestStatus(StrEnum):
    """The `status` of a scan event.

    `hit`, `miss`, `bypass` and `rejected` say how a scan request was answered
    (exactly one per request that reached a scan service); `completed` and
    `failed` say how a scan that actually ran ended (exactly one per run, in the
    API for lockfiles, in the worker for images).
    """

    HIT = "hit"
    MISS = "miss"
    BYPASS = "bypass"
    REJECTED = "rejected"
    COMPLETED = "completed"
    FAILED = "failed"


class MetricsSink(Protocol):
    """Receives what happened in the domain; never raises, never blocks."""

    def scan_requested(self, scan_type: str, tier: Tier, status: ScanRequestStatus, seconds: float | None) -> None:
        """A scan request was answered (`hit`, `miss`, `bypass`) or refused by quota (`rejected`).

        `seconds` is given for hits: answering from the cache is that request's scan duration.
        """
        ...

    def scan_started(self, scan_type: str) -> None:
        """A scan began running in this process."""
        ...

    def scan_finished(self, scan_type: str, tier: Tier, *, failed: bool, seconds: float) -> None:
        """A scan that `scan_started` reported ended, after `seconds`."""
        ...

    def scan_interrupted(self, scan_type: str) -> None:
        """A started scan stopped without an outcome (shutdown, lost lease); it will be run again."""
        ...

    def cache_lookup(self, scan_type: str, *, hit: bool) -> None:
        """A result cache lookup found a servable entry, or not (an unavailable cache is a miss)."""
        ...

    def cache_unavailable(self, operation: str) -> None:
        """The result cache could not be reached during `operation` (`lookup`, `store`, `stats`)."""
        ...

    def rate_limit_exceeded(self, tier: Tier, endpoint: str) -> None:
        """A quota refused a request; `endpoint` is a route template or `scan/<type>`."""
        ...

    def rate_limiter_unavailable(self) -> None:
        """The limiter could not be reached; the request was admitted or refused by policy."""
        ...

    def dependency_checked(self, name: str, *, available: bool) -> None:
        """A readiness probe of a backing service (`database`, `redis`) answered, or did not."""
        ...

    def vulndb_sampled(self, version: int, advisories: int, age_seconds: float | None) -> None:
        """The vulnerability database in force: version, size and seconds since it last changed."""
        ...

    def backlog_sampled(self, queued_scans: int) -> None:
        """Scans waiting for a worker, across every process."""
        ...

    def vulndb_sync_ecosystem(
        self, ecosystem: str, *, failed: bool, seconds: float, added: int, updated: int, withdrawn: int
    ) -> None:
        """`secapi vulndb sync` synced one ecosystem (or feed, `feed:<name>`), or failed to."""
        ...

    def vulndb_sync_finished(self, *, failed: bool, seconds: float, finished_at: float) -> None:
        """A sync run ended at Unix time `finished_at`; `failed` when any ecosystem or feed failed."""
        ...

    def vulndb_sync_sampled(self, last_success_at: float) -> None:
        """The stored Unix time the last sync run in which every ecosystem and feed succeeded ended."""
        ...

    def watches_rematched(self, *, seconds: float, watches: int, new_events: int, resolved_events: int) -> None:
        """A re-match after a database update took `seconds` over `watches` watches and wrote these events."""
        ...

    def watch_webhook(self, outcome: str) -> None:
        """One `scan.new_findings` delivery attempt: `delivered`, `retried` or `given_up`."""
        ...


class ScanBacklog(Protocol):
    """Counts scans still waiting for a worker (the database is the source of truth)."""

    async def queued_count(self) -> int:
        """How many scans are queued."""
        ...


class DependencyChecks(Protocol):
    """Checks every dependency and reports each to the metrics sink (`ReadinessService`), for the scrape's gauges."""

    async def check(self) -> object:
        """Run the checks; what they found is reported to the sink (the return value is not needed here)."""
        ...


class MetricsExposition(Protocol):
    """Renders a scrape of this instance's metrics."""

    def render(self, accept: str) -> tuple[bytes, str]:
        """The body and its content type, in the format `accept` (a scraper's Accept header) asks for."""
        ...


class PoolSampler(Protocol):
    """Copies the database connection pool's counts into gauges; run before each scrape."""

    def sample(self) -> None:
        """Read the pool now."""
        ...


def scrape_authorized(authorization: str | None, token: str) -> bool:
    """True when no token is configured, or `authorization` is `Bearer <token>` (compared in constant time)."""
    if not token:
        return True
    scheme, _, presented = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


class NoMetrics:
    """A sink that drops every event (metrics disabled, or tools outside the server)."""

    def scan_requested(self, scan_type: str, tier: Tier, status: ScanRequestStatus, seconds: float | None) -> None:
        """Drop."""

    def scan_started(self, scan_type: str) -> None:
        """Drop."""

    def scan_finished(self, scan_type: str, tier: Tier, *, failed: bool, seconds: float) -> None:
        """Drop."""

    def scan_interrupted(self, scan_type: str) -> None:
        """Drop."""

    def cache_lookup(self, scan_type: str, *, hit: bool) -> None:
        """Drop."""

    def cache_unavailable(self, operation: str) -> None:
        """Drop."""

    def rate_limit_exceeded(self, tier: Tier, endpoint: str) -> None:
        """Drop."""

    def rate_limiter_unavailable(self) -> None:
        """Drop."""

    def dependency_checked(self, name: str, *, available: bool) -> None:
        """Drop."""

    def vulndb_sampled(self, version: int, advisories: int, age_seconds: float | None) -> None:
        """Drop."""

    def backlog_sampled(self, queued_scans: int) -> None:
        """Drop."""

    def vulndb_sync_ecosystem(
        self, ecosystem: str, *, failed: bool, seconds: float, added: int, updated: int, withdrawn: int
    ) -> None:
        """Drop."""

    def vulndb_sync_finished(self, *, failed: bool, seconds: float, finished_at: float) -> None:
        """Drop."""

    def vulndb_sync_sampled(self, last_success_at: float) -> None:
        """Drop."""

    def watches_rematched(self, *, seconds: float, watches: int, new_events: int, resolved_events: int) -> None:
        """Drop."""

    def watch_webhook(self, outcome: str) -> None:
        """Drop."""
