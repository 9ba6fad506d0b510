"""Reading the caller's scans."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, Parameter

from secapi.domain.model import Principal
from secapi.domain.services.scan_queries import ScanQueries
from secapi.entrypoints.http.scan_responses import scan_etag
from secapi.entrypoints.http.schemas import ScanListView, ScanView, decode_cursor


class ScansController(Controller):
    """`/api/v1/scans`: a tenant's own scans, never another's."""

    path = "/api/v1/scans"
    tags = ["scans"]

    @get("/{scan_id:uuid}", operation_id="GetScan", summary="One of your scans")
    @inject
    async def get_scan(
        self,
        request: Request[Any, Any, Any],
        scan_id: FromPath[UUID],
        principal: FromDishka[Principal],
        scans: FromDishka[ScanQueries],
    ) -> Response[Any]:
        scan = await scans.get(principal, scan_id)
        etag = scan_etag(scan)
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if etag in _etags(request.headers.get("if-none-match")):
            return Response(content=None, status_code=304, headers=headers)
        return Response(ScanView.of(scan), headers=headers)

    @get("/", operation_id="ListScans", summary="Your scans, newest first")
    @inject
    async def list_scans(
        self,
        principal: FromDishka[Principal],
        scans: FromDishka[ScanQueries],
        limit: Annotated[int | None, Parameter(description="Scans per page (1–100, default 20)")] = None,
        cursor: Annotated[str | None, Parameter(description="`next_cursor` of the previous page")] = None,
    ) -> ScanListView:
        after = decode_cursor(cursor) if cursor else None
        return ScanListView.of(await scans.list(principal, limit=limit, after=after))


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {part.strip() for part in header.split(",")}
