"""One place that turns a scan's state into the HTTP answer of a scan request."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import msgspec
from litestar import Request, Response

from secapi.domain.findings import ScanResult
from secapi.domain.model import Scan, ScanStatus
from secapi.domain.ports import ResultFormat
from secapi.domain.services.exploit_intel import RiskFilter
from secapi.domain.services.result_cache import CacheInfo, CacheStatus
from secapi.domain.services.scan_pipeline import ScanOutcome
from secapi.domain.suppressions import NO_SUPPRESSIONS, ActiveSuppressions
from secapi.entrypoints.http.problems import problem
from secapi.entrypoints.http.risk_filters import NO_FILTER, filtered_etag, filtered_raw
from secapi.entrypoints.http.schemas import ScanView


def scan_location(scan: Scan) -> str:
    """Where the client polls the scan."""
    return f"/api/v1/scans/{scan.id}"


def wants_fresh(request: Request[Any, Any, Any]) -> bool:
    """True for `Cache-Control: no-cache` (or `Pragma: no-cache`): run a fresh scan, bypassing the cache."""
    directives = request.headers.get("cache-control", "").lower() + "," + request.headers.get("pragma", "").lower()
    return any(part.strip() in ("no-cache", "no-store", "max-age=0") for part in directives.split(","))


def cache_headers(cache: CacheInfo) -> dict[str, str]:
    """`X-Cache-Status`, `Cache-Control`, `Age` and `ETag` for an answer the cache took part in."""
    return {
        "X-Cache-Status": cache.status.value,
        "Cache-Control": f"private, max-age={cache.max_age}",
        "Age": str(cache.age),
        "ETag": cache.etag,
    }


def scan_etag(scan: Scan) -> str:
    """A validator for a stored scan: it changes only when the scan's state does (finished scans never change)."""
    stamp = scan.finished_at.isoformat() if scan.finished_at else "-"
    return f'W/"{scan.id.hex}-{scan.status.value}-{stamp}"'


def scan_body(
    scan: Scan, risk_filter: RiskFilter = NO_FILTER, suppressions: ActiveSuppressions = NO_SUPPRESSIONS
) -> ScanView | bytes:
    """The scan as the API shows it to this tenant: its view with the tenant's `suppressions` applied, and
    with an active `risk_filter` the JSON of that view with its result narrowed (`filtered_raw`); the stored
    result is untouched."""
    scan = suppressed(scan, suppressions)
    if not risk_filter.active or scan.result is None:
        return ScanView.of(scan)
    narrowed = filtered_raw(msgspec.json.encode(scan.result), risk_filter)
    return _with_raw_result(dataclasses.replace(scan, result=None), narrowed)


def suppressed(scan: Scan, suppressions: ActiveSuppressions) -> Scan:
    """The scan with its result as this tenant sees it (`ActiveSuppressions.apply`); unchanged without any."""
    if not suppressions.active or scan.result is None:
        return scan
    return dataclasses.replace(scan, result=suppressions.apply(scan.result))


def answered_raw(raw: bytes, risk_filter: RiskFilter, suppressions: ActiveSuppressions) -> bytes:
    """A stored result's JSON as this tenant's answer shows it, in one answer-time step: the tenant's
    suppressions, then the risk filter. Without either the bytes go out as they are (a hit's fast path)."""
    if suppressions.active:
        try:
            result = msgspec.json.decode(raw, type=ScanResult)
        except msgspec.ValidationError:
            pass  # a document of another shape is shown unsuppressed rather than not at all
        else:
            raw = msgspec.json.encode(suppressions.apply(result))
    return filtered_raw(raw, risk_filter)


def answer_etag(etag: str, risk_filter: RiskFilter, suppressions: ActiveSuppressions) -> str:
    """The validator of this tenant's representation: another filter, or another set of suppressions in force
    (a rule added, deleted or expired), is another representation of the same result."""
    tagged = filtered_etag(etag, risk_filter)
    if not suppressions.active or not tagged.endswith('"'):
        return tagged
    return f'{tagged[:-1]};sup={suppressions.stamp}"'


def format_etag(etag: str, fmt: ResultFormat | None) -> str:
    """A distinct validator per output format: a CycloneDX or SARIF document is another representation."""
    if fmt is None or not etag.endswith('"'):
        return etag
    return f'{etag[:-1]};format={fmt.name}"'


