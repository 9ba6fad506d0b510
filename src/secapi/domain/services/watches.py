"""Watched targets: the API's use cases (`WatchService`), re-matching after updates (`WatchRematcher`) and
the `scan.new_findings` webhooks (`WatchEventDelivery`).

How a watch gets its baseline: a watch on a finished scan takes that scan's `packages` at once. A watch on
an image reference is stored `pending` first (so the tier limit is enforced before any work), then the
image is scanned through the ordinary image scan flow (from the cache when its digest was scanned already;
otherwise it is queued and charged as any scan). If that scan finishes within the request's sync budget the
watch is `active` when the request answers; otherwise `WatchRematcher.fill_baselines` takes the baseline
from the scan row once it has finished (it runs before every re-match and in the delivery loop every few
seconds), and a failed scan makes the watch `failed` with the scan's error. A baseline is matched against
the database in force when it is taken, so it starts current and produces no event of its own.

A sync whose re-match ran between a baseline's matching and its storing did not see the watch: right after
storing a baseline, `Baselines.catch_up` compares the database version it was matched at with the one in
force and, if an update landed meanwhile, matches the inventory again and records the differences as events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from secapi.domain.errors import DomainError, ScanNotFound
from secapi.domain.findings import Finding, ScanResult
from secapi.domain.images import DEFAULT_PLATFORM, ImageSource, parse_image_reference, parse_platform
from secapi.domain.metrics import MetricsSink, NoMetrics
from secapi.domain.model import PageCursor, Principal, Scan, ScanStatus
from secapi.domain.notifications import NotificationEndpoints, WebhookSender, retry_at
from secapi.domain.packages import Package
from secapi.domain.ports import Clock, ScanRepository, VulnerabilityStore
from secapi.domain.rate_limits import QuotaLedger, RateLimitResult, WindowState
from secapi.domain.scan_inputs import ArchiveImageInput, RegistryImageInput
from secapi.domain.services.matching import VulnerabilityMatcher, lookup_keys
from secapi.domain.tiers import WATCH_LIMITS, Tier
from secapi.domain.watches import (
    EventKind,
    EventOutbox,
    EventPage,
    FailedScanNotWatchable,
    ImageRescanner,
    KeyState,
    LookupKey,
    ScanNotWatchable,
    SuppressedFindings,
    Watch,
    WatchedFinding,
    WatchEvent,
    WatchKind,
    WatchLimitExceeded,
    WatchLimitReached,
    WatchNotFound,
    WatchPage,
    WatchRepository,
    WatchStatus,
    WatchUpdate,
    diff_findings,
    new_findings_event,
)

log = logging.getLogger(__name__)

WATCH_WINDOW = "watches"
"""The name of the watch limit in the rate-limit headers and the 429 problem."""
LIMIT_RETRY_AFTER = 60.0
"""A watch slot frees when a watch is deleted, not with time; every 429 still says when asking again is sensible."""
ALL_SUPPRESSED = "every finding is suppressed by your ignore rules or VEX documents"
"""Why a `new_findings` event is not posted: nothing in it is news to its owner."""
UPDATE_BATCH = 1000
"""Watches written per transaction by the re-matcher."""
MAX_WRITES_IN_FLIGHT = 2
"""Transactions of a re-match writing at once (each holds a pooled connection) while the next chunk is diffed."""


def watch_limit_state(tier: Tier, count: int, now: float) -> RateLimitResult:
    """The watch limit as a quota window (for the same headers and 429 as the time windows)."""
    limit = WATCH_LIMITS[tier.value]
    remaining = max(0, limit - count)
    state = WindowState(
        name=WATCH_WINDOW, quota=WATCH_WINDOW, limit=limit, used=count, remaining=remaining, reset_at=now, seconds=0
    )
    return RateLimitResult(
        allowed=remaining > 0,
        limit=limit,
        remaining=remaining,
        reset_at=now,
        windows=(state,),
        retry_after=None if remaining > 0 else LIMIT_RETRY_AFTER,
        violated=() if remaining > 0 else (WATCH_WINDOW,),
    )


def packages_of(result: ScanResult | None) -> tuple[Package, ...]:
    """The inventory of a finished scan's result (none without a result)."""
    return () if result is None else result.packages


