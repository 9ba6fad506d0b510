"""Scanning a dependency lockfile: parse, match, persist the scan of the caller."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

import msgspec

from secapi.domain.findings import ScanResult, Timings, severity_counts
from secapi.domain.lockfiles import ParsedLockfile
from secapi.domain.model import Principal, Scan, ScanStatus, ScanType
from secapi.domain.ports import Clock, ScanRepository, VulnerabilityStore
from secapi.domain.services.matching import VulnerabilityMatcher


class LockfileReader(Protocol):
    """Turns a named lockfile into packages (raises `UnsupportedLockfile` / `MalformedLockfile`)."""

    def parse(self, filename: str, content: str) -> ParsedLockfile:
        """Parse `content` as the lockfile format its file name says."""
        ...


@dataclass(frozen=True, slots=True)
class LockfileInput:
    """A lockfile as a client sent it."""

    filename: str
    content: str

    @property
    def base_name(self) -> str:
        """The name without directories (`frontend/package-lock.json` → `package-lock.json`)."""
        return self.filename.replace("\\", "/").rsplit("/", 1)[-1]

    def canonical_hash(self) -> str:
        """SHA-256 of the canonical input: base name and exact content."""
        canonical = json.dumps({"filename": self.base_name, "content": self.content}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


class DependencyScanService:
    """Runs lockfile scans synchronously (parsing and matching take milliseconds)."""

    def __init__(
        self,
        reader: LockfileReader,
        matcher: VulnerabilityMatcher,
        store: VulnerabilityStore,
        scans: ScanRepository,
        clock: Clock,
    ) -> None:
        self._reader = reader
        self._matcher = matcher
        self._store = store
        self._scans = scans
        self._clock = clock

    async def scan(self, principal: Principal, lockfile: LockfileInput) -> Scan:
        """Scan `lockfile` for the caller and persist the completed scan."""
        created_at = self._clock.now()
        started = time.perf_counter()
        parsed = self._reader.parse(lockfile.base_name, lockfile.content)
        parsed_at = time.perf_counter()
        version = await self._store.current_version()
        findings = await self._matcher.match(parsed.packages)
        matched_at = time.perf_counter()
        result = ScanResult(
            scan_type=ScanType.DEPENDENCIES.value,
            target=lockfile.filename,
            ecosystems=(parsed.ecosystem,),
            packages=parsed.packages,
            unscannable=parsed.unscannable,
            vulnerabilities=findings,
            counts=severity_counts(findings),
            vulndb_version=version.version,
            timings=Timings(
                parse_ms=round((parsed_at - started) * 1000, 3),
                match_ms=round((matched_at - parsed_at) * 1000, 3),
                total_ms=round((matched_at - started) * 1000, 3),
            ),
        )
        finished_at = self._clock.now()
        scan = Scan(
            id=uuid.uuid4(),
            user_id=principal.user_id,
            scan_type=ScanType.DEPENDENCIES,
            status=ScanStatus.COMPLETED,
            # The lockfile itself is not kept: it may be private, and its hash identifies it.
            input_data={
                "filename": lockfile.filename,
                "sha256": hashlib.sha256(lockfile.content.encode()).hexdigest(),
                "size": len(lockfile.content.encode()),
            },
            input_hash=lockfile.canonical_hash(),
            created_at=created_at,
            started_at=created_at,
            finished_at=finished_at,
            duration_ms=result.timings.total_ms,
            result=msgspec.to_builtins(result),
        )
        await self._scans.add(scan)
        return scan
