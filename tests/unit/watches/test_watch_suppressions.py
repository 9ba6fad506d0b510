"""`scan.new_findings` webhooks leave out what the watch owner suppressed (ignore rules, VEX), aliases included."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import msgspec

from secapi.adapters.memory.suppressions import InMemorySuppressionRepository
from secapi.domain.findings import PackageRef
from secapi.domain.model import Principal, User
from secapi.domain.notifications import DeliveryResult, NotificationEndpoint, WebhookEvent, result_for_status
from secapi.domain.services.suppressions import SuppressionService
from secapi.domain.services.watches import ALL_SUPPRESSED, WatchEventDelivery
from secapi.domain.severity import Severity
from secapi.domain.tiers import Tier
from secapi.domain.watches import EventKind, WatchedFinding, WatchEvent
from secapi.ioc.watches import ServiceSuppressedFindings

from support.fakes import FakeClock, InMemoryVulnerabilityStore

FLASK = "GHSA-m2qf-hxjv-5gpq"  # alias CVE-2023-30861 in the bundled sample
JINJA = "GHSA-h5c8-rqwp-cp95"


class Outbox:
    def __init__(self, events: list[WatchEvent]) -> None:
        self.due = list(events)
        self.done: list[uuid.UUID] = []
        self.given_up: list[tuple[uuid.UUID, str]] = []

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[WatchEvent]:
        claimed, self.due = self.due[:limit], self.due[limit:]
        return claimed

    async def delivered(self, event_id: uuid.UUID, at: datetime, attempts: int) -> None:
        self.done.append(event_id)

    async def retry(self, event_id: uuid.UUID, at: datetime, attempts: int) -> None:
        raise AssertionError("no retry expected")

    async def give_up(self, event_id: uuid.UUID, reason: str, attempts: int) -> None:
        self.given_up.append((event_id, reason))


class Sender:
    def __init__(self) -> None:
        self.sent: list[WebhookEvent] = []

    async def send(self, url: str, secret: str, payload: WebhookEvent) -> DeliveryResult:
        self.sent.append(payload)
        return result_for_status(200)


class Endpoints:
    def __init__(self, endpoint: NotificationEndpoint) -> None:
        self.endpoint = endpoint

    async def get(self, user_id: uuid.UUID) -> NotificationEndpoint | None:
        return self.endpoint

    async def put(self, endpoint: NotificationEndpoint) -> None:
        self.endpoint = endpoint

    async def delete(self, user_id: uuid.UUID) -> bool:
        return True


def watched(advisory: str, name: str, version: str) -> WatchedFinding:
    package = PackageRef(name=name, version=version, ecosystem="PyPI", purl=f"pkg:pypi/{name.lower()}@{version}")
    return WatchedFinding(
        id=advisory, package=package, installed_version=version, fixed_versions=(), severity=Severity.HIGH
    )


async def deliver(
    clock: FakeClock, store: InMemoryVulnerabilityStore, rules: list[str]
) -> tuple[Outbox, Sender, WatchEvent]:
    user = User(id=uuid.uuid4(), email="w@example.com", tier=Tier.FREE, is_admin=False, created_at=clock.now())
    service = SuppressionService(InMemorySuppressionRepository(), clock, default_limit=20, max_limit=100)
    for advisory in rules:
        await service.add_rule(
            Principal(user=user, key_id=uuid.uuid4()), advisory=advisory, package=None, reason="r", expires_at=None
        )
    event = WatchEvent(
        id=uuid.uuid4(),
        watch_id=uuid.uuid4(),
        user_id=user.id,
        kind=EventKind.NEW_FINDINGS,
        target="requirements.txt",
        advisories=(FLASK, JINJA),
        findings=(watched(FLASK, "flask", "2.2.4"), watched(JINJA, "Jinja2", "3.1.2")),
        vulndb_version=1,
        created_at=clock.now(),
    )
    outbox, sender = Outbox([event]), Sender()
    endpoint = NotificationEndpoint(
        user_id=user.id, url="https://hooks.example/x", secret="s" * 16, created_at=clock.now()
    )
    delivery = WatchEventDelivery(
        outbox, Endpoints(endpoint), sender, clock, suppressions=ServiceSuppressedFindings(service, store)
    )
    await delivery.deliver_due()
    return outbox, sender, event


async def test_a_finding_suppressed_through_its_cve_alias_is_not_announced(
    clock: FakeClock, store: InMemoryVulnerabilityStore
) -> None:
    outbox, sender, event = await deliver(clock, store, ["CVE-2023-30861"])
    (posted,) = sender.sent
    body = msgspec.json.decode(posted.body)
    assert body["advisories"] == [JINJA]
    assert [f["id"] for f in body["findings"]] == [JINJA]
    assert outbox.done == [event.id]


async def test_an_event_whose_findings_are_all_suppressed_is_not_posted(
    clock: FakeClock, store: InMemoryVulnerabilityStore
) -> None:
    outbox, sender, event = await deliver(clock, store, [FLASK, "CVE-2024-22195"])
    assert sender.sent == []
    assert outbox.given_up == [(event.id, ALL_SUPPRESSED)]


async def test_without_suppressions_every_finding_is_announced(
    clock: FakeClock, store: InMemoryVulnerabilityStore
) -> None:
    _, sender, _ = await deliver(clock, store, [])
    (posted,) = sender.sent
    assert [f["id"] for f in msgspec.json.decode(posted.body)["findings"]] == [FLASK, JINJA]