def group_by_key(packages: Iterable[Package]) -> dict[LookupKey, list[Package]]:
    """Each lookup key with the packages filed under it (an RPM under its own and its source name)."""
    by_key: dict[LookupKey, list[Package]] = defaultdict(list)
    for package in packages:
        for key in lookup_keys(package):
            by_key[key].append(package)
    return by_key


def _distinct(findings: Iterable[WatchedFinding]) -> int:
    return len({f.identity for f in findings})


class Baselines:
    """Matches a whole inventory key by key (a new watch, a finished baseline scan, a moved tag)."""

    def __init__(self, matcher: VulnerabilityMatcher, store: VulnerabilityStore, clock: Clock) -> None:
        self._matcher = matcher
        self._store = store
        self._clock = clock

    async def match(self, packages: Sequence[Package]) -> tuple[list[KeyState], int]:
        """The key rows of `packages` with their findings now, and the database version they were matched at."""
        version = (await self._store.current_version()).version
        by_key = group_by_key(packages)
        found = await self._matcher.match_by_key({key: (key, group) for key, group in by_key.items()})
        keys = [
            KeyState(key=key, packages=tuple(group), findings=tuple(WatchedFinding.of(f) for f in found.get(key, ())))
            for key, group in by_key.items()
        ]
        return keys, version

    async def current_version(self) -> int:
        """The database version in force now."""
        return (await self._store.current_version()).version

    async def catch_up(
        self, watches: WatchRepository, watch_id: uuid.UUID, packages: Sequence[Package], version: int
    ) -> int:
        """After storing a baseline matched at `version`: if an update landed meanwhile, its re-match may have
        run before the watch was stored, so match the whole inventory again and record what changed as events.
        Returns the events written (none when the update's re-match saw the watch: nothing differs then)."""
        if await self.current_version() <= version:
            return 0
        found = list(await watches.watches([watch_id]))
        if not found:
            return 0
        old = [f for state in await watches.key_states(watch_id) for f in state.findings]
        keys, now_version = await self.match(packages)
        fresh = [f for k in keys for f in k.findings]
        diff = diff_findings(old, fresh)
        now = self._clock.now()
        events = _events(found[0], diff.new, diff.resolved, now_version, now)
        update = WatchUpdate(
            watch_id=watch_id,
            keys=keys,
            replace_all=True,
            vulndb_version=now_version,
            matched_at=now,
            findings=_distinct(fresh),
            events=events,
        )
        await watches.apply([update])
        return len(events)


