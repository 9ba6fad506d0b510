"""Watches in the domain: the findings diff, the batched key matcher, and the re-matcher over an honest fake store."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from secapi.adapters.memory.metrics import RecordingMetrics
from secapi.domain.findings import PackageRef
from secapi.domain.model import PageCursor, Scan, ScanStatus, ScanType
from secapi.domain.notifications import DeliveryResult, NotificationEndpoint, WebhookEvent, result_for_status
from secapi.domain.osv_records import parse_osv_record
from secapi.domain.packages import Package
from secapi.domain.scan_inputs import RegistryImageInput
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.watches import Baselines, WatchEventDelivery, WatchRematcher
from secapi.domain.severity import Severity
from secapi.domain.watches import (
    MATCHED_STATUSES,
    EventKind,
    EventPage,
    KeyState,
    LookupKey,
    Watch,
    WatchedFinding,
    WatchEvent,
    WatchKind,
    WatchPage,
    WatchStatus,
    WatchUpdate,
    diff_findings,
)

from support.fakes import FakeClock, InMemoryScans, InMemoryVulnerabilityStore
from support.results import scan_result

FIXTURES = Path(__file__).parents[2] / "fixtures" / "osv" / "ghsa"
CERTIFI = FIXTURES / "GHSA-xqr8-7jwr-rhp7.json"
URLLIB3 = FIXTURES / "GHSA-v845-jxx5-vc9f.json"


def _finding(advisory: str, name: str, version: str, *, fixed: tuple[str, ...] = ()) -> WatchedFinding:
    return WatchedFinding(
        id=advisory,
        package=PackageRef(name=name, version=version, ecosystem="PyPI"),
        installed_version=version,
        fixed_versions=fixed,
        severity=Severity.HIGH,
    )


def test_diff_reports_new_and_resolved_by_identity() -> None:
    kept = _finding("GHSA-1", "a", "1.0")
    gone = _finding("GHSA-2", "b", "1.0")
    new = _finding("GHSA-3", "a", "1.0")
    diff = diff_findings([kept, gone], [new, kept])
    assert diff.new == (new,)
    assert diff.resolved == (gone,)


def test_diff_ignores_changed_details_of_the_same_finding_and_tells_versions_apart() -> None:
    before = _finding("GHSA-1", "a", "1.0", fixed=("1.1",))
    after = _finding("GHSA-1", "a", "1.0", fixed=("1.1", "2.0"))
    assert diff_findings([before], [after]).new == ()
    other_version = _finding("GHSA-1", "a", "1.1")
    diff = diff_findings([before], [other_version])
    assert diff.new == (other_version,)
    assert diff.resolved == (before,)


def _pypi(name: str, version: str, location: str | None = None) -> Package:
    return Package(name=name, version=version, ecosystem="PyPI", location=location)


async def _import(store: InMemoryVulnerabilityStore, *paths: Path, withdraw: bool = False) -> set[LookupKey]:
    records = []
    for path in paths:
        record = json.loads(path.read_text())
        if withdraw:
            record["withdrawn"] = record["modified"] = "2030-01-01T00:00:00Z"
        records.append(parse_osv_record(record))
    counts = await store.upsert(records)
    await store.advance_version(counts, "test")
    return set(counts.changed_keys)


async def test_match_by_key_answers_every_group_from_one_candidates_query() -> None:
    store = InMemoryVulnerabilityStore()
    await _import(store, CERTIFI, URLLIB3)
    matcher = VulnerabilityMatcher(store)
    groups = {
        ("w1", ("PyPI", "certifi")): (("PyPI", "certifi"), [_pypi("certifi", "2022.12.7", "a/requirements.txt")]),
        ("w2", ("PyPI", "certifi")): (("PyPI", "certifi"), [_pypi("certifi", "2022.12.7", "b/requirements.txt")]),
        ("w3", ("PyPI", "certifi")): (("PyPI", "certifi"), [_pypi("certifi", "2023.7.22")]),
        ("w3", ("PyPI", "urllib3")): (("PyPI", "urllib3"), [_pypi("urllib3", "2.0.4")]),
    }
    before = store.candidate_queries
    found = await matcher.match_by_key(groups)
    assert store.candidate_queries - before == 1
    assert [f.id for f in found[("w1", ("PyPI", "certifi"))]] == ["GHSA-xqr8-7jwr-rhp7"]
    assert [f.id for f in found[("w2", ("PyPI", "certifi"))]] == ["GHSA-xqr8-7jwr-rhp7"]
    assert found[("w3", ("PyPI", "certifi"))] == ()  # the fixed version
    assert [f.id for f in found[("w3", ("PyPI", "urllib3"))]] == ["GHSA-v845-jxx5-vc9f"]


class FakeWatches:
    """The part of `WatchRepository` the re-matcher uses, over dicts (state as the SQL adapter keeps it)."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Watch] = {}
        self.keys: dict[uuid.UUID, dict[LookupKey, KeyState]] = defaultdict(dict)
        self.recorded: list[WatchEvent] = []
        self.affected_calls: list[set[LookupKey]] = []

    async def add(self, watch: Watch, keys: Sequence[KeyState], *, limit: int) -> int:
        self.rows[watch.id] = watch
        self.keys[watch.id] = {k.key: k for k in keys}
        return len(self.rows)

    async def affected(self, keys: Collection[LookupKey]) -> Mapping[uuid.UUID, Sequence[KeyState]]:
        wanted = set(keys)
        self.affected_calls.append(wanted)
        return {
            watch_id: [state for key, state in rows.items() if key in wanted]
            for watch_id, rows in self.keys.items()
            if self.rows[watch_id].status in MATCHED_STATUSES and not wanted.isdisjoint(rows)
        }

    async def watches(self, ids: Collection[uuid.UUID]) -> Sequence[Watch]:
        return [self.rows[i] for i in ids if i in self.rows]

    async def by_status(self, status: WatchStatus, *, kind: WatchKind | None = None, limit: int) -> Sequence[Watch]:
        found = [w for w in self.rows.values() if w.status is status and (kind is None or w.kind is kind)]
        return found[:limit]

    async def key_states(self, watch_id: uuid.UUID) -> Sequence[KeyState]:
        return list(self.keys[watch_id].values())

    async def apply(self, updates: Sequence[WatchUpdate]) -> None:
        for update in updates:
            if update.watch_id not in self.rows:
                continue
            if update.replace_all:
                self.keys[update.watch_id] = {}
            for state in update.keys:
                self.keys[update.watch_id][state.key] = state
            self.recorded.extend(update.events)
            changed = {
                name: getattr(update, name)
                for name in ("status", "scan_id", "image_digest", "packages", "error", "findings")
                if getattr(update, name) is not None
            }
            self.rows[update.watch_id] = dataclasses.replace(
                self.rows[update.watch_id], vulndb_version=update.vulndb_version, **changed
            )

    async def count(self, user_id: uuid.UUID) -> int:
        return 0

    async def get(self, user_id: uuid.UUID, watch_id: uuid.UUID) -> Watch | None:
        return None

    async def page(self, user_id: uuid.UUID, *, limit: int, after: PageCursor | None) -> WatchPage:
        return WatchPage(items=[], next_cursor=None)

    async def delete(self, user_id: uuid.UUID, watch_id: uuid.UUID) -> bool:
        return False

    async def events(
        self, user_id: uuid.UUID, watch_id: uuid.UUID, *, limit: int, after: PageCursor | None
    ) -> EventPage:
        return EventPage(items=[e for e in self.recorded if e.watch_id == watch_id][:limit], next_cursor=None)


