"""Reading the caller's scans."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get
from litestar.params import FromPath, Parameter

from secapi.domain.model import Principal
from secapi.domain.services.scan_queries import ScanQueries
from secapi.entrypoints.http.schemas import ScanListView, ScanView, decode_cursor


class ScansController(Controller):
    """`/api/v1/scans`: a tenant's own scans, never another's."""

    path = "/api/v1/scans"
    tags = ["scans"]

    @get("/{scan_id:uuid}", operation_id="GetScan", summary="One of your scans")
    @inject
    async def get_scan(
        self, scan_id: FromPath[UUID], principal: FromDishka[Principal], scans: FromDishka[ScanQueries]
    ) -> ScanView:
        return ScanView.of(await scans.get(principal, scan_id))

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
