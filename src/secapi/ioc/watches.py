"""Watched targets: the service, re-matching after a sync, rescans of moved tags and event delivery."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from dishka import AsyncContainer, Provider, Scope, provide

from secapi.config import Settings
from secapi.domain.errors import UserNotFound
from secapi.domain.findings import Finding
from secapi.domain.images import ImageSource
from secapi.domain.metrics import MetricsSink
from secapi.domain.model import Principal, Scan
from secapi.domain.notifications import NotificationEndpoints, WebhookSender
from secapi.domain.ports import Clock, ScanRepository, UserRepository, VulnerabilityStore
from secapi.domain.rate_limits import QuotaLedger
from secapi.domain.services.image_scans import ImageScanSubmitter
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.suppressions import SuppressionService
from secapi.domain.services.watches import Baselines, WatchEventDelivery, WatchRematcher, WatchService
from secapi.domain.watches import (
    EventOutbox,
    FindingIdentity,
    ImageRescanner,
    SuppressedFindings,
    Watch,
    WatchedFinding,
    WatchRepository,
)


class WatchesProvider(Provider):
    """Watch services; the rematcher rescans images through the container (`ContainerImageRescanner`)."""

    baselines = provide(Baselines, scope=Scope.APP)

    @provide(scope=Scope.REQUEST)
    def watch_service(
        self,
        watches: WatchRepository,
        scans: ScanRepository,
        baselines: Baselines,
        clock: Clock,
        ledger: QuotaLedger,
        images: ImageScanSubmitter,
        settings: Settings,
    ) -> WatchService:
        return WatchService(
            watches,
            scans,
            baselines,
            clock,
            ledger,
            images=images,
            default_limit=settings.page_size_default,
            max_limit=settings.page_size_max,
        )

    @provide(scope=Scope.APP)
    def watch_rematcher(
        self,
        watches: WatchRepository,
        scans: ScanRepository,
        baselines: Baselines,
        matcher: VulnerabilityMatcher,
        clock: Clock,
        source: ImageSource,
        container: AsyncContainer,
        metrics: MetricsSink,
    ) -> WatchRematcher:
        return WatchRematcher(
            watches,
            scans,
            baselines,
            matcher,
            clock,
            source=source,
            rescanner=ContainerImageRescanner(container),
            metrics=metrics,
        )

    @provide(scope=Scope.APP)
    def watch_event_delivery(
        self,
        outbox: EventOutbox,
        endpoints: NotificationEndpoints,
        sender: WebhookSender,
        clock: Clock,
        metrics: MetricsSink,
        suppressions: SuppressionService,
        store: VulnerabilityStore,
    ) -> WatchEventDelivery:
        covered = ServiceSuppressedFindings(suppressions, store)
        return WatchEventDelivery(outbox, endpoints, sender, clock, metrics=metrics, suppressions=covered)


class ServiceSuppressedFindings(SuppressedFindings):
    """`SuppressedFindings` through `SuppressionService`: a watched finding keeps no aliases, so each advisory's
    are read from its stored record (delivery runs in the background, a few advisories an event). Image
    products of VEX statements are not matched here: an event does not say which image digest it came from."""

    def __init__(self, suppressions: SuppressionService, store: VulnerabilityStore) -> None:
        self._suppressions = suppressions
        self._store = store

    async def covered(self, user_id: UUID, findings: Sequence[WatchedFinding]) -> set[FindingIdentity]:
        """The identities of the findings the tenant's rules or statements in force cover."""
        active = await self._suppressions.active_for_user(user_id)
        if not active.active:
            return set()
        aliases: dict[str, tuple[str, ...]] = {}
        for ident in {finding.id for finding in findings}:
            record = await self._store.get_record(ident)
            named = record.get("aliases") if record is not None else None
            aliases[ident] = tuple(a for a in named if isinstance(a, str)) if isinstance(named, list) else ()
        return {
            finding.identity
            for finding in findings
            if active.covering(_as_finding(finding, aliases[finding.id])) is not None
        }


def _as_finding(watched: WatchedFinding, aliases: tuple[str, ...]) -> Finding:
    return Finding(
        id=watched.id,
        aliases=aliases,
        package=watched.package,
        installed_version=watched.installed_version,
        fixed_versions=watched.fixed_versions,
        severity=watched.severity,
        score=None,
        vector=None,
        summary="",
        references=(),
    )


class ContainerImageRescanner(ImageRescanner):
    """`ImageRescanner`: rescans a watched image for its owner through the ordinary image scan flow.

    Not charged to the scan quota: the watch slot (a tier limit of its own) pays for following its tag.
    """

    def __init__(self, container: AsyncContainer) -> None:
        self._container = container

    async def rescan(self, watch: Watch) -> Scan:
        """Queue (or answer from the cache) a scan of the watch's image in a request scope of its own."""
        async with self._container() as request:
            user = await (await request.get(UserRepository)).get(watch.user_id)
            if user is None:
                raise UserNotFound(f"the owner of watch {watch.id} no longer exists")
            submitter = await request.get(ImageScanSubmitter)
            # No API key made this request: the nil UUID says so wherever the principal's key is read.
            principal = Principal(user=user, key_id=UUID(int=0))
            # Bypass: the tag-to-digest memo may still name the old digest, whose cached result is the old image.
            outcome = await submitter.scan(
                principal, watch.target, watch.platform, bypass_cache=True, wait=False, consume_quota=False
            )
            return outcome.scan
