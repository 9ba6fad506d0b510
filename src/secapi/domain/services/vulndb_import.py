"""Importing OSV records: streamed in batches, malformed ones rejected with a reason, the rest go on."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterable

from secapi.domain.advisories import Advisory, OsvRecordError
from secapi.domain.osv_imports import ImportSummary, RawRecord, RecordImporter, Rejection
from secapi.domain.osv_records import parse_osv_record
from secapi.domain.ports import VulnerabilityStore

DEFAULT_BATCH = 2000
_QUEUED_BATCHES = 2


class VulnDbImporter(RecordImporter):
    """Parses records, upserts them in batches, and advances the database version if anything changed."""

    def __init__(self, store: VulnerabilityStore, *, batch_size: int = DEFAULT_BATCH) -> None:
        self._store = store
        self._batch_size = batch_size

    async def run(
        self,
        records: Iterable[RawRecord],
        *,
        source: str,
        progress: Callable[[int], object] | None = None,
    ) -> ImportSummary:
        """Import every record; memory stays bounded by a few batches whatever the input size.

        Reading and parsing run in a thread while the store writes the previous
        batch, so Python's parsing and the database's bulk load overlap on two cores.
        """
        summary = ImportSummary()
        loop = asyncio.get_running_loop()
        batches: asyncio.Queue[list[Advisory] | None] = asyncio.Queue(maxsize=_QUEUED_BATCHES)
        stop = threading.Event()

        def hand_over(item: list[Advisory] | None) -> None:
            while not stop.is_set():
                future = asyncio.run_coroutine_threadsafe(batches.put(item), loop)
                try:
                    future.result(timeout=0.5)
                    return
                except concurrent.futures.TimeoutError:
                    future.cancel()

        def produce() -> None:
            batch: list[Advisory] = []
            try:
                for raw in records:
                    if stop.is_set():
                        return
                    summary.read += 1
                    advisory = self._parse(raw, summary)
                    if advisory is not None:
                        batch.append(advisory)
                    if len(batch) >= self._batch_size:
                        hand_over(batch)
                        batch = []
                    if progress is not None:
                        progress(1)
                if batch:
                    hand_over(batch)
            finally:
                hand_over(None)

        producer = asyncio.ensure_future(asyncio.to_thread(produce))
        try:
            while (batch := await batches.get()) is not None:
                summary.counts.add(await self._store.upsert(batch))
        finally:
            stop.set()
            await producer  # re-raises a reading error after the writer has stopped
        if summary.counts.changed:
            summary.version = await self._store.advance_version(summary.counts, source)
        else:
            summary.version = await self._store.current_version()
        return summary

    @staticmethod
    def _parse(raw: RawRecord, summary: ImportSummary) -> Advisory | None:
        if raw.error is not None:
            summary.rejected.append(Rejection(raw.source, None, raw.error))
            return None
        if raw.data is None:
            summary.rejected.append(Rejection(raw.source, None, "empty record"))
            return None
        try:
            advisory = parse_osv_record(raw.data)
        except OsvRecordError as exc:
            summary.rejected.append(Rejection(raw.source, exc.record_id, exc.reason))
            return None
        if summary.newest_modified is None or advisory.modified > summary.newest_modified:
            summary.newest_modified = advisory.modified
        return advisory
