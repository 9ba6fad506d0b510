"""Outbound webhooks: the address policy, the sender and the quota-reset notices."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide

from secapi.adapters.webhooks import HttpWebhookSender, WebhookAddressPolicy
from secapi.config import Settings
from secapi.domain.notifications import (
    NoticeSchedule,
    NotificationEndpoints,
    RefusalListener,
    WebhookSender,
    WebhookUrlPolicy,
)
from secapi.domain.ports import Clock
from secapi.domain.services.notification_endpoints import NotificationEndpointService
from secapi.domain.services.reset_notifications import ResetNotifier


class NotificationsProvider(Provider):
    """Webhook endpoints, their delivery and the notices sent when a refused tenant's quota resets."""

    @provide(scope=Scope.APP)
    def webhook_policy(self, settings: Settings) -> WebhookAddressPolicy:
        return WebhookAddressPolicy(settings.webhook_allowlist_hosts)

    @provide(scope=Scope.APP)
    def webhook_url_policy(self, policy: WebhookAddressPolicy) -> WebhookUrlPolicy:
        return policy

    @provide(scope=Scope.APP)
    async def webhook_sender(self, policy: WebhookAddressPolicy) -> AsyncIterator[WebhookSender]:
        sender = HttpWebhookSender(policy)
        yield sender
        await sender.aclose()

    @provide(scope=Scope.APP)
    def reset_notifier(
        self, endpoints: NotificationEndpoints, schedule: NoticeSchedule, sender: WebhookSender, clock: Clock
    ) -> ResetNotifier:
        return ResetNotifier(endpoints, schedule, sender, clock)

    @provide(scope=Scope.APP)
    def refusal_listener(self, notifier: ResetNotifier) -> RefusalListener:
        return notifier

    @provide(scope=Scope.APP)
    def notification_endpoint_service(
        self, endpoints: NotificationEndpoints, policy: WebhookUrlPolicy, clock: Clock, notifier: ResetNotifier
    ) -> NotificationEndpointService:
        return NotificationEndpointService(endpoints, policy, clock, notifier)
