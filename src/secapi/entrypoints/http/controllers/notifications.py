"""The caller's webhook for quota-reset notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, delete, get, put
from litestar.params import JSONBody

from secapi.domain.model import Principal
from secapi.domain.notifications import (
    MAX_SECRET_LENGTH,
    MAX_URL_LENGTH,
    MIN_SECRET_LENGTH,
    RESET_EVENT,
    NotificationEndpoint,
)
from secapi.domain.services.notification_endpoints import NotificationEndpointService
from secapi.domain.watches import NEW_FINDINGS_EVENT
from secapi.entrypoints.http.media_types import json_only
from secapi.entrypoints.http.openapi import AUTHENTICATED, JSON_BODY, ApiOperation, problem_responses


class NotificationEndpointRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of `PUT /api/v1/account/notifications`."""

    url: Annotated[
        str, msgspec.Meta(min_length=1, max_length=MAX_URL_LENGTH, examples=["https://hooks.example.com/secapi"])
    ]
    secret: Annotated[
        str,
        msgspec.Meta(
            min_length=MIN_SECRET_LENGTH,
            max_length=MAX_SECRET_LENGTH,
            description="Shared secret that signs every event (HMAC-SHA256); shown never again.",
        ),
    ]


class NotificationEndpointView(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The registered webhook, without its secret."""

    url: str
    created_at: datetime
    events: tuple[str, ...]
    signature: str
    """How to verify an event: the headers and what the HMAC covers."""

    @classmethod
    def of(cls, endpoint: NotificationEndpoint) -> NotificationEndpointView:
        return cls(
            url=endpoint.url,
            created_at=endpoint.created_at,
            events=(RESET_EVENT, NEW_FINDINGS_EVENT),
            signature='SecAPI-Signature: sha256=hex(HMAC-SHA256(secret, SecAPI-Timestamp + "." + raw body))',
        )


class NotificationsController(Controller):
    """`/api/v1/account/notifications`: one webhook per account."""

    path = "/account/notifications"
    tags = ["account"]
    opt = json_only

    @put(
        "/",
        operation_id="PutNotificationEndpoint",
        summary="Register or replace your webhook",
        status_code=200,
        operation_class=ApiOperation,
        responses=problem_responses(*JSON_BODY, *AUTHENTICATED, 422),
    )
    @inject
    async def put_endpoint(
        self,
        data: JSONBody[NotificationEndpointRequest],
        principal: FromDishka[Principal],
        endpoints: FromDishka[NotificationEndpointService],
    ) -> NotificationEndpointView:
        endpoint = await endpoints.register(principal.user_id, data.url, data.secret)
        return NotificationEndpointView.of(endpoint)

    @get(
        "/",
        operation_id="GetNotificationEndpoint",
        summary="Your webhook (never its secret)",
        operation_class=ApiOperation,
        responses=problem_responses(*AUTHENTICATED, 404),
    )
    @inject
    async def get_endpoint(
        self, principal: FromDishka[Principal], endpoints: FromDishka[NotificationEndpointService]
    ) -> NotificationEndpointView:
        return NotificationEndpointView.of(await endpoints.get(principal.user_id))

    @delete(
        "/",
        operation_id="DeleteNotificationEndpoint",
        summary="Remove your webhook",
        status_code=204,
        operation_class=ApiOperation,
        responses=problem_responses(*AUTHENTICATED, 404),
    )
    @inject
    async def delete_endpoint(
        self, principal: FromDishka[Principal], endpoints: FromDishka[NotificationEndpointService]
    ) -> None:
        await endpoints.remove(principal.user_id)
