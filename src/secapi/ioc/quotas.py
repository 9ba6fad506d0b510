"""Per-request quota accounting: the ledger of what a request consumed and the service charging it."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from secapi.config import Settings
from secapi.domain.metrics import MetricsSink
from secapi.domain.notifications import RefusalListener
from secapi.domain.ports import Clock
from secapi.domain.rate_limits import QuotaLedger
from secapi.domain.services.quotas import HydratableLimiter, QuotaService, QuotaStore
from secapi.domain.services.scan_pipeline import QuotaGate


class QuotasProvider(Provider):
    """Quota services, one per request (the ledger is the request's own)."""

    @provide(scope=Scope.REQUEST)
    def ledger(self) -> QuotaLedger:
        return QuotaLedger()

    @provide(scope=Scope.REQUEST)
    def quotas(
        self,
        limiter: HydratableLimiter,
        store: QuotaStore,
        ledger: QuotaLedger,
        clock: Clock,
        settings: Settings,
        refusals: RefusalListener,
        metrics: MetricsSink,
    ) -> QuotaService:
        return QuotaService(
            limiter, store, ledger, clock, fail_open=settings.rate_limit_fail_open, refusals=refusals, metrics=metrics
        )

    @provide(scope=Scope.REQUEST)
    def quota_gate(self, quotas: QuotaService) -> QuotaGate:
        return quotas