async def _watched(repo: FakeWatches, baselines: Baselines, packages: list[Package], clock: FakeClock) -> Watch:
    keys, version = await baselines.match(packages)
    watch = Watch(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        kind=WatchKind.SCAN,
        target="requirements.txt",
        status=WatchStatus.ACTIVE,
        created_at=clock.now(),
        packages=len(packages),
        vulndb_version=version,
    )
    await repo.add(watch, keys, limit=10)
    return watch


async def test_rematch_looks_only_at_changed_keys_and_records_new_then_resolved(clock: FakeClock) -> None:
    store = InMemoryVulnerabilityStore()
    await _import(store, URLLIB3)
    matcher = VulnerabilityMatcher(store)
    baselines = Baselines(matcher, store, clock)
    repo = FakeWatches()
    rematcher = WatchRematcher(repo, InMemoryScans(), baselines, matcher, clock)
    watch = await _watched(repo, baselines, [_pypi("certifi", "2022.12.7"), _pypi("urllib3", "2.0.4")], clock)
    other = await _watched(repo, baselines, [_pypi("urllib3", "2.0.4")], clock)
    assert [f.id for f in repo.keys[watch.id][("PyPI", "urllib3")].findings] == ["GHSA-v845-jxx5-vc9f"]

    changed = await _import(store, CERTIFI)
    before = store.candidate_queries
    report = await rematcher.rematch(changed, version=2)
    assert repo.affected_calls[-1] == {("PyPI", "certifi")}
    assert store.candidate_queries - before == 1
    assert report.watches == 1  # the watch without certifi is not touched
    assert report.new_events == 1
    (event,) = repo.recorded
    assert event.kind is EventKind.NEW_FINDINGS
    assert event.watch_id == watch.id
    assert event.advisories == ("GHSA-xqr8-7jwr-rhp7",)

    # Re-importing nothing new: no event. Withdrawing: a resolved event, and the key's findings are empty.
    assert (await rematcher.rematch(changed, version=3)).new_events == 0
    changed = await _import(store, CERTIFI, withdraw=True)
    report = await rematcher.rematch(changed, version=4)
    assert report.resolved_events == 1
    assert repo.recorded[-1].kind is EventKind.RESOLVED_FINDINGS
    assert repo.keys[watch.id][("PyPI", "certifi")].findings == ()
    assert other.id not in {e.watch_id for e in repo.recorded}


