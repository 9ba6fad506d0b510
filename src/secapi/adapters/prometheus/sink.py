"""`MetricsSink` on prometheus_client: the metric names and labels of DESIGN section 6.

`secapi_scan_requests_total{scan_type,status,tier}` counts two kinds of event
(see `ScanRequestStatus`): how each scan request was answered (`hit`, `miss`,
`bypass`, `rejected`) and how each scan that ran ended (`completed`,
`failed`). `secapi_scan_duration_seconds{scan_type}` observes cache hits'
answer times and scans' run times, so its buckets reach from 1 ms to 5 min.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import Counter, Gauge, Histogram

from secapi.adapters.prometheus.exposition import PrometheusExposition
from secapi.domain.metrics import MetricsSink, ScanRequestStatus
from secapi.domain.model import ScanType
from secapi.domain.tiers import Tier

SCAN_DURATION_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip

SYNC_DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)
REMATCH_DURATION_BUCKETS = (0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0, 300.0)
M = TypeVar("M", Counter, Gauge, Histogram)


class LabelledChildren(Generic[M]):
    """Children of a labelled metric, memoised: `labels()` validates and locks on every call, the hot path need not."""

    def __init__(self, metric: M) -> None:
        self._metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *label_values: str) -> M:
        """The child for these label values (label sets are bounded by design: tiers, scan types, routes)."""
        child = self._children.get(label_values)
        if child is None:
            child = self._children[label_values] = self._metric.labels(*label_values)
        return child


class PrometheusMetricsSink(MetricsSink):
    """Maps domain events to Prometheus counters, histograms and gauges."""

    def __init__(
        self, exposition: PrometheusExposition, *, shared_backend: str | None, vulndb_update_period: float
    ) -> None:
        registry = exposition.registry
        self._shared_backend = shared_backend
        self._requests = LabelledChildren(
            Counter(
                "secapi_scan_requests",
                "Scan requests by how they were answered (hit, miss, bypass, rejected) "
                "and scans run by how they ended (completed, failed).",
                ["scan_type", "status", "tier"],
                registry=registry,
            )
        )
        self._durations = LabelledChildren(
            Histogram(
                "secapi_scan_duration_seconds",
                "Seconds to a scan result: a cache hit's answer, or a scan's run.",
                ["scan_type"],
                buckets=SCAN_DURATION_BUCKETS,
                registry=registry,
            )
        )
        hits = Counter(
            "secapi_cache_hits", "Result cache lookups that found a servable result.", ["scan_type"], registry=registry
        )
        misses = Counter(
            "secapi_cache_misses",
            "Result cache lookups that found none (or no cache).",
            ["scan_type"],
            registry=registry,
        )
        self._hits, self._misses = LabelledChildren(hits), LabelledChildren(misses)
        for scan_type in ScanType:  # present at 0 from the start, so hit-rate ratios exist before the first hit
            self._hits(scan_type.value)
            self._misses(scan_type.value)
        self._cache_unavailable = LabelledChildren(
            Counter(
                "secapi_cache_unavailable",
                "Result cache operations that failed to reach the cache.",
                ["operation"],
                registry=registry,
            )
        )
        self._rate_limited = LabelledChildren(
            Counter(
                "secapi_rate_limit_exceeded",
                "Requests refused by a quota, by tier and route or scan type.",
                ["tier", "endpoint"],
                registry=registry,
            )
        )
        self._limiter_unavailable = Counter(
            "secapi_rate_limiter_unavailable", "Quota checks that could not reach the limiter.", registry=registry
        )
        self._active = LabelledChildren(
            Gauge(
                "secapi_scans_active",
                "Scans running now.",
                ["scan_type"],
                multiprocess_mode="livesum",
                registry=registry,
            )
        )
        self._up = LabelledChildren(
            Gauge(
                "secapi_dependency_up",
                "1 when the backing service answered its last check, else 0.",
                ["dependency"],
                multiprocess_mode="mostrecent",
                registry=registry,
            )
        )
        self._vulndb_version = Gauge(
            "secapi_vulndb_version",
            "Vulnerability database version in force.",
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self._vulndb_advisories = Gauge(
            "secapi_vulndb_advisories",
            "Advisories in the vulnerability database.",
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self._vulndb_age = Gauge(
            "secapi_vulndb_age_seconds",
            "Seconds since the vulnerability database last changed.",
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        period = Gauge(
            "secapi_vulndb_update_period_seconds",
            "Seconds between scheduled vulnerability data imports.",
            multiprocess_mode="max",
            registry=registry,
        )
        period.set(vulndb_update_period)
        self._queued = Gauge(
            "secapi_scan_queue_depth", "Scans waiting for a worker.", multiprocess_mode="mostrecent", registry=registry
        )
        self._sync_last_success = Gauge(
            "secapi_vulndb_sync_last_success_timestamp_seconds",
            "Unix time the last `secapi vulndb sync` run in which every ecosystem and feed succeeded ended "
            "(stored in the database; 0: never).",
            multiprocess_mode="max",
            registry=registry,
        )
        self._sync_duration = Histogram(
            "secapi_vulndb_sync_duration_seconds",
            "Seconds a sync run took.",
            buckets=SYNC_DURATION_BUCKETS,
            registry=registry,
        )
        self._sync_records = LabelledChildren(
            Counter(
                "secapi_vulndb_sync_records",
                "Records a sync stored, by ecosystem and change (added, updated, withdrawn).",
                ["ecosystem", "change"],
                registry=registry,
            )
        )
        self._sync_failures = LabelledChildren(
            Counter(
                "secapi_vulndb_sync_failures",
                "Ecosystems (or feeds) a sync could not bring up to date.",
                ["ecosystem"],
                registry=registry,
            )
        )
        self._rematch_duration = Histogram(
            "secapi_watch_rematch_duration_seconds",
            "Seconds a re-match of the watched targets took after a database update.",
            buckets=REMATCH_DURATION_BUCKETS,
            registry=registry,
        )
        self._watch_events = LabelledChildren(
            Counter("secapi_watch_events", "Watch events written, by kind.", ["kind"], registry=registry)
        )
        self._watch_webhooks = LabelledChildren(
            Counter(
                "secapi_watch_webhooks",
                "scan.new_findings delivery attempts, by outcome (delivered, retried, given_up).",
                ["outcome"],
                registry=registry,
            )
        )

    def scan_requested(self, scan_type: str, tier: Tier, status: ScanRequestStatus, seconds: float | None) -> None:
        """Count the request; observe a hit's answer time as its scan duration."""
        self._requests(scan_type, status.value, tier.value).inc()
        if seconds is not None:
            self._durations(scan_type).observe(seconds)

    def scan_started(self, scan_type: str) -> None:
        """One more active scan."""
        self._active(scan_type).inc()

    def scan_finished(self, scan_type: str, tier: Tier, *, failed: bool, seconds: float) -> None:
        """One fewer active scan; count its outcome, observe its duration."""
        self._active(scan_type).dec()
        status = ScanRequestStatus.FAILED if failed else ScanRequestStatus.COMPLETED
        self._requests(scan_type, status.value, tier.value).inc()
        self._durations(scan_type).observe(seconds)

    def scan_interrupted(self, scan_type: str) -> None:
        """One fewer active scan."""
        self._active(scan_type).dec()

    def cache_lookup(self, scan_type: str, *, hit: bool) -> None:
        """Count a hit or a miss."""
        (self._hits if hit else self._misses)(scan_type).inc()

    def cache_unavailable(self, operation: str) -> None:
        """Count the failure; the shared backend (Redis) is down until a check says otherwise."""
        self._cache_unavailable(operation).inc()
        if self._shared_backend is not None:
            self._up(self._shared_backend).set(0)

    def rate_limit_exceeded(self, tier: Tier, endpoint: str) -> None:
        """Count the refusal."""
        self._rate_limited(tier.value, endpoint).inc()

    def rate_limiter_unavailable(self) -> None:
        """Count the failure; the shared backend (Redis) is down until a check says otherwise."""
        self._limiter_unavailable.inc()
        if self._shared_backend is not None:
            self._up(self._shared_backend).set(0)

    def dependency_checked(self, name: str, *, available: bool) -> None:
        """Record the dependency's state."""
        self._up(name).set(1 if available else 0)

    def vulndb_sampled(self, version: int, advisories: int, age_seconds: float | None) -> None:
        """Record version, size and age (age only once data was imported)."""
        self._vulndb_version.set(version)
        self._vulndb_advisories.set(advisories)
        if age_seconds is not None:
            self._vulndb_age.set(age_seconds)

    def backlog_sampled(self, queued_scans: int) -> None:
        """Record the queue depth."""
        self._queued.set(queued_scans)

    def vulndb_sync_ecosystem(
        self, ecosystem: str, *, failed: bool, seconds: float, added: int, updated: int, withdrawn: int
    ) -> None:
        """Count the records by change, or the failure (ecosystems come from settings: a bounded set)."""
        for change, count in (("added", added), ("updated", updated), ("withdrawn", withdrawn)):
            if count:
                self._sync_records(ecosystem, change).inc(count)
        if failed:
            self._sync_failures(ecosystem).inc()

    def vulndb_sync_finished(self, *, failed: bool, seconds: float, finished_at: float) -> None:
        """Observe the run's duration; a run without failures sets the last success time."""
        self._sync_duration.observe(seconds)
        if not failed:
            self._sync_last_success.set(finished_at)

    def vulndb_sync_sampled(self, last_success_at: float) -> None:
        """Export the last success time stored in the database (so the API and a restarted worker have it)."""
        self._sync_last_success.set(last_success_at)

    def watches_rematched(self, *, seconds: float, watches: int, new_events: int, resolved_events: int) -> None:
        """Observe the duration and count the events by kind."""
        self._rematch_duration.observe(seconds)
        if new_events:
            self._watch_events("new_findings").inc(new_events)
        if resolved_events:
            self._watch_events("resolved_findings").inc(resolved_events)

    def watch_webhook(self, outcome: str) -> None:
        """Count the attempt (three outcomes: a bounded label)."""
        self._watch_webhooks(outcome).inc()
