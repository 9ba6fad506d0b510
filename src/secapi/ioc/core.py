"""What every other provider builds on: the settings given to `make_container` and the clock."""

from __future__ import annotations

from dishka import Provider, Scope, from_context, provide

from secapi.config import Settings
from secapi.domain.clock import SystemClock
from secapi.domain.ports import Clock


class CoreProvider(Provider):
    """`Settings` from the container's context and the system clock."""

    settings = from_context(provides=Settings, scope=Scope.APP)
    clock = provide(SystemClock, scope=Scope.APP, provides=Clock)
