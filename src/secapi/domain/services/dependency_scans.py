"""Scanning a dependency lockfile: the lockfile strategy of the scan pipeline (parse, match)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from secapi.domain.errors import InvalidInput
from secapi.domain.findings import ScanResult, Timings
from secapi.domain.lockfiles import LockfileError, ParsedLockfile
from secapi.domain.model import ScanType
from secapi.domain.scan_inputs import LockfileCompanion, LockfileScanInput
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.off_loop import OFF_LOOP_BYTES, cpu_bound
from secapi.domain.services.scan_pipeline import InlineScans, ScanSubject
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


class LockfileScan:
    """The lockfile scan type: private by default, identified by its bytes, parsed and matched inline."""

    scan_type = ScanType.DEPENDENCIES
    shared = False
    input_errors: tuple[type[Exception], ...] = (LockfileError,)

    def __init__(self, reader: LockfileReader, matcher: VulnerabilityMatcher) -> None:
        self._reader = reader
        self._matcher = matcher

    def subject(self, scan_input: LockfileInput) -> ScanSubject:
        """Refuse names and unread companions (at no cost); the identity and what the scan keeps."""
        self._check_names(scan_input)
        self._check_companions(scan_input)
        data = scan_input.identity()
        # A large lockfile is parsed in a thread: 100,000 lines held the event loop for half a second.
        large = len(scan_input.content) + sum(len(text) for _, text in scan_input.companions) >= OFF_LOOP_BYTES
        return ScanSubject(identity=data, kept=_input_data(scan_input, data), large=large)

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

    async def run(self, scan_input: LockfileInput, subject: ScanSubject, version: int) -> ScanResult:
        """Parse the lockfile and match its packages against database `version`."""
        started = time.perf_counter()
        parsed = await cpu_bound(
            subject.large, self._reader.parse, scan_input.base_name, scan_input.content, scan_input.companion_texts()
        )
        parsed_at = time.perf_counter()
        assessment = await self._matcher.assess(parsed.packages, ecosystems=(parsed.ecosystem,))
        matched_at = time.perf_counter()
        return assessment.result(
            scan_type=ScanType.DEPENDENCIES,
            target=scan_input.filename,
            ecosystems=(parsed.ecosystem,),
            packages=parsed.packages,
            unscannable=parsed.unscannable,
            unscanned=parsed.unscanned,
            version=version,
            timings=Timings.between(started, parsed_at, matched_at),
        )


class DependencyScanService(InlineScans[LockfileInput]):
    """Runs lockfile scans synchronously (parsing and matching take milliseconds): `LockfileScan` through the
    scan pipeline. Lockfiles are private unless `shared`: their cache key carries the tenant."""


def _base_name(filename: str) -> str:
    return filename.replace("\\", "/").rsplit("/", 1)[-1]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _input_data(lockfile: LockfileInput, data: dict[str, str]) -> LockfileScanInput:
    # The lockfile itself is not kept: it may be private, and its hash identifies it.
    return LockfileScanInput(
        filename=lockfile.filename,
        sha256=data["content_sha256"],
        size=len(lockfile.content.encode()),
        companions=tuple(LockfileCompanion(filename=name, sha256=_sha256(text)) for name, text in lockfile.companions),
    )
