"""Uploaded image archives: scanned in the API process that received them (the upload lives here)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from dishka import AsyncContainer
from litestar import Request, Response

from secapi.adapters.registry.archive import ArchiveImageSource
from secapi.adapters.registry.scratch import ScratchBudget
from secapi.config import Settings
from secapi.domain.model import Principal
from secapi.domain.services.image_scans import ImageScanSubmitter
from secapi.entrypoints.http.risk_filters import risk_filter_from_form
from secapi.entrypoints.http.scan_responses import scan_response, wants_fresh
from secapi.entrypoints.http.uploads import receive_archive
from secapi.entrypoints.jobs import run_scan_job

log = logging.getLogger(__name__)

# Background archive scans, kept referenced so they are not garbage-collected mid-run.
_RUNNING: set[asyncio.Task[None]] = set()


async def _scan_archive(container: AsyncContainer, scan_id: Any, path: Path, settings: Settings) -> None:
    budget = await container.get(ScratchBudget)
    source = ArchiveImageSource(
        path,
        scratch_dir=Path(settings.scan_tmp_dir) if settings.scan_tmp_dir else None,
        max_layer_bytes=settings.max_layer_bytes,
        max_layers=settings.max_image_layers,
        scratch=budget.for_scan(settings.scan_scratch_max_bytes),
    )
    try:
        await run_scan_job(container, scan_id, source)
    finally:
        await source.aclose()
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def scan_uploaded_archive(request: Request[Any, Any, Any]) -> Response[Any]:
    """Authenticate, stream the upload to disk, record the scan, run it here, answer within the sync budget."""
    scope_container: AsyncContainer = request.state.dishka_container
    app_container: AsyncContainer = request.app.state.dishka_container
    principal = await scope_container.get(Principal)
    settings = await scope_container.get(Settings)
    submitter = await scope_container.get(ImageScanSubmitter)
    await submitter.refuse_if_vulndb_empty()  # before reading a possibly large upload
    upload = await receive_archive(request, limit=settings.archive_max_bytes, directory=settings.scan_tmp_dir or None)
    try:
        narrow = risk_filter_from_form(upload.fields)  # before the scan is recorded: a bad filter costs nothing
        scan = await submitter.record_archive(
            principal,
            filename=upload.filename,
            sha256=upload.sha256,
            size=upload.size,
            platform=upload.fields.get("platform") or None,
            image=upload.fields.get("image") or None,
            bypass_cache=wants_fresh(request),
        )
    except BaseException:
        await asyncio.to_thread(upload.path.unlink, missing_ok=True)
        raise
    task = asyncio.create_task(_scan_archive(app_container, scan.id, upload.path, settings))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), timeout=settings.scan_sync_budget)
    outcome = await submitter.archive_outcome(principal, scan)
    return scan_response(
        request, outcome.scan, outcome.cache, cache_status=submitter.archive_cache_status(scan), risk_filter=narrow
    )


async def cancel_archive_scans() -> None:
    """At shutdown: stop archive scans still running (their scans are failed by the sweeper)."""
    for task in list(_RUNNING):
        task.cancel()
    for task in list(_RUNNING):
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