def formatted(
    scan: Scan,
    fmt: ResultFormat,
    raw_result: bytes | None = None,
    risk_filter: RiskFilter = NO_FILTER,
    suppressions: ActiveSuppressions = NO_SUPPRESSIONS,
) -> bytes | None:
    """A completed scan written in `fmt` (its result from `raw_result`, a cache hit's bytes, when given), the
    tenant's `suppressions` applied and the findings narrowed by `risk_filter`; None when the scan has no
    readable result to write (a format written in `any_state` writes the scan as it is)."""
    if raw_result is None and scan.result is not None and not risk_filter.active:
        return fmt.render(suppressed(scan, suppressions))
    raw = raw_result if raw_result is not None else None if scan.result is None else msgspec.json.encode(scan.result)
    if raw is None:
        return fmt.render(scan) if fmt.any_state else None
    result = msgspec.json.decode(answered_raw(raw, risk_filter, suppressions), type=ScanResult)
    return fmt.render(dataclasses.replace(scan, result=result))


async def formatted_off_loop(
    scan: Scan,
    fmt: ResultFormat,
    raw_result: bytes | None = None,
    risk_filter: RiskFilter = NO_FILTER,
    suppressions: ActiveSuppressions = NO_SUPPRESSIONS,
) -> bytes | None:
    """`formatted`, in a worker thread: writing a format is CPU-bound (CycloneDX 1.5-2.5 s for 2,000 packages
    with cyclonedx-python-lib), and the event loop keeps answering other requests meanwhile."""
    return await asyncio.to_thread(formatted, scan, fmt, raw_result, risk_filter, suppressions)


def _with_raw_result(scan: Scan, raw: bytes) -> bytes:
    # The view is encoded without its result, then the cached result's bytes go in its place: a cache
    # hit is never decoded and re-encoded. `"result":null` cannot occur earlier unescaped: the fields
    # before it are ids, enums, timestamps and the input object, whose strings escape their quotes. A fresh
    # scan may still hold its typed result: the bytes given (narrowed, suppressed) are what the answer shows.
    if scan.result is not None:
        scan = dataclasses.replace(scan, result=None)
    body = msgspec.json.encode(ScanView.of(scan))
    return body.replace(b'"result":null', b'"result":' + raw, 1)


async def outcome_response(
    request: Request[Any, Any, Any],
    outcome: ScanOutcome,
    *,
    risk_filter: RiskFilter = NO_FILTER,
    fmt: ResultFormat | None = None,
    suppressions: ActiveSuppressions = NO_SUPPRESSIONS,
) -> Response[Any]:
    """`scan_response` for what a scan endpoint's service answered (the scan, the cache's part, a hit's bytes)."""
    return await scan_response(
        request,
        outcome.scan,
        outcome.cache,
        outcome.raw_result,
        risk_filter=risk_filter,
        fmt=fmt,
        suppressions=suppressions,
    )


async def scan_response(
    request: Request[Any, Any, Any],
    scan: Scan,
    cache: CacheInfo | None = None,
    raw_result: bytes | None = None,
    *,
    cache_status: CacheStatus | None = None,
    risk_filter: RiskFilter = NO_FILTER,
    fmt: ResultFormat | None = None,
    suppressions: ActiveSuppressions = NO_SUPPRESSIONS,
) -> Response[Any]:
    """200 with the result; 202 + Location while queued or running; a 422 problem if the scan failed.

    `cache_status` gives `X-Cache-Status` alone when there is no result to describe with `cache`.
    `risk_filter` (`min_epss`, `kev_only`) narrows the result's vulnerabilities in this response only;
    `suppressions` (the tenant's ignore rules and VEX statements) move covered findings to `suppressed` first.
    `fmt` writes a completed scan's result in that output format instead of the scan view (a cache hit's
    bytes are decoded for it), in a worker thread; every other answer is as without it.
    """
    headers = {"Location": scan_location(scan), "Vary": "Accept"}
    if cache is not None:
        headers.update(cache_headers(cache))
        headers["ETag"] = format_etag(answer_etag(cache.etag, risk_filter, suppressions), fmt)
    elif cache_status is not None:
        headers["X-Cache-Status"] = cache_status.value
    if scan.status is ScanStatus.COMPLETED and fmt is not None:
        document = await formatted_off_loop(scan, fmt, raw_result, risk_filter, suppressions)
        if document is not None:
            return Response(document, status_code=200, headers=headers, media_type=fmt.media_type)
    if scan.status is ScanStatus.COMPLETED and raw_result is not None:
        body = _with_raw_result(scan, answered_raw(raw_result, risk_filter, suppressions))
        return Response(body, status_code=200, headers=headers, media_type="application/json")
    if scan.status is ScanStatus.COMPLETED:
        body_view = scan_body(scan, risk_filter, suppressions)
        return Response(body_view, status_code=200, headers=headers, media_type="application/json")
    if scan.status is ScanStatus.FAILED:
        return problem(
            422,
            "scan-failed",
            "Scan failed",
            scan.error or "the scan failed",
            request,
            headers=headers,
            extensions={"scan_id": str(scan.id), "scan": scan_location(scan)},
        )
    headers["Retry-After"] = "2"
    return Response(ScanView.of(scan), status_code=202, headers=headers)
