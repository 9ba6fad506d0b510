"""Cache administration: statistics, invalidation, warming. Admin key required."""

from __future__ import annotations

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, post
from litestar.params import JSONBody

from secapi.domain.caching import ScanCache
from secapi.domain.errors import InvalidInput
from secapi.domain.services.cache_warming import CacheWarmer, WarmRequest
from secapi.entrypoints.http.auth import AdminPrincipal
from secapi.entrypoints.http.media_types import json_only
from secapi.entrypoints.http.openapi import ADMIN, JSON_BODY, ApiOperation, InvalidateOperation, problem_responses
from secapi.entrypoints.http.schemas import (
    CacheStatsView,
    InvalidateRequest,
    InvalidateView,
    WarmRequestBody,
    WarmView,
)


class AdminCacheController(Controller):
    """`/api/v1/admin/cache`."""

    path = "/admin/cache"
    tags = ["admin"]
    opt = json_only

    @get(
        "/stats",
        operation_id="CacheStats",
        summary="Hits, misses, hit rate by scan type; keys and memory",
        operation_class=ApiOperation,
        responses=problem_responses(*ADMIN),
    )
    @inject
    async def stats(self, admin: FromDishka[AdminPrincipal], cache: FromDishka[ScanCache]) -> CacheStatsView:
        return msgspec.convert(msgspec.to_builtins(await cache.get_cache_stats()), CacheStatsView)

    @post(
        "/invalidate",
        operation_id="InvalidateCache",
        summary="Remove cached results by scan type or pattern",
        status_code=200,
        operation_class=InvalidateOperation,
        responses=problem_responses(*JSON_BODY, *ADMIN, 422),
    )
    @inject
    async def invalidate(
        self, data: JSONBody[InvalidateRequest], admin: FromDishka[AdminPrincipal], cache: FromDishka[ScanCache]
    ) -> InvalidateView:
        if (data.scan_type is None) == (data.pattern is None):
            raise InvalidInput("give exactly one of scan_type or pattern", field="scan_type")
        pattern = data.pattern or f"scan:{data.scan_type}:*"
        return InvalidateView(removed=await cache.invalidate_pattern(pattern), pattern=pattern)

    @post(
        "/warm",
        operation_id="WarmCache",
        summary="Queue fresh scans of given or popular images",
        status_code=202,
        operation_class=ApiOperation,
        responses=problem_responses(*JSON_BODY, *ADMIN),
    )
    @inject
    async def warm(
        self, data: JSONBody[WarmRequestBody], admin: FromDishka[AdminPrincipal], warmer: FromDishka[CacheWarmer]
    ) -> WarmView:
        report = await warmer.warm([WarmRequest(image=item.image, platform=item.platform) for item in data.images])
        queued, rejected = list(report.queued), dict(report.rejected)
        if data.popular:
            popular = await warmer.warm_popular(data.popular)
            queued += popular.queued
            rejected.update(popular.rejected)
        return WarmView(queued=queued, rejected=rejected)
