"""Warming: re-scan the most requested inputs after a database update and on a schedule."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Protocol

from secapi.domain.errors import DomainError
from secapi.domain.model import Principal, User
from secapi.domain.ports import Clock, UserRepository
from secapi.domain.services.result_cache import ResultCache
from secapi.domain.services.scan_pipeline import ScanOutcome
from secapi.domain.tiers import Tier

log = logging.getLogger(__name__)

WARMER_EMAIL = "cache-warmer@secapi.internal"
"""The account warming scans belong to (business tier: the longest TTL)."""


@dataclass(frozen=True, slots=True)
class WarmRequest:
    """One input to scan ahead of demand."""

    image: str
    platform: str | None = None


@dataclass(frozen=True, slots=True)
class WarmReport:
    """What a warming run queued, and what it could not."""

    queued: list[uuid.UUID]
    rejected: dict[str, str]


class ImageScans(Protocol):
    """Scans a registry image (`ImageScanSubmitter`); warming asks for fresh scans, not waited for, not charged."""

    async def scan(
        self,
        principal: Principal,
        image: str,
        platform: str | None,
        *,
        bypass_cache: bool = False,
        wait: bool = True,
        consume_quota: bool = True,
    ) -> ScanOutcome:
        """Answer from the cache when the image's current digest was scanned already; else queue a scan."""
        ...


class CacheWarmer:
    """Queues fresh scans of popular (or given) images so they are cache hits again."""

    def __init__(self, results: ResultCache, submitter: ImageScans, users: UserRepository, clock: Clock) -> None:
        self._results = results
        self._submitter = submitter
        self._users = users
        self._clock = clock

    async def warm(self, requests: list[WarmRequest]) -> WarmReport:
        """Queue a cache-bypassing scan of each image (no quota: warming is the service's own work)."""
        principal = await self._warmer()
        queued: list[uuid.UUID] = []
        rejected: dict[str, str] = {}
        for request in requests:
            try:
                outcome = await self._submitter.scan(
                    principal, request.image, request.platform, bypass_cache=True, wait=False, consume_quota=False
                )
            except DomainError as exc:
                rejected[request.image] = str(exc)
                continue
            queued.append(outcome.scan.id)
        return WarmReport(queued=queued, rejected=rejected)

    async def warm_popular(self, limit: int) -> WarmReport:
        """Warm the `limit` most requested shareable images."""
        popular = await self._results.popular("docker", limit)
        requests = [WarmRequest(image=item["image"], platform=item.get("platform")) for item in popular]
        report = await self.warm(requests)
        log.info("cache warming queued %d scans (%d rejected)", len(report.queued), len(report.rejected))
        return report

    async def _warmer(self) -> Principal:
        user = await self._users.get_by_email(WARMER_EMAIL)
        if user is None:
            user = User(
                id=uuid.uuid4(), email=WARMER_EMAIL, tier=Tier.BUSINESS, is_admin=False, created_at=self._clock.now()
            )
            await self._users.add(user)
        return Principal(user=user, key_id=user.id)
