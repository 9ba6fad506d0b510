"""Uploaded image archives at the HTTP edge: receive the upload, hand it to the `ArchiveScans` use case."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response

from secapi.config import Settings
from secapi.domain.model import Principal
from secapi.domain.ports import ResultFormat, StoredArchive
from secapi.domain.services.archive_scans import ArchiveScans
from secapi.domain.suppressions import NO_SUPPRESSIONS, ActiveSuppressions
from secapi.entrypoints.http.risk_filters import risk_filter_from_form
from secapi.entrypoints.http.scan_responses import scan_response, wants_fresh
from secapi.entrypoints.http.uploads import receive_archive


async def scan_uploaded_archive(
    request: Request[Any, Any, Any],
    principal: Principal,
    archives: ArchiveScans,
    settings: Settings,
    fmt: ResultFormat | None = None,
    suppressions: ActiveSuppressions = NO_SUPPRESSIONS,
) -> Response[Any]:
    """Stream the upload to disk, scan it here (the use case records, charges and runs it), answer (a finished
    scan written in `fmt` when given, with the tenant's `suppressions` applied)."""
    await archives.refuse_if_vulndb_empty()  # before reading a possibly large upload
    upload = await receive_archive(request, limit=settings.archive_max_bytes, directory=settings.scan_tmp_dir or None)
    try:
        narrow = risk_filter_from_form(upload.fields)  # before the scan is recorded: a bad filter costs nothing
    except BaseException:
        await asyncio.to_thread(upload.path.unlink, missing_ok=True)
        raise
    stored = StoredArchive(path=upload.path, filename=upload.filename, sha256=upload.sha256, size=upload.size)
    outcome = await archives.scan(
        principal,
        stored,
        image=upload.fields.get("image") or None,
        platform=upload.fields.get("platform") or None,
        bypass_cache=wants_fresh(request),
    )
    return await scan_response(
        request,
        outcome.scan,
        outcome.cache,
        cache_status=archives.cache_status(outcome.scan),
        risk_filter=narrow,
        fmt=fmt,
        suppressions=suppressions,
    )
