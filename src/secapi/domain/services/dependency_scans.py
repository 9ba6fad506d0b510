"""Scanning a dependency lockfile: parse, match, persist the scan of the caller."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from secapi.domain.caching import CachedScan, cache_key, canonical_hash
from secapi.domain.errors import InvalidInput, VulnDbEmpty
from secapi.domain.findings import ScanResult, Timings, severity_counts
from secapi.domain.lockfiles import LockfileError, ParsedLockfile
from secapi.domain.metrics import MetricsSink, NoMetrics, ScanRequestStatus
from secapi.domain.model import Principal, Scan, ScanStatus, ScanType
from secapi.domain.ports import Clock, ScanRepository
from secapi.domain.rate_limits import RateLimitExceeded
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.off_loop import OFF_LOOP_BYTES, cpu_bound
from secapi.domain.services.result_cache import CacheInfo, CacheStatus, ResultCache
from secapi.domain.services.scan_recorder import ScanRecorder
from secapi.domain.text import refuse_nul


class LockfileReader(Protocol):
    """Turns a named lockfile into packages (raises `UnsupportedLockfile` / `MalformedLockfile`)."""

    def parse(self, filename: str, content: str, companions: Mapping[str, str] | None = None) -> ParsedLockfile:
        """Parse `content` as the lockfile format its file name says.

        `companions` are files sent with it that complete it, by base name (a
        `go.sum` next to a `go.mod`), among `companion_names(filename)`.
        """
        ...

    def companion_names(self, filename: str) -> frozenset[str]:
        """Base names of the files that may be sent with `filename` to complete it."""
        ...


@dataclass(frozen=True, slots=True)
class LockfileInput:
    """A lockfile as a client sent it, with the files sent alongside that complete it (a go.mod's go.sum)."""

    filename: str
    content: str
    companions: tuple[tuple[str, str], ...] = ()
    """(file name, content) pairs, in the order sent."""

    @property
    def base_name(self) -> str:
        """The name without directories (`frontend/package-lock.json` → `package-lock.json`)."""
        return _base_name(self.filename)

    def companion_texts(self) -> dict[str, str]:
        """The companions by base name (a later file of one name replaces an earlier one)."""
        return {_base_name(name): content for name, content in self.companions}

    def identity(self) -> dict[str, str]:
        """What identifies the input: base name and the SHA-256 of the exact content (the content is hashed once).

        Companions are part of it: a go.mod scanned with its go.sum is another answer than without.
        """
        data = {"filename": self.base_name, "content_sha256": _sha256(self.content)}
        for name, content in sorted(self.companion_texts().items()):
            data[f"companion:{name}"] = _sha256(content)
        return data


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


class DependencyScanService:
    """Runs lockfile scans synchronously (parsing and matching take milliseconds), through the result cache."""

    def __init__(
        self,
        reader: LockfileReader,
        matcher: VulnerabilityMatcher,
        results: ResultCache,
        scans: ScanRepository,
        clock: Clock,
        quota: QuotaGate,
        recorder: ScanRecorder,
        metrics: MetricsSink | None = None,
    ) -> None:
        self._metrics = metrics or NoMetrics()
        self._recorder = recorder
        self._reader = reader
        self._matcher = matcher
        self._results = results
        self._scans = scans
        self._clock = clock
        self._quota = quota

    async def scan(
        self, principal: Principal, lockfile: LockfileInput, *, shared: bool = False, bypass_cache: bool = False
    ) -> ScanOutcome:
        """Scan `lockfile` for the caller: from the cache when possible, else parse, match and persist.

        Lockfiles are private unless `shared`: their cache key carries the tenant.
        """
        data = lockfile.identity()
        key = cache_key(ScanType.DEPENDENCIES.value, data, tenant=None if shared else principal.user_id)
        started = time.perf_counter()
        version = await self._results.current_version()
        if version == 0:
            raise VulnDbEmpty  # before the cache and the quota: refusing costs the caller nothing
        self._check_names(lockfile)
        self._check_companions(lockfile)
        try:
            outcome = await self._scan(principal, lockfile, key, data, version, bypass_cache=bypass_cache)
            status = _REQUEST_STATUS[outcome.cache.status if outcome.cache else CacheStatus.MISS]
            seconds = time.perf_counter() - started if status is ScanRequestStatus.HIT else None
            self._metrics.scan_requested(ScanType.DEPENDENCIES.value, principal.user.tier, status, seconds)
            return outcome
        except RateLimitExceeded:
            self._requested(principal, ScanRequestStatus.REJECTED)
            raise
        except LockfileError:
            # The scan ran and failed on its input (`scan_finished` said so); the request itself was a miss.
            self._requested(principal, ScanRequestStatus.BYPASS if bypass_cache else ScanRequestStatus.MISS)
            raise
        finally:
            await self._quota.scan_state(principal)

    @staticmethod
    def _check_names(lockfile: LockfileInput) -> None:
        # File names are kept with the scan; refused here, before the cache and the quota, at no cost.
        refuse_nul(lockfile.filename, "filename")
        for name, _content in lockfile.companions:
            refuse_nul(name, "files")

    def _check_companions(self, lockfile: LockfileInput) -> None:
        # A file sent along that nothing reads would be dropped silently: refuse it instead, at no cost.
        allowed = self._reader.companion_names(lockfile.base_name)
        for name in lockfile.companion_texts():
            if name not in allowed:
                accepted = ", ".join(sorted(allowed)) or "none"
                raise InvalidInput(
                    f"{name!r} does not complete {lockfile.base_name!r}; files accepted with it: {accepted}",
                    field="files",
                )

    def _requested(self, principal: Principal, status: ScanRequestStatus) -> None:
        self._metrics.scan_requested(ScanType.DEPENDENCIES.value, principal.user.tier, status, None)

    async def _scan(
        self,
        principal: Principal,
        lockfile: LockfileInput,
        key: str,
        data: dict[str, Any],
        version: int,
        *,
        bypass_cache: bool,
    ) -> ScanOutcome:
        if not bypass_cache:
            entry = await self._results.lookup(key, ScanType.DEPENDENCIES.value, version=version)
            if entry is not None:
                return await self._from_cache(principal, lockfile, data, entry)

        async def compute() -> tuple[Scan | None, CachedScan]:
            await self._quota.consume_scan(principal, ScanType.DEPENDENCIES.value)
            scan = await self._measured_run(principal, lockfile, data, version)
            entry = await self._results.store(
                key, ScanType.DEPENDENCIES.value, data, scan.result, version=version, tier=principal.user.tier
            )
            return scan, entry

        async def check() -> tuple[Scan | None, CachedScan] | None:
            entry = await self._results.lookup(key, ScanType.DEPENDENCIES.value, version=version, count=False)
            return None if entry is None else (None, entry)

        if bypass_cache:
            scan, entry = await compute()
            assert scan is not None
            info = self._results.info(entry, CacheStatus.BYPASS, principal.user.tier)
            return ScanOutcome(scan=scan, cache=info, raw_result=bytes(entry.result))
        (scan, entry), _leader = await self._results.once(key, compute, check)
        if scan is None:  # an identical scan running elsewhere finished first: its result serves us
            return await self._from_cache(principal, lockfile, data, entry)
        # The result as the cache encoded it answers the request too: a large result is encoded once, not twice.
        info = self._results.info(entry, CacheStatus.MISS, principal.user.tier)
        return ScanOutcome(scan=scan, cache=info, raw_result=bytes(entry.result))

    async def _from_cache(
        self, principal: Principal, lockfile: LockfileInput, data: dict[str, str], entry: CachedScan
    ) -> ScanOutcome:
        scan = Scan.answered_from_cache(
            principal.user_id,
            ScanType.DEPENDENCIES,
            _input_data(lockfile, data),
            canonical_hash(data),
            self._clock.now(),
        )
        raw = bytes(entry.result)
        self._recorder.record_scan(scan, raw)
        return ScanOutcome(
            scan=scan, cache=self._results.info(entry, CacheStatus.HIT, principal.user.tier), raw_result=raw
        )

    async def _measured_run(
        self, principal: Principal, lockfile: LockfileInput, data: dict[str, str], version: int
    ) -> Scan:
        scan_type, tier = ScanType.DEPENDENCIES.value, principal.user.tier
        self._metrics.scan_started(scan_type)
        started = time.perf_counter()
        try:
            scan = await self._run(principal, lockfile, data, version)
        except Exception:
            self._metrics.scan_finished(scan_type, tier, failed=True, seconds=time.perf_counter() - started)
            raise
        except BaseException:
            self._metrics.scan_interrupted(scan_type)
            raise
        self._metrics.scan_finished(scan_type, tier, failed=False, seconds=time.perf_counter() - started)
        return scan

    async def _run(self, principal: Principal, lockfile: LockfileInput, data: dict[str, str], version: int) -> Scan:
        created_at = self._clock.now()
        started = time.perf_counter()
        # A large lockfile is parsed in a thread: 100,000 lines held the event loop for half a second.
        large = len(lockfile.content) + sum(len(text) for _, text in lockfile.companions) >= OFF_LOOP_BYTES
        parsed = await cpu_bound(
            large, self._reader.parse, lockfile.base_name, lockfile.content, lockfile.companion_texts()
        )
        parsed_at = time.perf_counter()
        assessment = await self._matcher.assess(parsed.packages, ecosystems=(parsed.ecosystem,))
        matched_at = time.perf_counter()
        result = ScanResult(
            scan_type=ScanType.DEPENDENCIES.value,
            target=lockfile.filename,
            ecosystems=(parsed.ecosystem,),
            packages=parsed.packages,
            unscannable=parsed.unscannable,
            vulnerabilities=assessment.vulnerabilities,
            counts=severity_counts(assessment.vulnerabilities),
            vulndb_version=version,
            timings=Timings.between(started, parsed_at, matched_at),
            unscanned=parsed.unscanned,
            informational=assessment.informational,
            vulndb=assessment.vulndb,
            risk=assessment.risk,
        )
        scan = Scan(
            id=uuid.uuid4(),
            user_id=principal.user_id,
            scan_type=ScanType.DEPENDENCIES,
            status=ScanStatus.COMPLETED,
            input_data=_input_data(lockfile, data),
            input_hash=canonical_hash(data),
            created_at=created_at,
            started_at=created_at,
            finished_at=self._clock.now(),
            duration_ms=result.timings.total_ms,
            result=await cpu_bound(large, msgspec.to_builtins, result),
        )
        await self._scans.add(scan)
        return scan


_REQUEST_STATUS = {
    CacheStatus.HIT: ScanRequestStatus.HIT,
    CacheStatus.MISS: ScanRequestStatus.MISS,
    CacheStatus.BYPASS: ScanRequestStatus.BYPASS,
}


def _base_name(filename: str) -> str:
    return filename.replace("\\", "/").rsplit("/", 1)[-1]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _input_data(lockfile: LockfileInput, data: dict[str, str]) -> dict[str, Any]:
    # The lockfile itself is not kept: it may be private, and its hash identifies it.
    kept: dict[str, Any] = {
        "filename": lockfile.filename,
        "sha256": data["content_sha256"],
        "size": len(lockfile.content.encode()),
    }
    if lockfile.companions:
        kept["companions"] = [{"filename": name, "sha256": _sha256(text)} for name, text in lockfile.companions]
    return kept
