"""Watched targets: `/api/v1/watches` (re-matched after every database update; events and webhooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, JSONBody, Parameter

from secapi.domain.errors import InvalidInput
from secapi.domain.findings import PackageRef
from secapi.domain.model import Principal
from secapi.domain.services.watches import WatchService
from secapi.domain.watches import EventPage, Watch, WatchedFinding, WatchEvent, WatchPage
from secapi.entrypoints.http.controllers import API_PREFIX
from secapi.entrypoints.http.media_types import json_only
from secapi.entrypoints.http.openapi import AUTHENTICATED, JSON_BODY, ApiOperation, problem_responses
from secapi.entrypoints.http.schemas import ImageName, PlatformName, decode_cursor, encode_cursor

PAGE_LIMIT = Annotated[int | None, Parameter(description="Items per page (1–100, default 20)", ge=1, le=100)]
PAGE_CURSOR = Annotated[str | None, Parameter(description="`next_cursor` of the previous page")]


class _Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of the watch bodies: unknown fields are an error, not ignored."""


class WatchRequest(_Schema):
    """Body of `POST /api/v1/watches`: exactly one of `image` (with an optional `platform`) and `scan_id`."""

    image: ImageName | None = None
    platform: PlatformName | None = None
    scan_id: UUID | None = None
    """One of your finished scans (a lockfile, a registry image or an uploaded archive): its inventory is watched."""


class WatchView(_Schema):
    """A watched target and where its findings stand."""

    id: UUID
    kind: str
    target: str
    platform: str | None
    status: str
    """`pending` (its baseline scan is running), `active`, `rescanning` (the tag moved) or `failed`."""
    scan_id: UUID | None
    image_digest: str | None
    packages: int
    findings: int
    vulndb_version: int
    created_at: datetime
    matched_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, watch: Watch) -> WatchView:
        return cls(
            id=watch.id,
            kind=watch.kind.value,
            target=watch.target,
            platform=watch.platform,
            status=watch.status.value,
            scan_id=watch.scan_id,
            image_digest=watch.image_digest,
            packages=watch.packages,
            findings=watch.findings,
            vulndb_version=watch.vulndb_version,
            created_at=watch.created_at,
            matched_at=watch.matched_at,
            error=watch.error,
        )


class WatchListView(_Schema):
    """A page of watches, newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[WatchView]
    next_cursor: str | None

    @classmethod
    def of(cls, page: WatchPage) -> WatchListView:
        cursor = encode_cursor(page.next_cursor) if page.next_cursor else None
        return cls(items=[WatchView.of(w) for w in page.items], next_cursor=cursor)


class PackageView(_Schema):
    """The package a finding is about."""

    name: str
    version: str
    ecosystem: str
    purl: str | None

    @classmethod
    def of(cls, package: PackageRef) -> PackageView:
        return cls(name=package.name, version=package.version, ecosystem=package.ecosystem, purl=package.purl)


class WatchedFindingView(_Schema):
    """A finding an event reports."""

    id: str
    package: PackageView
    installed_version: str
    fixed_versions: list[str]
    severity: str
    """`CRITICAL`, `HIGH`, `MEDIUM`, `LOW` or `UNKNOWN`, as in scan results."""

    @classmethod
    def of(cls, finding: WatchedFinding) -> WatchedFindingView:
        return cls(
            id=finding.id,
            package=PackageView.of(finding.package),
            installed_version=finding.installed_version,
            fixed_versions=list(finding.fixed_versions),
            severity=finding.severity.value,
        )


class DeliveryView(_Schema):
    """The webhook delivery of a `new_findings` event."""

    attempts: int
    delivered_at: datetime | None
    given_up: str | None


class WatchEventView(_Schema):
    """Findings a watch gained (`new_findings`) or lost (`resolved_findings`) at one database version."""

    id: UUID
    watch_id: UUID
    kind: str
    target: str
    advisories: list[str]
    findings: list[WatchedFindingView]
    vulndb_version: int
    created_at: datetime
    delivery: DeliveryView | None
    """Only `new_findings` events are posted to your webhook (`scan.new_findings`)."""

    @classmethod
    def of(cls, event: WatchEvent) -> WatchEventView:
        posted = event.kind.value == "new_findings"
        return cls(
            id=event.id,
            watch_id=event.watch_id,
            kind=event.kind.value,
            target=event.target,
            advisories=list(event.advisories),
            findings=[WatchedFindingView.of(f) for f in event.findings],
            vulndb_version=event.vulndb_version,
            created_at=event.created_at,
            delivery=DeliveryView(attempts=event.attempts, delivered_at=event.delivered_at, given_up=event.given_up)
            if posted
            else None,
        )


class WatchEventListView(_Schema):
    """A page of a watch's events, newest first."""

    items: list[WatchEventView]
    next_cursor: str | None

    @classmethod
    def of(cls, page: EventPage) -> WatchEventListView:
        cursor = encode_cursor(page.next_cursor) if page.next_cursor else None
        return cls(items=[WatchEventView.of(e) for e in page.items], next_cursor=cursor)


