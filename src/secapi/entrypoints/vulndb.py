"""Importing OSV data from the command line, with a progress bar."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

from dishka import AsyncContainer
from tqdm import tqdm

from secapi.adapters.osv.reader import SAMPLE_DIR, SourceError, count_records, iter_records
from secapi.config import Settings
from secapi.domain.caching import VersionSource
from secapi.domain.services.cache_warming import CacheWarmer
from secapi.domain.services.vulndb_import import ImportSummary, RawRecord, VulnDbImporter


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
    settings = await container.get(Settings)
    if settings.cache_warm_top > 0:
        async with container() as request:
            await (await request.get(CacheWarmer)).warm_popular(settings.cache_warm_top)


async def import_sample(container: AsyncContainer) -> ImportSummary:
    """Import the bundled sample advisories (idempotent: unchanged records change nothing)."""
    return await import_paths(container, [SAMPLE_DIR], show_progress=False)
