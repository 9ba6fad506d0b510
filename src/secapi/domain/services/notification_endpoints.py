"""Registering, showing and removing a user's webhook for quota-reset notifications."""

from __future__ import annotations

from uuid import UUID

from secapi.domain.notifications import (
    EndpointMemo,
    NotificationEndpoint,
    NotificationEndpointNotFound,
    NotificationEndpoints,
    WebhookUrlPolicy,
    check_webhook_secret,
    check_webhook_url,
)
from secapi.domain.ports import Clock


class NotificationEndpointService:
    """The account's one webhook: validated against the outbound policy when registered."""

    def __init__(
        self,
        endpoints: NotificationEndpoints,
        policy: WebhookUrlPolicy,
        clock: Clock,
        notifier: EndpointMemo | None = None,
    ) -> None:
        self._endpoints = endpoints
        self._policy = policy
        self._clock = clock
        self._notifier = notifier

    async def register(self, user_id: UUID, url: str, secret: str) -> NotificationEndpoint:
        """Create or replace the endpoint; `InvalidWebhookUrl` (422) names what is wrong with the URL."""
        check_webhook_secret(secret)
        check_webhook_url(url)
        await self._policy.check(url)
        endpoint = NotificationEndpoint(user_id=user_id, url=url, secret=secret, created_at=self._clock.now())
        await self._endpoints.put(endpoint)
        self._changed(user_id)
        return endpoint

    async def get(self, user_id: UUID) -> NotificationEndpoint:
        """The endpoint; `NotificationEndpointNotFound` (404) when none is registered."""
        endpoint = await self._endpoints.get(user_id)
        if endpoint is None:
            raise NotificationEndpointNotFound("no notification endpoint is registered for your account")
        return endpoint

    async def remove(self, user_id: UUID) -> None:
        """Remove the endpoint; pending notices are dropped when they come due. 404 when none is registered."""
        if not await self._endpoints.delete(user_id):
            raise NotificationEndpointNotFound("no notification endpoint is registered for your account")
        self._changed(user_id)

    def _changed(self, user_id: UUID) -> None:
        # Only this process's memo can be cleared; others see the change within the notifier's memo TTL.
        if self._notifier is not None:
            self._notifier.forget(user_id)
