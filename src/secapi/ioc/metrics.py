"""Metrics: Prometheus (the default) or none, and the periodic sampler of gauges."""

from __future__ import annotations

from dishka import Provider, Scope, alias, provide

from secapi.adapters.prometheus.exposition import PrometheusExposition
from secapi.adapters.prometheus.http import PrometheusHttpMetrics
from secapi.adapters.prometheus.pool import SqlAlchemyPoolMetrics
from secapi.adapters.prometheus.sink import PrometheusMetricsSink
from secapi.config import Settings
from secapi.domain.metrics import MetricsExposition, MetricsSink, NoMetrics, PoolSampler, ScanBacklog
from secapi.domain.ports import Clock, VulnerabilityStore
from secapi.domain.services.health import ReadinessService
from secapi.domain.services.metrics_sampling import MetricsSampler
from secapi.domain.services.vulndb_sync import SyncStateStore


class SamplingProvider(Provider):
    """The sampler of readiness, database and backlog gauges (whichever sink is installed)."""

    @provide(scope=Scope.APP)
    def metrics_sampler(
        self,
        readiness: ReadinessService,
        store: VulnerabilityStore,
        backlog: ScanBacklog,
        clock: Clock,
        metrics: MetricsSink,
        settings: Settings,
        sync_states: SyncStateStore,
    ) -> MetricsSampler:
        # A little longer than the probes' own timeout, so a slow probe still reports "down".
        return MetricsSampler(
            readiness,
            store,
            backlog,
            clock,
            metrics,
            timeout=settings.health_check_timeout + 1.0,
            sync_states=sync_states,
        )


class PrometheusProvider(Provider):
    """Metrics exported to Prometheus (the default)."""

    exposition = provide(PrometheusExposition, scope=Scope.APP)
    http_metrics = provide(PrometheusHttpMetrics, scope=Scope.APP)
    pool_metrics = provide(SqlAlchemyPoolMetrics, scope=Scope.APP)
    # The /metrics controller asks for the ports, so it imports no adapter.
    exposition_port = alias(source=PrometheusExposition, provides=MetricsExposition)
    pool_port = alias(source=SqlAlchemyPoolMetrics, provides=PoolSampler)

    @provide(scope=Scope.APP)
    def metrics(self, exposition: PrometheusExposition, settings: Settings) -> MetricsSink:
        return PrometheusMetricsSink(
            exposition,
            shared_backend="redis" if settings.redis_url else None,
            vulndb_update_period=settings.vulndb_update_period,
        )


class NoMetricsProvider(Provider):
    """Metrics switched off (`SECAPI_METRICS_ENABLED=false`): every event is dropped."""

    @provide(scope=Scope.APP)
    def metrics(self) -> MetricsSink:
        return NoMetrics()
