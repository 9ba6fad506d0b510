"""Suppressions: the ignore-rule and VEX store and the service (HTTP requests get the caller's `ActiveSuppressions`
from `entrypoints/http/auth.HttpAuthProvider`)."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from secapi.adapters.sql.suppressions import SqlSuppressionRepository
from secapi.config import Settings
from secapi.domain.ports import Clock
from secapi.domain.services.suppressions import SuppressionService
from secapi.domain.suppressions import SuppressionRepository


class SuppressionsProvider(Provider):
    """`SqlSuppressionRepository` and `SuppressionService` (one per process: it holds the memo)."""

    store = provide(SqlSuppressionRepository, scope=Scope.APP, provides=SuppressionRepository)

    @provide(scope=Scope.APP)
    def service(self, store: SuppressionRepository, clock: Clock, settings: Settings) -> SuppressionService:
        return SuppressionService(
            store, clock, default_limit=settings.page_size_default, max_limit=settings.page_size_max
        )