class WatchService:
    """What `/api/v1/watches` does for a tenant; every read is scoped to the caller."""

    def __init__(
        self,
        watches: WatchRepository,
        scans: ScanRepository,
        baselines: Baselines,
        clock: Clock,
        ledger: QuotaLedger,
        *,
        images: Any = None,
        default_limit: int = 20,
        max_limit: int = 100,
    ) -> None:
        self._watches = watches
        self._scans = scans
        self._baselines = baselines
        self._clock = clock
        self._ledger = ledger
        self._images = images
        """An `ImageScanSubmitter` (typed loosely: it lives in `image_scans`, which must not import this module)."""
        self._default_limit = default_limit
        self._max_limit = max_limit

    async def watch_scan(self, principal: Principal, scan_id: uuid.UUID) -> Watch:
        """Watch the inventory of one of the caller's finished scans."""
        scan = await self._scans.get_for_user(scan_id, principal.user_id)
        if scan is None:
            raise ScanNotFound(f"no scan {scan_id} belongs to you")
        _check_watchable(scan)
        packages = packages_of(scan.result)
        keys, version = await self._baselines.match(packages)
        now = self._clock.now()
        findings = _distinct(f for k in keys for f in k.findings)
        watch = Watch(
            id=uuid.uuid4(),
            user_id=principal.user_id,
            kind=WatchKind.SCAN,
            target=_target_of(scan),
            status=WatchStatus.ACTIVE,
            created_at=now,
            platform=scan.input_data.platform
            if isinstance(scan.input_data, RegistryImageInput | ArchiveImageInput)
            else None,
            scan_id=scan.id,
            image_digest=_digest_of(scan),
            packages=len(packages),
            findings=findings,
            vulndb_version=version,
            matched_at=now,
        )
        await self._add(principal, watch, keys)
        await self._baselines.catch_up(self._watches, watch.id, packages, version)
        return watch

    async def watch_image(self, principal: Principal, image: str, platform: str | None) -> Watch:
        """Watch an image reference: stored pending, then scanned (or answered from the cache) for its baseline."""
        if self._images is None:
            raise DomainError("image watches are not available in this process")
        reference = parse_image_reference(image)
        target_platform = parse_platform(platform) if platform else DEFAULT_PLATFORM
        await self._images.refuse_if_vulndb_empty()
        watch = Watch(
            id=uuid.uuid4(),
            user_id=principal.user_id,
            kind=WatchKind.IMAGE,
            target=reference.canonical(),
            status=WatchStatus.PENDING,
            created_at=self._clock.now(),
            platform=str(target_platform),
        )
        # The limit first: a refused watch costs no scan.
        await self._add(principal, watch, ())
        try:
            outcome = await self._images.scan(principal, image, platform)
        except BaseException:
            await self._watches.delete(principal.user_id, watch.id)
            raise
        scan: Scan = outcome.scan
        if scan.result is None and outcome.raw_result is not None:
            # A cache hit answers with the stored bytes (its scan row is written behind): that is the baseline.
            scan = scan.with_result(msgspec.json.decode(outcome.raw_result, type=ScanResult))
        if scan.status is ScanStatus.FAILED:
            await self._watches.delete(principal.user_id, watch.id)
            raise FailedScanNotWatchable(
                f"the image could not be scanned, so there is nothing to watch: {scan.error}", field="image"
            )
        if scan.status is ScanStatus.COMPLETED:
            return await self._activate(watch, scan)
        await self._watches.apply(
            [WatchUpdate(watch_id=watch.id, keys=(), vulndb_version=0, matched_at=watch.created_at, scan_id=scan.id)]
        )
        return await self._get(principal, watch.id)

    async def get(self, principal: Principal, watch_id: uuid.UUID) -> Watch:
        """One of the caller's watches."""
        return await self._get(principal, watch_id)

    async def page(self, principal: Principal, *, limit: int | None, after: PageCursor | None) -> WatchPage:
        """The caller's watches, newest first; the headers show the watch limit."""
        page = await self._watches.page(principal.user_id, limit=self._limit(limit), after=after)
        self._ledger.watches = watch_limit_state(
            principal.user.tier, await self._watches.count(principal.user_id), self._clock.now().timestamp()
        )
        return page

    async def delete(self, principal: Principal, watch_id: uuid.UUID) -> None:
        """Stop watching (its events go too)."""
        if not await self._watches.delete(principal.user_id, watch_id):
            raise WatchNotFound

    async def events(
        self, principal: Principal, watch_id: uuid.UUID, *, limit: int | None, after: PageCursor | None
    ) -> EventPage:
        """A watch's events, newest first."""
        await self._get(principal, watch_id)
        return await self._watches.events(principal.user_id, watch_id, limit=self._limit(limit), after=after)

    async def _add(self, principal: Principal, watch: Watch, keys: Sequence[KeyState]) -> None:
        tier = principal.user.tier
        now = self._clock.now().timestamp()
        try:
            count = await self._watches.add(watch, keys, limit=WATCH_LIMITS[tier.value])
        except WatchLimitReached as full:
            state = watch_limit_state(tier, full.count, now)
            self._ledger.watches = state
            raise WatchLimitExceeded(state, tier, WATCH_WINDOW) from None
        self._ledger.watches = watch_limit_state(tier, count, now)

    async def _activate(self, watch: Watch, scan: Scan) -> Watch:
        packages = packages_of(scan.result)
        keys, version = await self._baselines.match(packages)
        now = self._clock.now()
        update = WatchUpdate(
            watch_id=watch.id,
            keys=keys,
            replace_all=True,
            vulndb_version=version,
            matched_at=now,
            findings=_distinct(f for k in keys for f in k.findings),
            status=WatchStatus.ACTIVE,
            scan_id=scan.id,
            image_digest=_digest_of(scan),
            packages=len(packages),
        )
        await self._watches.apply([update])
        await self._baselines.catch_up(self._watches, watch.id, packages, version)
        return await self._get_any(watch)

    async def _get_any(self, watch: Watch) -> Watch:
        found = await self._watches.get(watch.user_id, watch.id)
        if found is None:
            raise WatchNotFound
        return found

    async def _get(self, principal: Principal, watch_id: uuid.UUID) -> Watch:
        watch = await self._watches.get(principal.user_id, watch_id)
        if watch is None:
            raise WatchNotFound
        return watch

    def _limit(self, limit: int | None) -> int:
        return max(1, min(limit or self._default_limit, self._max_limit))


