"""The `LockfileReader` port over the parser registry."""

from __future__ import annotations

from secapi.adapters.lockfiles.registry import parse_lockfile
from secapi.domain.lockfiles import ParsedLockfile


class RegistryLockfileReader:
    """Picks the parser by file name and parses."""

    def parse(self, filename: str, content: str) -> ParsedLockfile:
        """Parse `content` as the format `filename` names."""
        return parse_lockfile(filename, content)
