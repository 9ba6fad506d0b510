"""Reading the caller's scans."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, Parameter

from secapi.domain.model import Principal, ScanStatus
from secapi.domain.result_formats import ResultFormats
from secapi.domain.services.scan_queries import ScanQueries
from secapi.domain.suppressions import ActiveSuppressions
from secapi.entrypoints.http.openapi import (
    AUTHENTICATED,
    ApiOperation,
    ConditionalGetOperation,
    not_modified,
    problem_responses,
)
from secapi.entrypoints.http.result_formats import OutputFormat, choose_format
from secapi.entrypoints.http.risk_filters import risk_filter
from secapi.entrypoints.http.scan_responses import (
    answer_etag,
    format_etag,
    formatted_off_loop,
    scan_body,
    scan_etag,
    suppressed,
)
from secapi.entrypoints.http.schemas import ScanListView, ScanView, decode_cursor


class ScansController(Controller):
    """`/api/v1/scans`: a tenant's own scans, never another's."""

    path = "/scans"
    tags = ["scans"]

    @get(
        "/{scan_id:uuid}",
        operation_id="GetScan",
        summary="One of your scans",
        operation_class=ConditionalGetOperation,
        responses={
            200: ResponseSpec(ScanView, description="The scan", generate_examples=False),
            **not_modified(),
            **problem_responses(400, *AUTHENTICATED, 404, 406),
        },
    )
    @inject
    async def get_scan(
        self,
        request: Request[Any, Any, Any],
        scan_id: FromPath[UUID],
        principal: FromDishka[Principal],
        scans: FromDishka[ScanQueries],
        formats: FromDishka[ResultFormats],
        suppressions: FromDishka[ActiveSuppressions],
        if_none_match: Annotated[
            str | None,
            HeaderParameter(name="If-None-Match", description="An `ETag` of this scan: 304 while it is unchanged"),
        ] = None,
        min_epss: Annotated[
            float | None,
            Parameter(
                description="Show only findings whose EPSS score is at least this (0..1); findings without one are "
                "hidden. Narrows this response only.",
                ge=0.0,
                le=1.0,
                schema_extra={"minimum": 0.0},  # Litestar leaves a falsy `ge` out of the schema
            ),
        ] = None,
        kev_only: Annotated[
            bool,
            Parameter(description="Show only findings in CISA's KEV catalogue. Narrows this response only."),
        ] = False,
        output_format: OutputFormat = None,
    ) -> Response[Any]:
        narrow = risk_filter(min_epss, kev_only, source="query")
        fmt = choose_format(request, formats, output_format)
        scan = await scans.get(principal, scan_id)
        if (scan.status is not ScanStatus.COMPLETED or scan.result is None) and not (fmt and fmt.any_state):
            fmt = None  # not finished, failed or unreadable: the scan view, unless the format is a page for people
        etag = format_etag(answer_etag(scan_etag(scan), narrow, suppressions), fmt)
        headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Accept"}
        if etag in _etags(if_none_match):
            return Response(content=None, status_code=304, headers=headers)
        document = None if fmt is None else await formatted_off_loop(scan, fmt, None, narrow, suppressions)
        if fmt is not None and document is not None:
            return Response(document, headers=headers, media_type=fmt.media_type)
        return Response(scan_body(scan, narrow, suppressions), headers=headers, media_type="application/json")

    @get(
        "/",
        operation_id="ListScans",
        summary="Your scans, newest first",
        operation_class=ApiOperation,
        responses=problem_responses(400, *AUTHENTICATED, 422),
    )
    @inject
    async def list_scans(
        self,
        principal: FromDishka[Principal],
        scans: FromDishka[ScanQueries],
        suppressions: FromDishka[ActiveSuppressions],
        limit: Annotated[int | None, Parameter(description="Scans per page (1–100, default 20)", ge=1, le=100)] = None,
        cursor: Annotated[str | None, Parameter(description="`next_cursor` of the previous page")] = None,
    ) -> ScanListView:
        after = decode_cursor(cursor) if cursor else None
        page = await scans.list(principal, limit=limit, after=after)
        items = [suppressed(scan, suppressions) for scan in page.items]
        return ScanListView.of(dataclasses.replace(page, items=items))


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {part.strip() for part in header.split(",")}
