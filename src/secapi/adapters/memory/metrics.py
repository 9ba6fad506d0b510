"""A `MetricsSink` that records every event and keeps the counts they add up to, for tests to assert on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from secapi.domain.metrics import MetricsSink, ScanRequestStatus
from secapi.domain.tiers import Tier


@dataclass(frozen=True, slots=True)
class VulnDbSample:
    """The vulnerability database as last sampled."""

    version: int
    advisories: int
    age_seconds: float | None


@dataclass
class RecordingMetrics(MetricsSink):
    """Honest in-memory metrics: the same counters and gauges the Prometheus adapter keeps, as plain values.

    `events` lists every call in order as `(event, *arguments)`.
    """

    events: list[tuple[object, ...]] = field(default_factory=list)
    scan_requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(scan_type, status, tier) → count, like `secapi_scan_requests_total`."""
    scan_durations: dict[str, list[float]] = field(default_factory=dict)
    """scan_type → observed seconds, like `secapi_scan_duration_seconds`."""
    active_scans: Counter[str] = field(default_factory=Counter)
    cache_hits: Counter[str] = field(default_factory=Counter)
    cache_misses: Counter[str] = field(default_factory=Counter)
    cache_unavailable_by_operation: Counter[str] = field(default_factory=Counter)
    rate_limited: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(tier, endpoint) → count, like `secapi_rate_limit_exceeded_total`."""
    limiter_unavailable: int = 0
    dependencies: dict[str, bool] = field(default_factory=dict)
    vulndb: VulnDbSample | None = None
    queued_scans: int | None = None
    sync_records: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(ecosystem, added|updated|withdrawn) → records, like `secapi_vulndb_sync_records_total`."""
    sync_failures: Counter[str] = field(default_factory=Counter)
    sync_last_success: float | None = None

    def scan_requested(self, scan_type: str, tier: Tier, status: ScanRequestStatus, seconds: float | None) -> None:
        """Count the request; a hit's seconds are a scan duration."""
        self.events.append(("scan_requested", scan_type, tier.value, status.value))
        self.scan_requests[(scan_type, status.value, tier.value)] += 1
        if seconds is not None:
            self.scan_durations.setdefault(scan_type, []).append(seconds)

    def scan_started(self, scan_type: str) -> None:
        """One more active scan."""
        self.events.append(("scan_started", scan_type))
        self.active_scans[scan_type] += 1

    def scan_finished(self, scan_type: str, tier: Tier, *, failed: bool, seconds: float) -> None:
        """One fewer active scan; count its outcome and duration."""
        status = ScanRequestStatus.FAILED if failed else ScanRequestStatus.COMPLETED
        self.events.append(("scan_finished", scan_type, tier.value, status.value))
        self.active_scans[scan_type] -= 1
        self.scan_requests[(scan_type, status.value, tier.value)] += 1
        self.scan_durations.setdefault(scan_type, []).append(seconds)

    def scan_interrupted(self, scan_type: str) -> None:
        """One fewer active scan, no outcome."""
        self.events.append(("scan_interrupted", scan_type))
        self.active_scans[scan_type] -= 1

    def cache_lookup(self, scan_type: str, *, hit: bool) -> None:
        """Count a hit or a miss."""
        self.events.append(("cache_lookup", scan_type, hit))
        (self.cache_hits if hit else self.cache_misses)[scan_type] += 1

    def cache_unavailable(self, operation: str) -> None:
        """Count the failed operation."""
        self.events.append(("cache_unavailable", operation))
        self.cache_unavailable_by_operation[operation] += 1

    def rate_limit_exceeded(self, tier: Tier, endpoint: str) -> None:
        """Count the refusal."""
        self.events.append(("rate_limit_exceeded", tier.value, endpoint))
        self.rate_limited[(tier.value, endpoint)] += 1

    def rate_limiter_unavailable(self) -> None:
        """Count the outage."""
        self.events.append(("rate_limiter_unavailable",))
        self.limiter_unavailable += 1

    def dependency_checked(self, name: str, *, available: bool) -> None:
        """Remember the latest state."""
        self.events.append(("dependency_checked", name, available))
        self.dependencies[name] = available

    def vulndb_sampled(self, version: int, advisories: int, age_seconds: float | None) -> None:
        """Remember the latest sample."""
        self.events.append(("vulndb_sampled", version, advisories, age_seconds))
        self.vulndb = VulnDbSample(version=version, advisories=advisories, age_seconds=age_seconds)

    def backlog_sampled(self, queued_scans: int) -> None:
        """Remember the latest sample."""
        self.events.append(("backlog_sampled", queued_scans))
        self.queued_scans = queued_scans

    def vulndb_sync_ecosystem(
        self, ecosystem: str, *, failed: bool, seconds: float, added: int, updated: int, withdrawn: int
    ) -> None:
        """Count records by change and failures by ecosystem."""
        self.events.append(("vulndb_sync_ecosystem", ecosystem, failed, added, updated, withdrawn))
        for change, count in (("added", added), ("updated", updated), ("withdrawn", withdrawn)):
            self.sync_records[(ecosystem, change)] += count
        if failed:
            self.sync_failures[ecosystem] += 1

    def vulndb_sync_finished(self, *, failed: bool, seconds: float, finished_at: float) -> None:
        """Remember the last success time."""
        self.events.append(("vulndb_sync_finished", failed))
        if not failed:
            self.sync_last_success = finished_at

    def vulndb_sync_sampled(self, last_success_at: float) -> None:
        """Remember the stored last success time."""
        self.events.append(("vulndb_sync_sampled", last_success_at))
        self.sync_last_success = last_success_at

    def watches_rematched(self, *, seconds: float, watches: int, new_events: int, resolved_events: int) -> None:
        """Record the re-match."""
        self.events.append(("watches_rematched", watches, new_events, resolved_events))

    def watch_webhook(self, outcome: str) -> None:
        """Record the delivery outcome."""
        self.events.append(("watch_webhook", outcome))
