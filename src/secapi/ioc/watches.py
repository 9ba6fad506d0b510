"""Watched targets: the service, re-matching after a sync, rescans of moved tags and event delivery."""

from __future__ import annotations

from uuid import UUID

from dishka import AsyncContainer, Provider, Scope, provide

from secapi.config import Settings
from secapi.domain.errors import UserNotFound
from secapi.domain.images import ImageSource
from secapi.domain.metrics import MetricsSink
from secapi.domain.model import Principal, Scan
from secapi.domain.notifications import NotificationEndpoints, WebhookSender
from secapi.domain.ports import Clock, ScanRepository, UserRepository
from secapi.domain.rate_limits import QuotaLedger
from secapi.domain.services.image_scans import ImageScanSubmitter
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.watches import Baselines, WatchEventDelivery, WatchRematcher, WatchService
from secapi.domain.watches import EventOutbox, ImageRescanner, Watch, WatchRepository


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
    ) -> WatchEventDelivery:
        return WatchEventDelivery(outbox, endpoints, sender, clock, metrics=metrics)


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
