"""`/api/v1/account/notifications`: register, show (never the secret), remove; bad URLs are 422 with a reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.litestar import setup_dishka
from httpx import AsyncClient
from litestar import Litestar, Router

from secapi.adapters.webhooks.url_policy import WebhookAddressPolicy
from secapi.domain.model import Principal, User
from secapi.domain.notifications import NotificationEndpoint
from secapi.domain.services.notification_endpoints import NotificationEndpointService
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.controllers import API_PREFIX
from secapi.entrypoints.http.controllers.notifications import NotificationsController
from secapi.entrypoints.http.problems import exception_handlers

from support.fakes import FakeClock
from support.http import serve

PATH = "/api/v1/account/notifications"
SECRET = "0123456789abcdef-secret"


class MemoryEndpoints:
    def __init__(self) -> None:
        self.rows: dict[UUID, NotificationEndpoint] = {}

    async def get(self, user_id: UUID) -> NotificationEndpoint | None:
        return self.rows.get(user_id)

    async def put(self, endpoint: NotificationEndpoint) -> None:
        self.rows[endpoint.user_id] = endpoint

    async def delete(self, user_id: UUID) -> bool:
        return self.rows.pop(user_id, None) is not None


async def resolver(host: str, port: int) -> list[str]:
    return {"hooks.example": ["93.184.216.34"], "corp.example": ["10.0.0.7"]}[host]


class _Caller(Provider):
    def __init__(self, principal: Principal, endpoints: MemoryEndpoints) -> None:
        super().__init__()
        self._principal = principal
        self._endpoints = endpoints

    @provide(scope=Scope.REQUEST)
    def principal(self) -> Principal:
        return self._principal

    @provide(scope=Scope.APP)
    def service(self) -> NotificationEndpointService:
        return NotificationEndpointService(self._endpoints, WebhookAddressPolicy(resolver=resolver), FakeClock())


@pytest.fixture
def endpoints() -> MemoryEndpoints:
    return MemoryEndpoints()


@pytest.fixture
def user() -> User:
    clock = FakeClock()
    return User(id=uuid4(), email="dev@example.com", tier=Tier.FREE, is_admin=False, created_at=clock.now())


@pytest.fixture
async def client(user: User, endpoints: MemoryEndpoints) -> AsyncIterator[AsyncClient]:
    app = Litestar(
        [Router(API_PREFIX, route_handlers=[NotificationsController])], exception_handlers=exception_handlers(64 * 1024)
    )
    container = make_async_container(_Caller(Principal(user=user, key_id=uuid4()), endpoints))
    setup_dishka(container, app)
    async with serve(app) as http:
        yield http
    await container.close()


async def test_register_show_and_remove(client: AsyncClient, endpoints: MemoryEndpoints, user: User) -> None:
    put = await client.put(PATH, json={"url": "https://hooks.example/secapi", "secret": SECRET})
    assert put.status_code == 200, put.text
    assert put.json()["url"] == "https://hooks.example/secapi"
    assert endpoints.rows[user.id].secret == SECRET

    shown = await client.get(PATH)
    assert shown.status_code == 200
    assert SECRET not in shown.text
    assert "secret" not in shown.json()
    assert shown.json()["events"] == ["rate_limit.reset", "scan.new_findings"]

    assert (await client.delete(PATH)).status_code == 204
    assert (await client.get(PATH)).status_code == 404
    assert (await client.delete(PATH)).status_code == 404


async def test_put_replaces_the_endpoint(client: AsyncClient, endpoints: MemoryEndpoints, user: User) -> None:
    await client.put(PATH, json={"url": "https://hooks.example/a", "secret": SECRET})
    await client.put(PATH, json={"url": "https://hooks.example/b", "secret": SECRET + "2"})
    assert (await client.get(PATH)).json()["url"] == "https://hooks.example/b"
    assert endpoints.rows[user.id].secret == SECRET + "2"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://corp.example/hook", "internal address"),
        ("http://hooks.example/hook", "https://"),
        ("https://user:pw@hooks.example/hook", "credentials"),
    ],
)
async def test_urls_the_server_will_not_call_are_422_with_the_reason(
    client: AsyncClient, endpoints: MemoryEndpoints, url: str, reason: str
) -> None:
    response = await client.put(PATH, json={"url": url, "secret": SECRET})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert reason in body["detail"]
    assert body["invalid-params"][0]["name"] == "url"
    assert endpoints.rows == {}


@pytest.mark.parametrize(
    "payload",
    [
        {"url": "https://hooks.example/x", "secret": "too-short"},
        {"url": "https://hooks.example/x", "secret": "s" * 201},
        {"url": "https://hooks.example/" + "a" * 2000, "secret": SECRET},
        {"url": "https://hooks.example/x"},
        {"url": "https://hooks.example/x", "secret": SECRET, "events": ["all"]},
    ],
)
async def test_malformed_bodies_are_400(
    client: AsyncClient, endpoints: MemoryEndpoints, payload: dict[str, object]
) -> None:
    response = await client.put(PATH, json=payload)
    assert response.status_code == 400, response.text
    assert endpoints.rows == {}
