"""Ready one-line adapter swaps: pass any of these to `make_container` or `create_app`, after the real wiring.

Each replaces exactly one port; every other provision stays the configured one (Redis or memory, SQL, Prometheus).
"""

from __future__ import annotations

from dishka import Provider

from secapi.domain.caching import ScanCache
from secapi.domain.images import ImageSource
from secapi.domain.metrics import MetricsSink
from secapi.domain.ports import Clock, ScanQueue
from secapi.ioc import provide_instance


def scan_cache(cache: ScanCache) -> Provider:
    """Scans read and store results in `cache` (e.g. an `InMemoryScanCache` whose counters a test reads)."""
    return provide_instance(ScanCache, cache)


def clock(fake: Clock) -> Provider:
    """Every service reads time from `fake` (e.g. `support.fakes.FakeClock`)."""
    return provide_instance(Clock, fake)


def metrics(sink: MetricsSink) -> Provider:
    """Every metric event goes to `sink` (a recording sink, or `NoMetrics`)."""
    return provide_instance(MetricsSink, sink)


def image_source(source: ImageSource) -> Provider:
    """Image scans read manifests and layers from `source` instead of the registry client."""
    return provide_instance(ImageSource, source)


def scan_queue(queue: ScanQueue) -> Provider:
    """Queued scans go to `queue` (e.g. `support.fakes.RecordingQueue`) instead of SAQ or the in-process queue."""
    return provide_instance(ScanQueue, queue)
