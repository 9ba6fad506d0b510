"""One scan pipeline for every scan type: version → identity → lookup → quota → single flight → run → store → record.

A scan type supplies a `ScanStrategy`: what its input is, what identifies it (the
cache key's parts), whether its result is shared between tenants, and how it
runs. The pipeline does the rest the same way for every type, so the cache,
the quota, single flight and the metrics behave alike, and a new scan type is a
strategy and an endpoint.

A scan type is inline (`ScanStrategy`, run on the request path by
`ScanPipeline.scan`) or queued (`QueuedScanStrategy`, answered from the cache
or handed to a worker by `ScanPipeline.submit`; the worker computes once with
`ResultCache.compute_once`). Both go through the same steps in the same order.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from secapi.domain.caching import CachedScan, cache_key, canonical_hash
from secapi.domain.errors import VulnDbEmpty
from secapi.domain.findings import ScanResult
from secapi.domain.metrics import MetricsSink, NoMetrics, ScanRequestStatus
from secapi.domain.model import Principal, Scan, ScanType
from secapi.domain.ports import Clock, ScanQueue, ScanRepository
from secapi.domain.rate_limits import RateLimitExceeded
from secapi.domain.scan_inputs import ScanInput
from secapi.domain.services.result_cache import CacheInfo, CacheStatus, ResultCache
from secapi.domain.services.scan_recorder import ScanRecorder
from secapi.domain.tiers import Tier

InputT_contra = TypeVar("InputT_contra", contravariant=True)
InputT = TypeVar("InputT")


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """The caller's scan, and how the cache took part in answering it."""

    scan: Scan
    cache: CacheInfo | None = None
    raw_result: bytes | None = None
    """A cache hit's result as stored (JSON): answered as is, never decoded on the request path."""


class QuotaGate(Protocol):
    """Consumes the scan quota of a scan that actually runs (cache hits do not)."""

    async def consume_scan(self, principal: Principal, scan_type: str) -> None:
        """Take one unit of every scan window, or raise `RateLimitExceeded`."""
        ...

    async def scan_state(self, principal: Principal) -> object | None:
        """Note the scan windows' state for this request's response headers (peeking if nothing was consumed)."""
        ...


class NoQuota:
    """A gate that admits everything (for tools that run scans outside any tenant's quota)."""

    async def consume_scan(self, principal: Principal, scan_type: str) -> None:
        """Admit."""
        return None

    async def scan_state(self, principal: Principal) -> object | None:
        """Nothing to report."""
        return None


@dataclass(frozen=True, slots=True)
class ScanSubject:
    """What a scan type says about one input; the pipeline needs nothing else to answer it."""

    identity: dict[str, str]
    """The canonical identity: the cache key's parts, hashed into the scan's `input_hash`."""
    kept: ScanInput
    """What the scan row keeps of the input (a private input itself is not kept)."""
    large: bool = False
    """Large enough that its CPU-bound steps run in a thread (see `off_loop`)."""


class ScanStrategy(Protocol[InputT_contra]):
    """A scan type run on the request path: its input, identity, privacy and run."""

    @property
    def scan_type(self) -> ScanType:
        """What the scan row, the metrics and the cache key call this type (its `str()` is the label)."""
        ...

    @property
    def shared(self) -> bool:
        """Whether results are shared between tenants by default (else the cache key carries the tenant)."""
        ...

    @property
    def input_errors(self) -> tuple[type[Exception], ...]:
        """Errors of a run that blame the input: the request still counts as a miss (or bypass)."""
        ...

    def subject(self, scan_input: InputT_contra) -> ScanSubject:
        """Validate the input (raise `InvalidInput`, before the cache and the quota: free) and describe it."""
        ...

    async def run(self, scan_input: InputT_contra, subject: ScanSubject, version: int) -> ScanResult:
        """Compute the result against database `version`."""
        ...