def _scan(status: ScanStatus, packages: list[Package], clock: FakeClock, error: str | None = None) -> Scan:
    result = None
    if status is ScanStatus.COMPLETED:
        result = scan_result(
            packages=packages, target="docker.io/library/app:1", scan_type="docker", image_digest="sha256:" + "1" * 64
        )
    return Scan(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        scan_type=ScanType.DOCKER,
        status=status,
        input_data=RegistryImageInput(image="docker.io/library/app:1"),
        input_hash="x",
        created_at=clock.now(),
        result=result,
        error=error,
    )


async def test_a_pending_watch_takes_its_baseline_once_its_scan_finishes_or_fails(clock: FakeClock) -> None:
    store = InMemoryVulnerabilityStore()
    await _import(store, CERTIFI)
    matcher = VulnerabilityMatcher(store)
    baselines = Baselines(matcher, store, clock)
    repo, scans = FakeWatches(), InMemoryScans()
    rematcher = WatchRematcher(repo, scans, baselines, matcher, clock)
    queued = _scan(ScanStatus.QUEUED, [], clock)
    await scans.add(queued)
    pending = Watch(
        id=uuid.uuid4(),
        user_id=queued.user_id,
        kind=WatchKind.IMAGE,
        target="docker.io/library/app:1",
        status=WatchStatus.PENDING,
        created_at=clock.now(),
        scan_id=queued.id,
    )
    await repo.add(pending, (), limit=10)
    assert await rematcher.fill_baselines() == 0  # still queued
    assert repo.rows[pending.id].status is WatchStatus.PENDING

    inventory = [_pypi("certifi", "2022.12.7"), _pypi("idna", "3.4")]
    await scans.update(dataclasses.replace(_scan(ScanStatus.COMPLETED, inventory, clock), id=queued.id))
    assert await rematcher.fill_baselines() == 1
    active = repo.rows[pending.id]
    assert active.status is WatchStatus.ACTIVE
    assert active.packages == 2
    assert active.findings == 1
    assert active.image_digest == "sha256:" + "1" * 64
    assert [f.id for f in repo.keys[pending.id][("PyPI", "certifi")].findings] == ["GHSA-xqr8-7jwr-rhp7"]
    assert repo.recorded == []  # a baseline is the starting point, not news

    failing = _scan(ScanStatus.FAILED, [], clock, error="manifest unknown")
    await scans.add(failing)
    doomed = dataclasses.replace(pending, id=uuid.uuid4(), scan_id=failing.id)
    await repo.add(doomed, (), limit=10)
    await rematcher.fill_baselines()
    assert repo.rows[doomed.id].status is WatchStatus.FAILED
    assert "manifest unknown" in (repo.rows[doomed.id].error or "")


class FakeOutbox:
    """The outbox port over a list, recording what delivery did."""

    def __init__(self, events: list[WatchEvent]) -> None:
        self.due = list(events)
        self.done: list[tuple[uuid.UUID, int]] = []
        self.retried: list[tuple[uuid.UUID, int]] = []
        self.given_up: list[tuple[uuid.UUID, str]] = []

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[WatchEvent]:
        claimed, self.due = self.due[:limit], self.due[limit:]
        return claimed

    async def delivered(self, event_id: uuid.UUID, at: datetime, attempts: int) -> None:
        self.done.append((event_id, attempts))

    async def retry(self, event_id: uuid.UUID, at: datetime, attempts: int) -> None:
        self.retried.append((event_id, attempts))

    async def give_up(self, event_id: uuid.UUID, reason: str, attempts: int) -> None:
        self.given_up.append((event_id, reason))


