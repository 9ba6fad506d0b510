"""Reset notifications end to end: PostgreSQL endpoints, the Redis schedule, the real sender, a local receiver."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from uuid import UUID, uuid4

import pytest
from redis.asyncio import Redis
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from secapi.adapters.redis.notice_schedule import RedisNoticeSchedule
from secapi.adapters.sql.models import UserModel
from secapi.adapters.sql.notification_endpoints import SqlNotificationEndpoints
from secapi.adapters.webhooks import HttpWebhookSender, WebhookAddressPolicy
from secapi.domain.notifications import InvalidWebhookUrl, NotificationEndpoint, ResetNotice
from secapi.domain.rate_limits import RateLimitResult, WindowState
from secapi.domain.services.notification_endpoints import NotificationEndpointService
from secapi.domain.services.reset_notifications import ResetNotifier
from secapi.domain.webhook_signing import verify

from support.fakes import FakeClock

pytestmark = pytest.mark.integration

SECRET = "integration-test-secret"
PREFIX = "secapi:{notices}"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def signed(self) -> bool:
        return verify(
            SECRET, self.headers["secapi-timestamp"], self.body, self.headers["secapi-signature"], now=time.time()
        )


@dataclass
class Receiver:
    """An HTTP/1.1 endpoint on 127.0.0.1 answering each request with the next scripted status, or hanging."""

    script: list[int | str] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    connections: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/hooks/secapi"

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._release.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(method, path, headers, body))
            answer = self.script.pop(0) if self.script else 200
            if answer == "hang":
                await self._release.wait()
                return
            writer.write(f"HTTP/1.1 {answer} Scripted\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def engine(migrated_database: str, clean_state: None) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(migrated_database)
    yield engine
    await engine.dispose()


@pytest.fixture
async def redis(redis_url: str, clean_state: None) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def user_id(engine: AsyncEngine) -> UUID:
    user = uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            insert(UserModel.__table__).values(  # type: ignore[arg-type]
                id=user, email=f"{user}@example.com", tier="free", is_admin=False, created_at=FakeClock().now()
            )
        )
    return user


@dataclass
class Stack:
    clock: FakeClock
    endpoints: SqlNotificationEndpoints
    schedule: RedisNoticeSchedule
    sender: HttpWebhookSender
    notifier: ResetNotifier
    registrations: NotificationEndpointService


@pytest.fixture
async def stack(engine: AsyncEngine, redis: Redis) -> AsyncIterator[Stack]:
    clock = FakeClock(datetime.fromtimestamp(int(time.time()), tz=FakeClock().now().tzinfo))
    endpoints, schedule = SqlNotificationEndpoints(engine), RedisNoticeSchedule(redis)
    policy = WebhookAddressPolicy(["127.0.0.1"])
    sender = HttpWebhookSender(policy, connect_timeout=0.5, total_timeout=0.5)
    notifier = ResetNotifier(endpoints, schedule, sender, clock, jitter=lambda: 0.0)
    yield Stack(
        clock, endpoints, schedule, sender, notifier, NotificationEndpointService(endpoints, policy, clock, notifier)
    )
    await sender.aclose()


def refusal(clock: FakeClock, reset_in: float) -> RateLimitResult:
    reset = clock.now().timestamp() + reset_in
    state = WindowState(
        name="hour", quota="scans_per_hour", limit=10, used=10, remaining=0, reset_at=reset, seconds=3600
    )
    return RateLimitResult(
        allowed=False, limit=10, remaining=0, reset_at=reset, windows=(state,), retry_after=reset_in, violated=("hour",)
    )


async def due_in_redis(redis: Redis) -> list[tuple[bytes, float]]:
    rows: list[tuple[bytes, float]] = await redis.zrange(f"{PREFIX}:due", 0, -1, withscores=True)  # type: ignore[assignment]
    return rows


async def refuse_and_reach_reset(stack: Stack, user_id: UUID) -> None:
    assert await stack.notifier.on_refusal(user_id, refusal(stack.clock, reset_in=30)) == 1
    assert (await stack.notifier.deliver_due(stack.clock.now())).claimed == 0, "not before the window frees up"
    stack.clock.advance(30)


async def test_a_refusal_becomes_one_signed_event_when_the_window_frees_up(
    stack: Stack, user_id: UUID, redis: Redis
) -> None:
    async with Receiver() as receiver:
        await stack.registrations.register(user_id, receiver.url, SECRET)
        await refuse_and_reach_reset(stack, user_id)
        assert await stack.notifier.on_refusal(user_id, refusal(stack.clock, reset_in=30)) == 0, (
            "one pending per window"
        )
        report = await stack.notifier.deliver_due(stack.clock.now())
    assert (report.claimed, report.delivered) == (1, 1)
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks/secapi")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["secapi-event"] == "rate_limit.reset"
    assert request.signed
    event = json.loads(request.body)
    assert event["id"] == request.headers["secapi-delivery"]
    assert (event["type"], event["user_id"], event["window"]) == ("rate_limit.reset", str(user_id), "hour")
    assert (event["quota"], event["limit"]) == ("scans_per_hour", 10)
    assert datetime.fromisoformat(event["reset_at"]) == stack.clock.now()
    assert await due_in_redis(redis) == []
    assert await redis.hlen(f"{PREFIX}:payloads") == 0
    assert await redis.keys(f"{PREFIX}:slot:*") == []


async def test_a_server_error_is_retried_and_delivered(stack: Stack, user_id: UUID, redis: Redis) -> None:
    async with Receiver(script=[500, 200]) as receiver:
        await stack.registrations.register(user_id, receiver.url, SECRET)
        await refuse_and_reach_reset(stack, user_id)
        assert (await stack.notifier.deliver_due(stack.clock.now())).retried == 1
        ((_, score),) = await due_in_redis(redis)
        assert score == stack.clock.now().timestamp() + 10
        stack.clock.advance(10)
        assert (await stack.notifier.deliver_due(stack.clock.now())).delivered == 1
    first, second = receiver.requests
    assert first.headers["secapi-delivery"] == second.headers["secapi-delivery"]
    assert first.signed
    assert second.signed
    assert await due_in_redis(redis) == []


async def test_gone_is_dropped_after_one_attempt(stack: Stack, user_id: UUID, redis: Redis) -> None:
    async with Receiver(script=[410]) as receiver:
        await stack.registrations.register(user_id, receiver.url, SECRET)
        await refuse_and_reach_reset(stack, user_id)
        assert (await stack.notifier.deliver_due(stack.clock.now())).dropped == 1
        stack.clock.advance(3600)
        assert (await stack.notifier.deliver_due(stack.clock.now())).claimed == 0
    assert len(receiver.requests) == 1
    assert await due_in_redis(redis) == []
    assert await stack.notifier.on_refusal(user_id, refusal(stack.clock, reset_in=30)) == 1, "the slot is free"


async def test_a_hanging_receiver_times_out_and_a_retry_is_scheduled(stack: Stack, user_id: UUID) -> None:
    async with Receiver(script=["hang"]) as receiver:
        await stack.registrations.register(user_id, receiver.url, SECRET)
        await refuse_and_reach_reset(stack, user_id)
        started = time.monotonic()
        assert (await stack.notifier.deliver_due(stack.clock.now())).retried == 1
        assert time.monotonic() - started < 3
    stack.clock.advance(10)
    (retry,) = await stack.schedule.due(stack.clock.now(), 10)
    assert retry.attempt == 1


async def test_loopback_that_is_not_allow_listed_is_never_connected_to(
    stack: Stack, user_id: UUID, engine: AsyncEngine
) -> None:
    async with Receiver() as receiver:
        https_url = receiver.url.replace("http://", "https://")
        strict = WebhookAddressPolicy()
        with pytest.raises(InvalidWebhookUrl, match="internal address"):
            await NotificationEndpointService(stack.endpoints, strict, stack.clock).register(user_id, https_url, SECRET)
        # Registered when it was allowed (or DNS said otherwise then): delivery checks again and gives up.
        await stack.endpoints.put(
            NotificationEndpoint(user_id=user_id, url=https_url, secret=SECRET, created_at=stack.clock.now())
        )
        sender = HttpWebhookSender(strict, connect_timeout=0.5, total_timeout=0.5)
        notifier = ResetNotifier(stack.endpoints, stack.schedule, sender, stack.clock)
        await notifier.on_refusal(user_id, refusal(stack.clock, reset_in=0))
        stack.clock.advance(1)
        assert (await notifier.deliver_due(stack.clock.now())).dropped == 1
        await sender.aclose()
    assert receiver.connections == 0


async def test_concurrent_workers_never_claim_the_same_notice(stack: Stack, redis_url: str) -> None:
    now = stack.clock.now()
    for _ in range(30):
        notice = ResetNotice(
            id=uuid4(), user_id=uuid4(), window="hour", quota="scans_per_hour", limit=10, reset_at=now, created_at=now
        )
        assert await stack.schedule.schedule(notice)
    clients = [Redis.from_url(redis_url) for _ in range(6)]
    workers = [RedisNoticeSchedule(client) for client in clients]
    try:
        batches = await asyncio.gather(*(worker.due(now + timedelta(seconds=1), 10) for worker in workers))
    finally:
        for client in clients:
            await client.aclose()
    ids = [n.id for batch in batches for n in batch]
    assert len(ids) == len(set(ids)) == 30
    assert await stack.schedule.due(now + timedelta(seconds=2), 10) == [], "claimed notices are leased"
    later = await stack.schedule.due(now + timedelta(seconds=62), 100)
    assert len(later) == 30, "and come due again when the lease runs out"


async def test_endpoints_round_trip_through_postgresql(stack: Stack, user_id: UUID) -> None:
    assert await stack.endpoints.get(user_id) is None
    first = NotificationEndpoint(
        user_id=user_id, url="https://a.example/x", secret=SECRET, created_at=stack.clock.now()
    )
    await stack.endpoints.put(first)
    await stack.endpoints.put(
        NotificationEndpoint(user_id=user_id, url="https://b.example/y", secret="s" * 16, created_at=stack.clock.now())
    )
    stored = await stack.endpoints.get(user_id)
    assert stored is not None
    assert (stored.url, stored.secret) == ("https://b.example/y", "s" * 16)
    assert await stack.endpoints.delete(user_id)
    assert not await stack.endpoints.delete(user_id)
