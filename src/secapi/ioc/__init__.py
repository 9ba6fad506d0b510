"""The composition root: dishka providers that pick adapters from settings, one module per concern.

Swapping Redis for in-memory adapters is a settings change here and nowhere else
(`backend_providers`). Tests pass override providers to `make_container` (later
providers win) instead of monkeypatching modules; `provide_instance` makes a
one-line override of any port. Where the wiring of a new adapter goes: the
module of its concern (`database`, `redis_backend`/`memory_backend`, `scans`,
`formats`, `images`, `watches`, `suppressions`, `notifications`, `quotas`, `accounts`, `vulndb`, `metrics`).
"""

from __future__ import annotations

from typing import Any

from dishka import AsyncContainer, Provider, Scope, make_async_container

from secapi.config import Settings
from secapi.ioc.accounts import AccountsProvider
from secapi.ioc.core import CoreProvider
from secapi.ioc.database import DatabaseProvider
from secapi.ioc.formats import FormatsProvider
from secapi.ioc.images import ImagesProvider
from secapi.ioc.memory_backend import MemoryProvider
from secapi.ioc.metrics import NoMetricsProvider, PrometheusProvider, SamplingProvider
from secapi.ioc.notifications import NotificationsProvider
from secapi.ioc.quotas import QuotasProvider
from secapi.ioc.redis_backend import RedisProvider
from secapi.ioc.scans import ScansProvider
from secapi.ioc.suppressions import SuppressionsProvider
from secapi.ioc.vulndb import VulnDbProvider, exploit_feeds, load_epss_file, load_kev_file
from secapi.ioc.watches import ContainerImageRescanner, WatchesProvider

__all__ = [
    "ContainerImageRescanner",
    "backend_providers",
    "exploit_feeds",
    "load_epss_file",
    "load_kev_file",
    "make_container",
    "provide_instance",
]


def backend_providers(settings: Settings) -> list[Provider]:
    """The providers for the configured backends."""
    providers: list[Provider] = [
        CoreProvider(),
        AccountsProvider(),
        QuotasProvider(),
        NotificationsProvider(),
        ScansProvider(),
        FormatsProvider(),
        ImagesProvider(),
        WatchesProvider(),
        SuppressionsProvider(),
        VulnDbProvider(),
        SamplingProvider(),
        DatabaseProvider(),
    ]
    providers.append(RedisProvider() if settings.redis_url else MemoryProvider())
    providers.append(PrometheusProvider() if settings.metrics_enabled else NoMetricsProvider())
    return providers


def provide_instance(port: Any, instance: object, *, scope: Scope = Scope.APP) -> Provider:
    """A provider giving `instance` for `port`: passed last to `make_container`, it replaces that one adapter."""
    provider = Provider(scope=scope)
    provider.provide(lambda: instance, provides=port)
    return provider


def make_container(settings: Settings, *overrides: Provider) -> AsyncContainer:
    """An async container for `settings`; `overrides` replace any earlier provision."""
    return make_async_container(*backend_providers(settings), *overrides, context={Settings: settings})