class FakeSender:
    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.sent: list[WebhookEvent] = []

    async def send(self, url: str, secret: str, payload: WebhookEvent) -> DeliveryResult:
        self.sent.append(payload)
        return result_for_status(self.statuses.pop(0) if self.statuses else 200)


class FakeEndpoints:
    def __init__(self, endpoint: NotificationEndpoint | None) -> None:
        self.endpoint = endpoint

    async def get(self, user_id: uuid.UUID) -> NotificationEndpoint | None:
        return self.endpoint

    async def put(self, endpoint: NotificationEndpoint) -> None:
        self.endpoint = endpoint

    async def delete(self, user_id: uuid.UUID) -> bool:
        return True


def _event(clock: FakeClock) -> WatchEvent:
    return WatchEvent(
        id=uuid.uuid4(),
        watch_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        kind=EventKind.NEW_FINDINGS,
        target="requirements.txt",
        advisories=("GHSA-1",),
        findings=(_finding("GHSA-1", "a", "1.0"),),
        vulndb_version=3,
        created_at=clock.now(),
    )


async def test_delivery_posts_the_documented_body_retries_a_500_and_gives_up_without_an_endpoint(
    clock: FakeClock,
) -> None:
    event = _event(clock)
    endpoint = NotificationEndpoint(
        user_id=event.user_id, url="https://hooks.example/x", secret="s" * 16, created_at=clock.now()
    )
    outbox, sender, metrics = FakeOutbox([event]), FakeSender(500), RecordingMetrics()
    delivery = WatchEventDelivery(outbox, FakeEndpoints(endpoint), sender, clock, jitter=lambda: 0.0, metrics=metrics)
    report = await delivery.deliver_due()
    assert report.retried == 1
    assert outbox.retried == [(event.id, 1)]
    body = json.loads(sender.sent[0].body)
    assert sender.sent[0].type == "scan.new_findings"
    assert list(body) == [
        "type",
        "id",
        "watch_id",
        "user_id",
        "target",
        "advisories",
        "findings",
        "vulndb_version",
        "created_at",
    ]
    assert body["findings"][0] == {
        "id": "GHSA-1",
        "package": {"name": "a", "version": "1.0", "ecosystem": "PyPI", "purl": None},
        "installed_version": "1.0",
        "fixed_versions": [],
        "severity": "HIGH",
    }
    outbox.due = [dataclasses.replace(event, attempts=1)]
    assert (await delivery.deliver_due()).delivered == 1
    assert outbox.done == [(event.id, 2)]
    assert [e for e in metrics.events if e[0] == "watch_webhook"] == [
        ("watch_webhook", "retried"),
        ("watch_webhook", "delivered"),
    ]

    orphan = _event(clock)
    outbox = FakeOutbox([orphan])
    delivery = WatchEventDelivery(outbox, FakeEndpoints(None), sender, clock)
    assert (await delivery.deliver_due()).given_up == 1
    assert outbox.given_up == [(orphan.id, "no notification endpoint is registered")]


async def test_a_baseline_stored_after_an_update_catches_up_with_it(clock: FakeClock) -> None:
    store = InMemoryVulnerabilityStore()
    await _import(store, URLLIB3)
    matcher = VulnerabilityMatcher(store)
    baselines = Baselines(matcher, store, clock)
    repo = FakeWatches()
    inventory = [_pypi("certifi", "2022.12.7"), _pypi("urllib3", "2.0.4")]
    watch = await _watched(repo, baselines, inventory, clock)
    assert await baselines.catch_up(repo, watch.id, inventory, watch.vulndb_version) == 0  # nothing landed

    await _import(store, CERTIFI)  # an update whose re-match ran before the watch was stored
    assert await baselines.catch_up(repo, watch.id, inventory, watch.vulndb_version) == 1
    (event,) = repo.recorded
    assert event.kind is EventKind.NEW_FINDINGS
    assert event.advisories == ("GHSA-xqr8-7jwr-rhp7",)
    assert repo.rows[watch.id].vulndb_version == 2
    # Had that re-match seen the watch, the stored findings would already be current: no second event.
    assert await baselines.catch_up(repo, watch.id, inventory, 1) == 0