class WatchesController(Controller):
    """`/api/v1/watches`: a tenant's watched targets, never another's."""

    path = "/watches"
    tags = ["watches"]

    @post(
        "/",
        operation_id="CreateWatch",
        summary="Watch an image or one of your finished scans",
        description='`{"image": "nginx:1.24"}` scans the image (from the cache when its digest was scanned; '
        "otherwise it counts as a scan) and watches its inventory; the tag is re-resolved after every database "
        'update and rescanned when it moved. `{"scan_id": ...}` watches a finished scan\'s inventory. After every '
        "update the watched packages under the changed advisories are re-matched; new findings become events and "
        "a `scan.new_findings` webhook. The number of watches is limited by tier (free 3, starter 25, pro 250, "
        "business 2,500).",
        status_code=201,
        opt=json_only,
        operation_class=ApiOperation,
        responses=problem_responses(*JSON_BODY, *AUTHENTICATED, 404, 409, 422),
    )
    @inject
    async def create_watch(
        self, data: JSONBody[WatchRequest], principal: FromDishka[Principal], watches: FromDishka[WatchService]
    ) -> Response[WatchView]:
        if (data.image is None) == (data.scan_id is None):
            raise InvalidInput("give exactly one of image and scan_id", field="image")
        if data.scan_id is not None:
            if data.platform is not None:
                raise InvalidInput("platform goes with image, not with scan_id", field="platform")
            watch = await watches.watch_scan(principal, data.scan_id)
        else:
            assert data.image is not None
            watch = await watches.watch_image(principal, data.image, data.platform)
        return Response(
            WatchView.of(watch), status_code=201, headers={"Location": f"{API_PREFIX}{self.path}/{watch.id}"}
        )

    @get(
        "/",
        operation_id="ListWatches",
        summary="Your watches, newest first",
        operation_class=ApiOperation,
        responses=problem_responses(400, *AUTHENTICATED, 422),
    )
    @inject
    async def list_watches(
        self,
        principal: FromDishka[Principal],
        watches: FromDishka[WatchService],
        limit: PAGE_LIMIT = None,
        cursor: PAGE_CURSOR = None,
    ) -> WatchListView:
        after = decode_cursor(cursor) if cursor else None
        return WatchListView.of(await watches.page(principal, limit=limit, after=after))

    @get(
        "/{watch_id:uuid}",
        operation_id="GetWatch",
        summary="One of your watches",
        operation_class=ApiOperation,
        responses=problem_responses(*AUTHENTICATED, 404),
    )
    @inject
    async def get_watch(
        self, watch_id: FromPath[UUID], principal: FromDishka[Principal], watches: FromDishka[WatchService]
    ) -> WatchView:
        return WatchView.of(await watches.get(principal, watch_id))

    @delete(
        "/{watch_id:uuid}",
        operation_id="DeleteWatch",
        summary="Stop watching (its events go too)",
        status_code=204,
        operation_class=ApiOperation,
        responses=problem_responses(*AUTHENTICATED, 404),
    )
    @inject
    async def delete_watch(
        self, watch_id: FromPath[UUID], principal: FromDishka[Principal], watches: FromDishka[WatchService]
    ) -> None:
        await watches.delete(principal, watch_id)

    @get(
        "/{watch_id:uuid}/events",
        operation_id="ListWatchEvents",
        summary="A watch's events, newest first",
        operation_class=ApiOperation,
        responses=problem_responses(400, *AUTHENTICATED, 404, 422),
    )
    @inject
    async def list_events(
        self,
        watch_id: FromPath[UUID],
        principal: FromDishka[Principal],
        watches: FromDishka[WatchService],
        limit: PAGE_LIMIT = None,
        cursor: PAGE_CURSOR = None,
    ) -> WatchEventListView:
        after = decode_cursor(cursor) if cursor else None
        return WatchEventListView.of(await watches.events(principal, watch_id, limit=limit, after=after))
