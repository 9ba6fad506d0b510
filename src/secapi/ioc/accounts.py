"""Accounts and API-key authentication."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from secapi.config import Settings
from secapi.domain.ports import Clock
from secapi.domain.principal_cache import PrincipalCache
from secapi.domain.services.accounts import AccountService
from secapi.domain.services.authentication import Authenticator


class AccountsProvider(Provider):
    """Users, keys and the short-lived cache of authenticated principals."""

    @provide(scope=Scope.APP)
    def principal_cache(self, clock: Clock, settings: Settings) -> PrincipalCache:
        return PrincipalCache(clock, ttl=settings.auth_cache_ttl, max_entries=settings.auth_cache_size)

    authenticator = provide(Authenticator, scope=Scope.APP)
    accounts = provide(AccountService, scope=Scope.APP)