def _check_watchable(scan: Scan) -> None:
    if scan.status is ScanStatus.FAILED:
        raise FailedScanNotWatchable(
            f"scan {scan.id} failed ({scan.error or 'no reason recorded'}): it has no inventory to watch",
            field="scan_id",
        )
    if scan.status is ScanStatus.COMPLETED and scan.result is None and scan.error:
        raise ScanNotWatchable(f"scan {scan.id} has no inventory to watch: {scan.error}")
    if scan.status is not ScanStatus.COMPLETED or scan.result is None:
        raise ScanNotWatchable(
            f"scan {scan.id} is still {scan.status.value}: watch it once it has finished (poll /api/v1/scans/{scan.id})"
        )


def _target_of(scan: Scan) -> str:
    target = scan.result.target if scan.result is not None else ""
    return (target or scan.input_data.label or str(scan.id))[:600]


def _digest_of(scan: Scan) -> str | None:
    image = scan.result.image if scan.result is not None else None
    return None if image is None else image.manifest_digest


@dataclass(frozen=True, slots=True)
class RematchReport:
    """What one re-match did."""

    keys: int = 0
    watches: int = 0
    groups: int = 0
    new_events: int = 0
    resolved_events: int = 0
    seconds: float = 0.0
    fetch_seconds: float = 0.0
    """Loading the key rows of the changed keys (and taking finished baselines first)."""
    match_seconds: float = 0.0
    diff_seconds: float = 0.0
    write_seconds: float = 0.0


