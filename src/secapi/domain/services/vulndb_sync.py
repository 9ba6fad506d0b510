"""Keeping the vulnerability database current from an OSV bucket layout: conditional, incremental, safe.

Per ecosystem, a sync asks for `modified_id.csv` with the validators it stored last time. Not modified:
nothing else is fetched. Changed: only the records modified after the stored high-water mark are
fetched one by one, unless there are more than `max_changed_ids`, when the whole `all.zip` is taken
instead (as on the first run). Every download is complete and verified before anything is imported,
and the state (validators, high-water mark) advances only with what was stored, so a failed or
corrupt download leaves the database and the next sync's starting point as they were. The types and
ports live in `secapi.domain.vulndb_sync_ports` and are re-exported here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial

from secapi.domain.advisories import UpsertCounts
from secapi.domain.errors import DomainError
from secapi.domain.osv_imports import ImportSummary, RawRecord, RecordImporter
from secapi.domain.ports import Clock, VulnerabilityStore
from secapi.domain.vulndb_sync_ports import (
    DEFAULT_MAX_CHANGED_IDS,
    LAST_FULL_SUCCESS,
    SCANNABLE_ECOSYSTEMS,
    EcosystemOutcome,
    Feed,
    Fetched,
    ModifiedId,
    NotPublished,
    SyncFailed,
    SyncLock,
    SyncMetrics,
    SyncProgress,
    SyncReport,
    SyncSource,
    SyncState,
    SyncStateStore,
    Validators,
    configured_ecosystems,
    last_full_success,
    select_ecosystems,
)

__all__ = [
    "DEFAULT_MAX_CHANGED_IDS", "LAST_FULL_SUCCESS", "SCANNABLE_ECOSYSTEMS", "EcosystemOutcome", "Feed", "Fetched",
    "ModifiedId", "NotPublished", "SyncFailed", "SyncLock", "SyncMetrics", "SyncProgress", "SyncReport",
    "SyncSource", "SyncState", "SyncStateStore", "Validators", "VulnDbSync", "configured_ecosystems",
    "last_full_success", "select_ecosystems",
]  # fmt: skip
log = logging.getLogger(__name__)


class VulnDbSync:
    """Brings the store up to date with a source, ecosystem by ecosystem, then the feeds."""

    def __init__(
        self,
        source: SyncSource,
        states: SyncStateStore,
        importer: RecordImporter,
        store: VulnerabilityStore,
        lock: SyncLock,
        metrics: SyncMetrics,
        clock: Clock,
        feeds: Sequence[Feed] = (),
        *,
        max_changed_ids: int = DEFAULT_MAX_CHANGED_IDS,
    ) -> None:
        self._source = source
        self._states = states
        self._importer = importer
        self._store = store
        self._lock = lock
        self._metrics = metrics
        self._clock = clock
        self._feeds = tuple(feeds)
        self._max_changed = max_changed_ids

    async def run(
        self,
        ecosystems: Sequence[str],
        *,
        progress: SyncProgress | None = None,
        on_published: Callable[[int, set[tuple[str, str]]], Awaitable[None]] | None = None,
    ) -> SyncReport:
        """Sync `ecosystems` (as configured; see `select_ecosystems`) and the feeds, under the lock.

        One failing ecosystem does not stop the others. `on_published(version, changed_keys)` is awaited
        once, after the last change is stored, when anything changed.
        """
        async with self._lock.hold() as held:
            if not held:
                return SyncReport(skipped=True)
            started = time.monotonic()
            report = SyncReport()
            try:
                selected = select_ecosystems(ecosystems, await self._published())
            except (SyncFailed, DomainError) as exc:
                report.outcomes.append(EcosystemOutcome("ecosystems.txt", error=str(exc)))
                selected = []
            for ecosystem in selected:
                report.outcomes.append(await self._step(ecosystem, report, progress, self._ecosystem))
            for feed in self._feeds:
                report.outcomes.append(
                    await self._step(f"feed:{feed.name}", report, progress, partial(self._feed, feed))
                )
            if report.version is not None and on_published is not None:
                await on_published(report.version.version, report.changed_keys)
            finished_at = self._clock.now()
            if not report.failed:
                await self._record_full_success(finished_at)
            self._metrics.vulndb_sync_finished(
                failed=bool(report.failed), seconds=time.monotonic() - started, finished_at=finished_at.timestamp()
            )
            return report

    async def _record_full_success(self, finished_at: datetime) -> None:
        """Store the run's end, which every process's metrics sampler exports (see `LAST_FULL_SUCCESS`)."""
        try:
            await self._states.save([SyncState(LAST_FULL_SUCCESS, finished_at)])
        except DomainError as exc:
            # The data is synced and published; only the staleness gauge of other processes lags until the
            # next run, which is no reason to report this run as failed.
            log.warning("vulndb sync succeeded but its end could not be stored: %s", exc)

    async def _published(self) -> list[str] | None:
        """`ecosystems.txt`, asked for conditionally (its last text is kept for a 304); None when not published."""
        key = self._source.resource(None, "ecosystems.txt")
        stored = (await self._states.load([key])).get(key)
        known = stored is not None and stored.content is not None
        try:
            fetched = await self._source.ecosystems(stored.validators if stored is not None and known else None)
        except NotPublished:
            return None
        if fetched.value is None and stored is not None and stored.content is not None:
            await self._states.save([self._touched(stored)])
            return stored.content.splitlines()
        names = fetched.value or []
        await self._states.save(
            [SyncState(key, self._clock.now(), *_pair(fetched.validators), content="\n".join(names))]
        )
        return names

    async def _step(
        self,
        name: str,
        report: SyncReport,
        progress: SyncProgress | None,
        work: Callable[[EcosystemOutcome, SyncReport, SyncProgress | None], Awaitable[None]],
    ) -> EcosystemOutcome:
        outcome = EcosystemOutcome(name)
        if progress is not None:
            progress.started(name)
        started = time.monotonic()
        try:
            await work(outcome, report, progress)
        except SyncFailed as exc:
            outcome.error = str(exc)
        except DomainError as exc:  # the store unavailable, a feed that does not parse: this one fails, not the run
            outcome.error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # an adapter's untranslated failure must not cost the other ecosystems their sync
            log.exception("vulndb sync of %s failed unexpectedly", name)
            outcome.error = f"unexpected {type(exc).__name__}: {exc}"
        outcome.seconds = time.monotonic() - started
        counts = outcome.counts
        self._metrics.vulndb_sync_ecosystem(
            name,
            failed=outcome.error is not None,
            seconds=outcome.seconds,
            added=counts.added,
            updated=counts.updated,
            withdrawn=counts.withdrawn,
        )
        if progress is not None:
            progress.finished(outcome)
        return outcome

    async def _ecosystem(self, outcome: EcosystemOutcome, report: SyncReport, progress: SyncProgress | None) -> None:
        ecosystem = outcome.ecosystem
        zip_key = self._source.resource(ecosystem, "all.zip")
        csv_key = self._source.resource(ecosystem, "modified_id.csv")
        stored = await self._states.load([zip_key, csv_key])
        marks = [state.high_water for state in stored.values() if state.high_water is not None]
        high_water = max(marks) if marks else None
        listing: Fetched[list[ModifiedId]] | None = None
        if high_water is not None:
            csv_state = stored.get(csv_key)
            listing = await self._listing(ecosystem, None if csv_state is None else csv_state.validators)
            if listing is not None and listing.not_modified:
                await self._states.save([self._touched(stored[csv_key])])
                return
            if listing is not None and listing.value is not None:
                outcome.downloaded_bytes += listing.size
                newer = _newer(listing.value, high_water)
                if len(newer) <= self._max_changed:
                    outcome.method = "incremental"
                    await self._catch_up(outcome, report, progress, csv_key, listing, newer, high_water)
                    return
        # First run, no modified_id.csv, or too many changes: the whole archive (conditional only when
        # it is all there is to ask for; a listing that changed means the archive must be taken).
        zip_state = stored.get(zip_key)
        validators = zip_state.validators if zip_state is not None and listing is None else None
        archive = await self._source.archive(ecosystem, validators)
        if archive.value is None:
            if zip_state is not None:
                await self._states.save([self._touched(zip_state)])
            return
        outcome.method = "archive"
        outcome.downloaded_bytes += archive.size
        path = archive.value
        try:
            summary = await self._import(self._source.archive_records(path), ecosystem, "all.zip", outcome, progress)
        finally:
            self._source.release(path)
        self._absorb(summary, outcome, report)
        zip_mark = summary.newest_modified
        now = self._clock.now()
        await self._states.save([SyncState(zip_key, now, *_pair(archive.validators), high_water=zip_mark)])
        # Records changed after the archive was built are in the listing: take them now.
        if listing is None or listing.value is None:
            listing = await self._listing(ecosystem, None)
            if listing is None or listing.value is None:
                return
            outcome.downloaded_bytes += listing.size
        mark = max((m for m in (zip_mark, high_water) if m is not None), default=None)
        newer = [] if mark is None else _newer(listing.value, mark)
        # Still too many (an archive older than its listing): the oldest first, the rest on the next run.
        newer = sorted(newer, key=lambda entry: entry.modified)[: self._max_changed]
        await self._catch_up(outcome, report, progress, csv_key, listing, newer, mark)

    async def _listing(self, ecosystem: str, validators: Validators | None) -> Fetched[list[ModifiedId]] | None:
        try:
            return await self._source.modified_ids(ecosystem, validators)
        except NotPublished:
            return None

    async def _catch_up(
        self,
        outcome: EcosystemOutcome,
        report: SyncReport,
        progress: SyncProgress | None,
        csv_key: str,
        listing: Fetched[list[ModifiedId]],
        newer: list[ModifiedId],
        high_water: datetime | None,
    ) -> None:
        mark = high_water
        if newer:
            ids = list(dict.fromkeys(entry.id for entry in newer))
            raw = await self._source.records(outcome.ecosystem, ids)
            outcome.fetched_records += len(raw)
            outcome.downloaded_bytes += sum(len(record.data) for record in raw if isinstance(record.data, bytes))
            summary = await self._import(raw, outcome.ecosystem, f"{len(ids)} changed", outcome, progress)
            self._absorb(summary, outcome, report)
            newest = max(entry.modified for entry in newer)
            mark = newest if mark is None else max(mark, newest)
        state = SyncState(csv_key, self._clock.now(), *_pair(listing.validators), high_water=mark)
        await self._states.save([state])

    async def _import(
        self,
        records: Iterable[RawRecord],
        ecosystem: str,
        what: str,
        outcome: EcosystemOutcome,
        progress: SyncProgress | None,
    ) -> ImportSummary:
        step = None if progress is None else progress.records
        return await self._importer.run(
            records, source=f"sync {self._source.location} {ecosystem} ({what})", progress=step
        )

    @staticmethod
    def _absorb(summary: ImportSummary, outcome: EcosystemOutcome, report: SyncReport) -> None:
        outcome.read += summary.read
        outcome.rejected += len(summary.rejected)
        outcome.counts.add(summary.counts)
        report.changed_keys |= summary.changed_keys
        if summary.counts.changed and summary.version is not None:
            report.version = summary.version

    async def _feed(
        self, feed: Feed, outcome: EcosystemOutcome, report: SyncReport, _progress: SyncProgress | None
    ) -> None:
        stored = (await self._states.load([feed.location])).get(feed.location)
        fetched = await self._source.feed(feed.location, None if stored is None else stored.validators)
        if fetched.value is None:
            if stored is not None:
                await self._states.save([self._touched(stored)])
            return
        outcome.method = "feed"
        outcome.downloaded_bytes = fetched.size
        try:
            outcome.read = await feed.apply(fetched.value)
        finally:
            self._source.release(fetched.value)
        # Cached results carry enrichment: a new version makes them be computed again.
        report.version = await self._store.advance_version(UpsertCounts(), source=f"feed:{feed.name}")
        await self._states.save([SyncState(feed.location, self._clock.now(), *_pair(fetched.validators))])

    def _touched(self, state: SyncState) -> SyncState:
        return replace(state, last_success=self._clock.now())


def _newer(entries: Iterable[ModifiedId], mark: datetime) -> list[ModifiedId]:
    # Strictly newer: a record at the mark itself was stored by the run that set it.
    return [entry for entry in entries if entry.modified > mark]


def _pair(validators: Validators) -> tuple[str | None, str | None]:
    return validators.etag, validators.last_modified
