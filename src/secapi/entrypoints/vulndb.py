"""Importing and syncing OSV data from the command line and workers, with a progress bar or log lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Never

from dishka import AsyncContainer
from tqdm import tqdm

from secapi.adapters.osv.reader import SAMPLE_DIR, SourceError, count_records, iter_records
from secapi.config import Settings
from secapi.domain.caching import VersionSource
from secapi.domain.osv_imports import ImportSummary, RawRecord
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.services.vulndb_sync import (
    SCANNABLE_ECOSYSTEMS,
    EcosystemOutcome,
    SyncProgress,
    SyncReport,
    VulnDbSync,
)
from secapi.domain.services.watches import WatchRematcher
from secapi.entrypoints.jobs import warm_popular

log = logging.getLogger("secapi.vulndb.sync")


def _all(paths: Sequence[Path]) -> Iterator[RawRecord]:
    for path in paths:
        yield from iter_records(path)


async def import_paths(
    container: AsyncContainer, paths: Sequence[Path], *, show_progress: bool = True
) -> ImportSummary:
    """Import every record under `paths` as one import (one version step if anything changed)."""
    for path in paths:
        if not path.exists():
            raise SourceError(f"{path} does not exist")
    importer = await container.get(VulnDbImporter)
    sizes = [count_records(path) for path in paths]
    total = None if any(size is None for size in sizes) else sum(size or 0 for size in sizes)
    source = ", ".join(str(path) for path in paths)
    with tqdm(total=total, unit="rec", desc="importing", disable=not show_progress, mininterval=0.5) as bar:
        summary = await importer.run(_all(paths), source=source, progress=bar.update)
    if summary.counts.changed and summary.version is not None:
        await after_update(container, summary.version.version, summary.changed_keys)
    return summary


async def after_update(container: AsyncContainer, version: int, changed_keys: Collection[tuple[str, str]] = ()) -> None:
    """A new database version: announce it (older cached results stop being served) and warm popular images.

    `changed_keys` are the (ecosystem, normalised name) keys of the records that changed, for re-matching
    what is watched; called once per import or sync run, after the version is stored.
    """
    await (await container.get(VersionSource)).publish(version)
    # Watched inventories: only the packages under the changed keys are re-matched; then moved tags are rescanned.
    rematcher = await container.get(WatchRematcher)
    await rematcher.rematch(changed_keys, version)
    await rematcher.refresh_images()
    settings = await container.get(Settings)
    if settings.cache_warm_top > 0:
        await warm_popular(container, settings.cache_warm_top)  # the worker's warming pass, composed once


class TerminalProgress(SyncProgress):
    """A tqdm bar of records read per ecosystem, and one summary line each (for a terminal)."""

    def __init__(self) -> None:
        self._bar: tqdm[Never] | None = None

    def started(self, ecosystem: str) -> None:
        """Open a bar for `ecosystem`."""
        self._bar = tqdm(total=None, unit="rec", desc=ecosystem, mininterval=0.5, leave=False)

    def records(self, count: int) -> None:
        """Advance the bar."""
        if self._bar is not None:
            self._bar.update(count)

    def finished(self, outcome: EcosystemOutcome) -> None:
        """Close the bar and print the ecosystem's line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        tqdm.write(describe(outcome))


class LogProgress(SyncProgress):
    """One structured log line per ecosystem, `key=value` fields (for logs: no terminal)."""

    def started(self, ecosystem: str) -> None:
        """Nothing to say yet."""

    def records(self, count: int) -> None:
        """Too many to log."""

    def finished(self, outcome: EcosystemOutcome) -> None:
        """Log the outcome's fields (a warning when it failed)."""
        log.log(logging.WARNING if outcome.error else logging.INFO, "vulndb sync %s", log_fields(outcome))


def log_fields(outcome: EcosystemOutcome) -> str:
    """`ecosystem=PyPI method=incremental ... error="..."` for one outcome."""
    counts = outcome.counts
    fields: dict[str, object] = {
        "ecosystem": json.dumps(outcome.ecosystem) if " " in outcome.ecosystem else outcome.ecosystem,
        "status": "failed" if outcome.error else "ok",
        "method": "-" if outcome.error else outcome.method,
        "bytes": outcome.downloaded_bytes,
        "fetched": outcome.fetched_records,
        "read": outcome.read,
        "added": counts.added,
        "updated": counts.updated,
        "withdrawn": counts.withdrawn,
        "unchanged": counts.unchanged,
        "rejected": outcome.rejected,
        "seconds": f"{outcome.seconds:.2f}",
    }
    if outcome.error:
        fields["error"] = json.dumps(outcome.error)
    return " ".join(f"{key}={value}" for key, value in fields.items())


def describe(outcome: EcosystemOutcome) -> str:
    """One human line for an ecosystem's outcome."""
    if outcome.error:
        return f"{outcome.ecosystem}: FAILED after {outcome.seconds:.1f} s: {outcome.error}"
    if outcome.method == "not-modified":
        return f"{outcome.ecosystem}: not modified (304), nothing downloaded ({outcome.seconds:.1f} s)"
    counts = outcome.counts
    how = {"archive": "all.zip", "incremental": f"{outcome.fetched_records} changed records", "feed": "feed"}
    return (
        f"{outcome.ecosystem}: {how.get(outcome.method, outcome.method)} ({_size(outcome.downloaded_bytes)}), "
        f"read {outcome.read}: added {counts.added}, updated {counts.updated}, withdrawn {counts.withdrawn}, "
        f"rejected {outcome.rejected} ({outcome.seconds:.1f} s)"
    )


def _size(count: int) -> str:
    amount = float(count)
    for unit in ("B", "KiB", "MiB"):
        if amount < 1024:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GiB"


async def sync(
    container: AsyncContainer, ecosystems: Sequence[str] | None = None, *, progress: SyncProgress | None = None
) -> SyncReport:
    """Run one sync of `ecosystems` (default: `SECAPI_VULNDB_ECOSYSTEMS`) and announce the new version once."""
    settings = await container.get(Settings)
    wanted = list(ecosystems or settings.vulndb_ecosystem_names or SCANNABLE_ECOSYSTEMS)
    service = await container.get(VulnDbSync)

    async def published(version: int, changed_keys: set[tuple[str, str]]) -> None:
        await after_update(container, version, changed_keys)

    return await service.run(wanted, progress=progress or LogProgress(), on_published=published)


async def run_sync_job(container: AsyncContainer) -> None:
    """One scheduled `vulndb sync`: log lines per ecosystem; a sync already running elsewhere makes it a no-op."""
    try:
        report = await sync(container)
    except Exception:  # the next tick tries again; the staleness alert tells if it keeps failing
        log.exception("scheduled vulndb sync failed")
        return
    if report.skipped:
        log.info("scheduled vulndb sync skipped: another sync is running")


async def import_sample(container: AsyncContainer) -> ImportSummary:
    """Import the bundled sample advisories (idempotent: unchanged records change nothing)."""
    return await import_paths(container, [SAMPLE_DIR], show_progress=False)