class WatchRematcher:
    """After a database update: re-match only the watched packages under the changed keys, and record events."""

    def __init__(
        self,
        watches: WatchRepository,
        scans: ScanRepository,
        baselines: Baselines,
        matcher: VulnerabilityMatcher,
        clock: Clock,
        *,
        source: ImageSource | None = None,
        rescanner: ImageRescanner | None = None,
        batch: int = UPDATE_BATCH,
        metrics: MetricsSink | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._watches = watches
        self._scans = scans
        self._baselines = baselines
        self._matcher = matcher
        self._clock = clock
        self._source = source
        self._rescanner = rescanner
        self._batch = batch

    async def rematch(self, changed_keys: Collection[LookupKey], version: int) -> RematchReport:
        """Re-match every active watch holding one of `changed_keys`; one candidates query for all of them."""
        started = time.perf_counter()
        await self.fill_baselines()
        if not changed_keys:
            return RematchReport(seconds=time.perf_counter() - started)
        # Hundreds of thousands of short-lived, acyclic objects (key rows, findings): the cyclic collector's
        # repeated walks over them were a quarter of the time. Reference counting still frees them.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return await self._rematch(changed_keys, version, started)
        finally:
            if collecting:
                gc.enable()

    async def _rematch(self, changed_keys: Collection[LookupKey], version: int, started: float) -> RematchReport:
        affected = await self._watches.affected(changed_keys)
        fetched = time.perf_counter()
        groups = {
            (watch_id, state.key): (state.key, state.packages)
            for watch_id, states in affected.items()
            for state in states
        }
        # The watches' targets (for events) load while the candidates are evaluated (in a thread when large).
        found, watches = await asyncio.gather(self._matcher.match_by_key(groups), self._watches.watches(list(affected)))
        targets = {w.id: w for w in watches}
        matched_at = time.perf_counter()
        now = self._clock.now()
        converted: dict[int, WatchedFinding] = {}  # one Finding object serves many watches: converted once
        items = list(affected.items())
        writes: list[asyncio.Task[None]] = []
        new_events = resolved_events = 0
        diff_seconds = 0.0
        try:
            for start in range(0, len(items), self._batch):
                chunk = items[start : start + self._batch]
                diffing = time.perf_counter()
                # Diffed in a thread so the previous chunk's writes proceed meanwhile (one transaction each).
                updates, new, resolved = await asyncio.to_thread(
                    _diff_chunk, chunk, found, targets, version, now, converted
                )
                diff_seconds += time.perf_counter() - diffing
                new_events += new
                resolved_events += resolved
                in_flight = [task for task in writes if not task.done()]
                if len(in_flight) >= MAX_WRITES_IN_FLIGHT:
                    await in_flight[0]
                writes.append(asyncio.create_task(self._watches.apply(updates)))
            await asyncio.gather(*writes)
        finally:
            for task in writes:
                if not task.done():
                    task.cancel()
        done = time.perf_counter()
        report = RematchReport(
            keys=len(changed_keys),
            watches=len(affected),
            groups=len(groups),
            new_events=new_events,
            resolved_events=resolved_events,
            seconds=done - started,
            fetch_seconds=fetched - started,
            match_seconds=matched_at - fetched,
            diff_seconds=diff_seconds,
            write_seconds=done - matched_at - diff_seconds,
        )
        self._metrics.watches_rematched(
            seconds=report.seconds,
            watches=report.watches,
            new_events=report.new_events,
            resolved_events=report.resolved_events,
        )
        log.info(
            "re-matched %d watches under %d changed keys (%d groups) at version %d in %.2f s: %d new, %d resolved",
            report.watches,
            report.keys,
            report.groups,
            version,
            report.seconds,
            new_events,
            resolved_events,
        )
        return report

    async def fill_baselines(self, limit: int = 500) -> int:
        """Give pending watches whose scan finished their baseline, and moved images their new one; how many."""
        done = 0
        for status in (WatchStatus.PENDING, WatchStatus.RESCANNING):
            for watch in await self._watches.by_status(status, limit=limit):
                try:
                    done += await self._fill(watch)
                except DomainError as exc:
                    log.warning("baseline of watch %s not taken yet: %s", watch.id, exc)
        return done

    async def _fill(self, watch: Watch) -> int:
        if watch.scan_id is None:
            return 0
        scan = await self._scans.get(watch.scan_id)
        now = self._clock.now()
        if scan is None or scan.status is ScanStatus.FAILED:
            reason = "its scan no longer exists" if scan is None else f"its scan failed: {scan.error}"
            if watch.status is WatchStatus.RESCANNING:
                # The old baseline stays: a moved tag that cannot be scanned must not silence the watch.
                log.warning(
                    "rescan of watch %s (%s) failed; keeping the old baseline: %s", watch.id, watch.target, reason
                )
                await self._watches.apply(
                    [
                        WatchUpdate(
                            watch_id=watch.id,
                            keys=(),
                            vulndb_version=watch.vulndb_version,
                            matched_at=now,
                            status=WatchStatus.ACTIVE,
                            error=reason,
                        )
                    ]
                )
                return 1
            await self._watches.apply(
                [
                    WatchUpdate(
                        watch_id=watch.id,
                        keys=(),
                        vulndb_version=0,
                        matched_at=now,
                        status=WatchStatus.FAILED,
                        error=reason,
                    )
                ]
            )
            return 1
        if scan.status is not ScanStatus.COMPLETED:
            return 0
        packages = packages_of(scan.result)
        keys, version = await self._baselines.match(packages)
        events: list[WatchEvent] = []
        if watch.status is WatchStatus.RESCANNING:
            # The tag moved: the findings of the new image against those of the old one.
            old = [f for state in await self._watches.key_states(watch.id) for f in state.findings]
            diff = diff_findings(old, (f for k in keys for f in k.findings))
            events = _events(watch, diff.new, diff.resolved, version, now)
        await self._watches.apply(
            [
                WatchUpdate(
                    watch_id=watch.id,
                    keys=keys,
                    replace_all=True,
                    vulndb_version=version,
                    matched_at=now,
                    findings=_distinct(f for k in keys for f in k.findings),
                    status=WatchStatus.ACTIVE,
                    scan_id=scan.id,
                    image_digest=_digest_of(scan) or watch.image_digest,
                    packages=len(packages),
                    events=events,
                )
            ]
        )
        await self._baselines.catch_up(self._watches, watch.id, packages, version)
        return 1

    async def refresh_images(self, limit: int = 10_000) -> int:
        """Re-resolve every watched image tag; rescan those that moved. An unreachable registry keeps the old
        baseline (logged). Returns how many rescans were started."""
        if self._source is None or self._rescanner is None:
            return 0
        watches = await self._watches.by_status(WatchStatus.ACTIVE, kind=WatchKind.IMAGE, limit=limit)
        digests: dict[tuple[str, str], str | None] = {}
        started = 0
        for watch in watches:
            platform = watch.platform or str(DEFAULT_PLATFORM)
            spot = (watch.target, platform)
            if spot not in digests:
                try:
                    digests[spot] = await self._source.resolve_digest(
                        parse_image_reference(watch.target), parse_platform(platform)
                    )
                except DomainError as exc:
                    log.warning("watched image %s not re-resolved (keeping its baseline): %s", watch.target, exc)
                    digests[spot] = None
            digest = digests[spot]
            if digest is None or digest == watch.image_digest:
                continue
            try:
                scan = await self._rescanner.rescan(watch)
            except DomainError as exc:
                log.warning("watched image %s moved but could not be rescanned: %s", watch.target, exc)
                continue
            await self._watches.apply(
                [
                    WatchUpdate(
                        watch_id=watch.id,
                        keys=(),
                        vulndb_version=watch.vulndb_version,
                        matched_at=self._clock.now(),
                        status=WatchStatus.RESCANNING,
                        scan_id=scan.id,
                    )
                ]
            )
            started += 1
        if started:
            await self.fill_baselines()
        return started


def _diff_chunk(
    chunk: Sequence[tuple[uuid.UUID, Sequence[KeyState]]],
    found: Mapping[tuple[uuid.UUID, LookupKey], Sequence[Finding]],
    targets: Mapping[uuid.UUID, Watch],
    version: int,
    now: datetime,
    converted: dict[int, WatchedFinding],
) -> tuple[list[WatchUpdate], int, int]:
    """The new state of some watches' changed keys, with their events; and how many new and resolved events."""
    updates: list[WatchUpdate] = []
    new_events = resolved_events = 0
    for watch_id, states in chunk:
        rewritten: list[KeyState] = []
        before: list[WatchedFinding] = []
        after: list[WatchedFinding] = []
        for state in states:
            matched = found.get((watch_id, state.key), ())
            before.extend(state.findings)
            if _unchanged(state.findings, matched):
                after.extend(state.findings)  # the common case: nothing converted, nothing written
                continue
            fresh = tuple(_watched(f, converted) for f in matched)
            after.extend(fresh)
            rewritten.append(KeyState(key=state.key, packages=state.packages, findings=fresh))
        if not rewritten:
            updates.append(WatchUpdate(watch_id=watch_id, keys=(), vulndb_version=version, matched_at=now))
            continue
        diff = diff_findings(before, after)
        watch = targets.get(watch_id)
        events = _events(watch, diff.new, diff.resolved, version, now) if watch is not None else []
        new_events += sum(1 for e in events if e.kind is EventKind.NEW_FINDINGS)
        resolved_events += sum(1 for e in events if e.kind is EventKind.RESOLVED_FINDINGS)
        updates.append(
            WatchUpdate(
                watch_id=watch_id,
                keys=rewritten,
                vulndb_version=version,
                matched_at=now,
                findings_delta=_distinct(after) - _distinct(before),
                events=events,
            )
        )
    return updates, new_events, resolved_events


def _unchanged(stored: Sequence[WatchedFinding], matched: Sequence[Finding]) -> bool:
    """Whether a key's stored findings are the matched ones: same identities, fixes and severities, same order."""
    if len(stored) != len(matched):
        return False
    return all(
        old.id == new.id
        and old.package.version == new.package.version
        and old.package.name == new.package.name
        and old.package.ecosystem == new.package.ecosystem
        and old.fixed_versions == new.fixed_versions
        and old.severity == new.severity
        for old, new in zip(stored, matched, strict=True)
    )


def _watched(finding: Finding, converted: dict[int, WatchedFinding]) -> WatchedFinding:
    """`WatchedFinding.of`, memoised by object identity (the findings outlive the memo, so ids stay unique)."""
    watched = converted.get(id(finding))
    if watched is None:
        watched = converted[id(finding)] = WatchedFinding.of(finding)
    return watched


def _events(
    watch: Watch,
    new: Sequence[WatchedFinding],
    resolved: Sequence[WatchedFinding],
    version: int,
    now: datetime,
) -> list[WatchEvent]:
    events = []
    for kind, findings in ((EventKind.NEW_FINDINGS, new), (EventKind.RESOLVED_FINDINGS, resolved)):
        if findings:
            events.append(
                WatchEvent(
                    id=uuid.uuid4(),
                    watch_id=watch.id,
                    user_id=watch.user_id,
                    kind=kind,
                    target=watch.target,
                    advisories=tuple(sorted({f.id for f in findings})),
                    findings=tuple(findings),
                    vulndb_version=version,
                    created_at=now,
                )
            )
    return events


@dataclass(frozen=True, slots=True)
class EventDeliveryReport:
    """What one delivery pass did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    given_up: int = 0


class WatchEventDelivery:
    """Delivers `new_findings` events from the outbox: same signature, headers and retry rules as reset notices."""

    def __init__(
        self,
        outbox: EventOutbox,
        endpoints: NotificationEndpoints,
        sender: WebhookSender,
        clock: Clock,
        *,
        batch: int = 20,
        lease_seconds: float = 120.0,
        jitter: Callable[[], float] = random.random,
        metrics: MetricsSink | None = None,
        suppressions: SuppressedFindings | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._suppressions = suppressions
        self._outbox = outbox
        self._endpoints = endpoints
        self._sender = sender
        self._clock = clock
        self._batch = batch
        self._lease = lease_seconds
        self._jitter = jitter

    async def deliver_due(self) -> EventDeliveryReport:
        """Claim due events (hidden from other claimers for a lease) and deliver them concurrently."""
        now = self._clock.now()
        events = await self._outbox.claim(now, now + timedelta(seconds=self._lease), self._batch)
        outcomes = await asyncio.gather(*(self._deliver(event) for event in events))
        for outcome in outcomes:
            if outcome not in ("deferred", "suppressed"):
                self._metrics.watch_webhook(outcome)
        return EventDeliveryReport(
            claimed=len(events),
            delivered=outcomes.count("delivered"),
            retried=outcomes.count("retried"),
            given_up=outcomes.count("given_up"),
        )

    async def deliver_forever(
        self, rematcher: WatchRematcher | None = None, interval: float = 1.0, baseline_every: float = 5.0
    ) -> None:
        """The worker loop: deliver due events; every `baseline_every` seconds also take finished baselines."""
        next_baselines = 0.0
        while True:
            report = EventDeliveryReport()
            try:
                if rematcher is not None and self._clock.monotonic() >= next_baselines:
                    next_baselines = self._clock.monotonic() + baseline_every
                    await rematcher.fill_baselines()
                report = await self.deliver_due()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("watch event delivery failed")
            if report.claimed < self._batch:
                await asyncio.sleep(interval)

    async def _unsuppressed(self, event: WatchEvent) -> WatchEvent | None:
        """The event without the findings its owner's suppressions cover (as at delivery); None if none is left."""
        if self._suppressions is None:
            return event
        covered = await self._suppressions.covered(event.user_id, event.findings)
        if not covered:
            return event
        kept = tuple(f for f in event.findings if f.identity not in covered)
        if not kept:
            return None
        ids = {f.id for f in kept}
        return dataclasses.replace(event, findings=kept, advisories=tuple(a for a in event.advisories if a in ids))

    async def _deliver(self, event: WatchEvent) -> str:
        attempt = event.attempts + 1
        try:
            endpoint = await self._endpoints.get(event.user_id)
            if endpoint is None:
                await self._outbox.give_up(event.id, "no notification endpoint is registered", event.attempts)
                return "given_up"
            unsuppressed = await self._unsuppressed(event)
            if unsuppressed is None:
                await self._outbox.give_up(event.id, ALL_SUPPRESSED, event.attempts)
                return "suppressed"
            event = unsuppressed
            result = await self._sender.send(endpoint.url, endpoint.secret, new_findings_event(event))
            if result.ok:
                await self._outbox.delivered(event.id, self._clock.now(), attempt)
                log.info(
                    "delivered scan.new_findings %s (watch %s) to user %s", event.id, event.watch_id, event.user_id
                )
                return "delivered"
            at = retry_at(result, attempt, self._clock.now(), self._jitter())
            if at is None:
                await self._outbox.give_up(event.id, result.reason, attempt)
                log.warning("gave up on scan.new_findings %s after %d attempt(s): %s", event.id, attempt, result.reason)
                return "given_up"
            await self._outbox.retry(event.id, at, attempt)
            log.info(
                "scan.new_findings %s attempt %d failed (%s); retrying at %s", event.id, attempt, result.reason, at
            )
            return "retried"
        except DomainError as exc:
            # Left claimed: its lease runs out and it comes due again.
            log.warning("scan.new_findings %s deferred: %s", event.id, exc)
            return "deferred"
