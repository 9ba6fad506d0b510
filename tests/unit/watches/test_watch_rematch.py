"""Watches in the domain: the findings diff, the batched key matcher, and the re-matcher over an honest fake store."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from secapi.domain.findings import PackageRef
from secapi.domain.model import PageCursor
from secapi.domain.osv_records import parse_osv_record
from secapi.domain.packages import Package
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.watches import Baselines, WatchRematcher
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
            if update.replace_all:
                self.keys[update.watch_id] = {}
            for state in update.keys:
                self.keys[update.watch_id][state.key] = state
            self.recorded.extend(update.events)

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
    baselines = Baselines(matcher, store)
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
