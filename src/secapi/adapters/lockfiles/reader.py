"""The `LockfileReader` port over the parser registry."""

from __future__ import annotations

from collections.abc import Mapping

from secapi.adapters.lockfiles.registry import companion_names, parse_lockfile
from secapi.domain.lockfiles import ParsedLockfile
from secapi.domain.services.dependency_scans import LockfileReader


class RegistryLockfileReader(LockfileReader):
    """Picks the parser by file name and parses."""

    def parse(self, filename: str, content: str, companions: Mapping[str, str] | None = None) -> ParsedLockfile:
        """Parse `content` as the format `filename` names; `companions` complete it (`go.sum` for `go.mod`)."""
        return parse_lockfile(filename, content, companions)

    def companion_names(self, filename: str) -> frozenset[str]:
        """Base names of the files that may be sent with `filename` (empty for most formats)."""
        return companion_names(filename)