class QueuedScanStrategy(Protocol[InputT_contra]):
    """A scan type run by a worker: the API answers it from the cache or queues it (`ScanPipeline.submit`)."""

    @property
    def scan_type(self) -> ScanType:
        """What the scan row, the metrics and the cache key call this type."""
        ...

    def subject(self, scan_input: InputT_contra) -> ScanSubject:
        """Describe the (already validated) input: its identity and what the scan row keeps."""
        ...

    def shared(self, scan_input: InputT_contra) -> bool:
        """Whether this input's result is shared between tenants (then it also counts for warming)."""
        ...

    async def cache_parts(self, scan_input: InputT_contra, subject: ScanSubject) -> dict[str, str] | None:
        """The cache key's parts once what the input names now is known (an image's digest); None when it
        cannot be known before the run: then nothing is looked up and the scan is queued."""
        ...

    async def admit(self, scan_input: InputT_contra) -> Exception | None:
        """A refusal known before any work (the scan is recorded as failed with it, never queued or charged),
        or None to go on."""
        ...

    def bypassing(self, kept: ScanInput) -> ScanInput:
        """`kept` marked so that the worker's run neither reads nor reuses a cached result."""
        ...


class QueuedRuns:
    """The queue side of a queued scan: admit, charge, record queued, enqueue and wait a while for the worker."""

    def __init__(self, scans: ScanRepository, queue: ScanQueue, clock: Clock, quota: QuotaGate) -> None:
        self._scans = scans
        self._queue = queue
        self._clock = clock
        self._quota = quota

    async def submit(
        self,
        principal: Principal,
        strategy: QueuedScanStrategy[InputT],
        scan_input: InputT,
        subject: ScanSubject,
        *,
        wait_budget: float,
        bypass_cache: bool = False,
        wait: bool = True,
        consume_quota: bool = True,
    ) -> Scan:
        """The scan: failed if refused, else queued and, when `wait`, as it stands after `wait_budget` seconds."""
        input_hash = canonical_hash(subject.identity)
        # Before the quota: a scan refused before any work costs nothing.
        refusal = await strategy.admit(scan_input)
        if refusal is not None:
            now = self._clock.now()
            refused = Scan.queued(principal.user_id, strategy.scan_type, subject.kept, input_hash, now)
            scan = refused.failed(str(refusal), now)
            await self._scans.add(scan)
            return scan
        if consume_quota:
            await self._quota.consume_scan(principal, str(strategy.scan_type))
        kept = strategy.bypassing(subject.kept) if bypass_cache else subject.kept
        scan = Scan.queued(principal.user_id, strategy.scan_type, kept, input_hash, self._clock.now())
        await self._scans.add(scan)
        await self._queue.enqueue(scan.id)
        if not wait:
            return scan
        await self._queue.wait(scan.id, wait_budget)
        return await self._scans.get(scan.id) or scan


class ScanRequests:
    """Counts scan requests by how they were answered, and notes the scan windows for the response headers."""

    def __init__(self, quota: QuotaGate, metrics: MetricsSink) -> None:
        self._quota = quota
        self._metrics = metrics

    async def answer(
        self,
        principal: Principal,
        scan_type: str,
        answer: Awaitable[ScanOutcome],
        *,
        bypass_cache: bool,
        input_errors: tuple[type[Exception], ...] = (),
        started: float | None = None,
    ) -> ScanOutcome:
        """Await `answer` and count the request: a hit (with its answer time since `started`), a miss or
        bypass, or rejected over quota. Errors before any run (bad input, empty database) are not counted."""
        started = time.perf_counter() if started is None else started
        try:
            outcome = await answer
            elapsed = time.perf_counter() - started  # before the quota peek: the answer's own time
        except RateLimitExceeded:
            self.requested(principal, scan_type, ScanRequestStatus.REJECTED)
            raise
        except input_errors:
            # The scan ran and failed on its input (`scan_finished` said so); the request itself was a miss.
            self.requested(principal, scan_type, _miss(bypass_cache))
            raise
        finally:
            await self._quota.scan_state(principal)
        if outcome.cache is not None and outcome.cache.status is CacheStatus.HIT:
            self.requested(principal, scan_type, ScanRequestStatus.HIT, elapsed)
        else:
            self.requested(principal, scan_type, _miss(bypass_cache))
        return outcome

    def requested(
        self, principal: Principal, scan_type: str, status: ScanRequestStatus, seconds: float | None = None
    ) -> None:
        """Count one request of the caller's tier, and how it was answered (a hit's answer time)."""
        self._metrics.scan_requested(scan_type, principal.user.tier, status, seconds)


