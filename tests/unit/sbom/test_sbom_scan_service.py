"""SBOM scans through the shared pipeline: private by default, cached, charged once, and kept as their own input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from secapi.adapters.memory.popular import InMemoryPopularInputs
from secapi.adapters.memory.rate_limiter import InMemoryRateLimiter
from secapi.adapters.memory.scan_cache import InMemoryScanCache
from secapi.adapters.memory.single_flight import InMemorySingleFlight
from secapi.adapters.memory.versions import InMemoryVersionSource
from secapi.adapters.sbom.reader import DocumentSbomReader
from secapi.domain.caching import cache_key
from secapi.domain.model import Principal, ScanType
from secapi.domain.rate_limits import QuotaLedger
from secapi.domain.sbom import SbomError, SbomFormat
from secapi.domain.scan_inputs import SbomScanInput, decode_scan_input, encode_scan_input
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.quotas import QuotaService
from secapi.domain.services.result_cache import CacheStatus, ResultCache
from secapi.domain.services.sbom_scans import SbomInput, SbomScan, SbomScanService
from secapi.domain.services.scan_pipeline import ScanPipeline
from secapi.domain.services.scan_recorder import ScanRecorder

from support.fakes import FakeClock, InMemoryScans, InMemoryVulnerabilityStore

TRIVY = (Path(__file__).parent / "fixtures" / "trivy-0.76-debian12.cdx.json").read_bytes()


class _Archive:
    async def add_many(self, scans: Any) -> None:
        return None


class _Durable:
    async def increment(self, *args: Any) -> None:
        return None

    async def buckets(self, *args: Any) -> dict[int, int]:
        return {}

    async def take(self, *args: Any) -> dict[int, int]:
        return {}


@pytest.fixture
def service_and_limiter(
    store: InMemoryVulnerabilityStore, clock: FakeClock
) -> tuple[SbomScanService, InMemoryRateLimiter, InMemoryScanCache]:
    limiter = InMemoryRateLimiter(clock)
    cache = InMemoryScanCache(clock)
    results = ResultCache(
        cache,
        InMemoryVersionSource(store, clock=clock),
        InMemorySingleFlight(),
        InMemoryPopularInputs(),
        clock,
        follower_wait=5.0,
    )
    quota = QuotaService(limiter, _Durable(), QuotaLedger(), clock, fail_open=True)
    pipeline = ScanPipeline(results, InMemoryScans(), clock, quota, ScanRecorder(_Archive(), max_buffered=10))
    service = SbomScanService(SbomScan(DocumentSbomReader(), VulnerabilityMatcher(store)), pipeline)
    return service, limiter, cache


async def test_a_second_identical_sbom_is_a_hit_charged_once_and_private_to_its_tenant(
    service_and_limiter: tuple[SbomScanService, InMemoryRateLimiter, InMemoryScanCache], principal: Principal
) -> None:
    service, limiter, cache = service_and_limiter
    sbom = SbomInput(content=TRIVY, declared=SbomFormat.CYCLONEDX_JSON)
    first = await service.scan(principal, sbom)
    second = await service.scan(principal, sbom)
    assert first.cache is not None
    assert second.cache is not None
    assert (first.cache.status, second.cache.status) == (CacheStatus.MISS, CacheStatus.HIT)
    assert limiter.consumed[principal.user_id]["scans_per_hour"] == 1
    result = first.scan.result
    assert result is not None
    assert result.scan_type == "sbom"
    assert {"DSA-5514-1", "GHSA-m2qf-hxjv-5gpq", "GHSA-xvch-5gv4-984h"} <= {v.id for v in result.vulnerabilities}
    subject = SbomScan(DocumentSbomReader(), VulnerabilityMatcher(InMemoryVulnerabilityStore())).subject(sbom)
    private = cache_key("sbom", subject.identity, tenant=principal.user_id)
    assert await cache.get_scan_result(private) is not None  # the tenant is in the key: private by default
    assert await cache.get_scan_result(cache_key("sbom", subject.identity, tenant=None)) is None


def test_the_format_is_part_of_the_identity_and_the_row_keeps_no_document() -> None:
    strategy = SbomScan(DocumentSbomReader(), VulnerabilityMatcher(InMemoryVulnerabilityStore()))
    declared = strategy.subject(SbomInput(content=TRIVY, declared=SbomFormat.CYCLONEDX_JSON, filename="bom.json"))
    sniffed = strategy.subject(SbomInput(content=TRIVY))
    assert declared.identity == sniffed.identity  # the content shows the format it was declared as
    as_spdx = strategy.subject(SbomInput(content=TRIVY, declared=SbomFormat.SPDX_JSON))
    assert as_spdx.identity != declared.identity
    kept = declared.kept
    assert isinstance(kept, SbomScanInput)
    row = encode_scan_input(kept)
    assert row == {"format": "cyclonedx-json", "sha256": declared.identity["content_sha256"], "size": len(TRIVY),
                   "filename": "bom.json"}  # fmt: skip
    assert decode_scan_input(ScanType.SBOM, row) == kept


@pytest.mark.parametrize("content", [b"", b"  \n", b"not an sbom at all"])
def test_an_empty_or_unknown_document_is_refused_before_any_cost(content: bytes) -> None:
    strategy = SbomScan(DocumentSbomReader(), VulnerabilityMatcher(InMemoryVulnerabilityStore()))
    with pytest.raises(SbomError):
        strategy.subject(SbomInput(content=content))