class ScanPipeline:
    """Answers scan requests the same way for every scan type: from the cache, or run once and stored."""

    def __init__(
        self,
        results: ResultCache,
        scans: ScanRepository,
        clock: Clock,
        quota: QuotaGate,
        recorder: ScanRecorder | None,
        metrics: MetricsSink | None = None,
    ) -> None:
        self._results = results
        self._scans = scans
        self._clock = clock
        self._quota = quota
        self._recorder = recorder
        self._metrics = metrics or NoMetrics()
        self._requests = ScanRequests(quota, self._metrics)

    async def version(self) -> int:
        """The database version results must match; `VulnDbEmpty` when nothing is loaded (a false "clean")."""
        version = await self._results.current_version()
        if version == 0:
            raise VulnDbEmpty
        return version

    async def scan(
        self,
        principal: Principal,
        strategy: ScanStrategy[InputT],
        scan_input: InputT,
        *,
        shared: bool | None = None,
        bypass_cache: bool = False,
    ) -> ScanOutcome:
        """Answer `scan_input` for the caller: from the cache when possible, else run (once), store and record.

        `shared` overrides the strategy's privacy for this request (a client may share a lockfile).
        """
        scan_type = str(strategy.scan_type)
        started = time.perf_counter()
        version = await self.version()  # before the cache and the quota: refusing costs the caller nothing
        subject = strategy.subject(scan_input)
        shared = strategy.shared if shared is None else shared
        key = cache_key(scan_type, subject.identity, tenant=None if shared else principal.user_id)
        answer = self._answer(principal, strategy, scan_input, subject, key, version, bypass_cache)
        return await self._requests.answer(
            principal, scan_type, answer, bypass_cache=bypass_cache, input_errors=strategy.input_errors, started=started
        )

    async def submit(
        self,
        principal: Principal,
        strategy: QueuedScanStrategy[InputT],
        scan_input: InputT,
        queue: ScanQueue,
        *,
        wait_budget: float,
        bypass_cache: bool = False,
        wait: bool = True,
        consume_quota: bool = True,
    ) -> ScanOutcome:
        """Answer a queued scan type: from the cache when its current identity was scanned, else queue it.

        Requests are not counted here (`ScanRequests.answer` does, around this): warming is no request.
        """
        scan_type = strategy.scan_type
        version = await self.version()  # before the identity step, the cache and the quota
        subject = strategy.subject(scan_input)
        parts = await strategy.cache_parts(scan_input, subject)
        if parts is not None:
            shared = strategy.shared(scan_input)
            if shared:
                await self._results.touch(str(scan_type), canonical_hash(subject.identity), subject.identity)
            if not bypass_cache:
                key = cache_key(str(scan_type), parts, tenant=None if shared else principal.user_id)
                hit = await self.cached(principal, scan_type, key, subject, version=version)
                if hit is not None:
                    return hit
        runs = QueuedRuns(self._scans, queue, self._clock, self._quota)
        done = await runs.submit(
            principal,
            strategy,
            scan_input,
            subject,
            wait_budget=wait_budget,
            bypass_cache=bypass_cache,
            wait=wait,
            consume_quota=consume_quota,
        )
        if done.result is None:
            return ScanOutcome(scan=done)
        status = CacheStatus.BYPASS if bypass_cache else CacheStatus.MISS
        info = ResultCache.fresh_info(msgspec.json.encode(done.result), status, principal.user.tier)
        return ScanOutcome(scan=done, cache=info)

    async def cached(
        self, principal: Principal, scan_type: ScanType, key: str, subject: ScanSubject, *, version: int
    ) -> ScanOutcome | None:
        """The caller's scan answered from the cache entry under `key`, recorded; None on a miss."""
        entry = await self._results.lookup(key, str(scan_type), version=version)
        return None if entry is None else await self._from_cache(principal, scan_type, subject, entry)

    async def _answer(
        self,
        principal: Principal,
        strategy: ScanStrategy[InputT],
        scan_input: InputT,
        subject: ScanSubject,
        key: str,
        version: int,
        bypass_cache: bool,
    ) -> ScanOutcome:
        scan_type, tier = strategy.scan_type, principal.user.tier
        if not bypass_cache:
            hit = await self.cached(principal, scan_type, key, subject, version=version)
            if hit is not None:
                return hit

        async def compute() -> tuple[Scan, Any]:
            await self._quota.consume_scan(principal, str(scan_type))
            run = self._run(principal, strategy, scan_input, subject, version)
            scan = await self._measured(str(scan_type), tier, run)
            return scan, scan.result

        scan, entry = await self._results.compute_once(
            key, str(scan_type), subject.identity, compute, version=version, tier=tier, bypass=bypass_cache
        )
        if scan is None:  # an identical scan running elsewhere finished first: its result serves us
            return await self._from_cache(principal, scan_type, subject, entry)
        # The result as the cache encoded it answers the request too: a large result is encoded once, not twice.
        status = CacheStatus.BYPASS if bypass_cache else CacheStatus.MISS
        return ScanOutcome(scan=scan, cache=self._results.info(entry, status, tier), raw_result=bytes(entry.result))

    async def _from_cache(
        self, principal: Principal, scan_type: ScanType, subject: ScanSubject, entry: CachedScan
    ) -> ScanOutcome:
        scan = Scan.answered_from_cache(
            principal.user_id, scan_type, subject.kept, canonical_hash(subject.identity), self._clock.now()
        )
        raw = bytes(entry.result)
        if self._recorder is not None:
            await self._recorder.record_scan(scan, raw)
        else:
            await self._scans.add(scan.with_result(msgspec.json.decode(raw, type=ScanResult)))
        info = self._results.info(entry, CacheStatus.HIT, principal.user.tier)
        return ScanOutcome(scan=scan, cache=info, raw_result=raw)

    async def _measured(self, scan_type: str, tier: Tier, run: Awaitable[Scan]) -> Scan:
        self._metrics.scan_started(scan_type)
        started = time.perf_counter()
        try:
            scan = await run
        except Exception:
            self._metrics.scan_finished(scan_type, tier, failed=True, seconds=time.perf_counter() - started)
            raise
        except BaseException:
            self._metrics.scan_interrupted(scan_type)
            raise
        self._metrics.scan_finished(scan_type, tier, failed=False, seconds=time.perf_counter() - started)
        return scan

    async def _run(
        self,
        principal: Principal,
        strategy: ScanStrategy[InputT],
        scan_input: InputT,
        subject: ScanSubject,
        version: int,
    ) -> Scan:
        running = Scan.running(
            principal.user_id, strategy.scan_type, subject.kept, canonical_hash(subject.identity), self._clock.now()
        )
        result = await strategy.run(scan_input, subject, version)
        finished = self._clock.now()
        scan = running.completed(result, finished, duration_ms=result.timings.total_ms)
        await self._scans.add(scan)
        return scan


def _miss(bypass_cache: bool) -> ScanRequestStatus:
    return ScanRequestStatus.BYPASS if bypass_cache else ScanRequestStatus.MISS


class InlineScans(Generic[InputT]):
    """A scan type run where it is asked (lockfiles, SBOMs): its strategy through the pipeline.

    A new inline scan type is a `ScanStrategy` and an endpoint; the service its endpoint asks the container
    for is a subclass of this that adds nothing but its name (dishka provides by type)."""

    def __init__(self, strategy: ScanStrategy[InputT], pipeline: ScanPipeline) -> None:
        self._strategy = strategy
        self._pipeline = pipeline

    async def scan(
        self, principal: Principal, scan_input: InputT, *, shared: bool = False, bypass_cache: bool = False
    ) -> ScanOutcome:
        """Answer `scan_input` for the caller: from the cache when possible, else run, store and record.

        Private unless `shared` (then one cache entry serves every tenant that shares it)."""
        return await self._pipeline.scan(
            principal, self._strategy, scan_input, shared=shared, bypass_cache=bypass_cache
        )
