"""Reading a tenant's scans: one by id, or a page of them newest first."""

from __future__ import annotations

from uuid import UUID

from secapi.domain.errors import InvalidInput, ScanNotFound
from secapi.domain.model import PageCursor, Principal, Scan, ScanPage
from secapi.domain.ports import ScanRepository


class ScanQueries:
    """Reads scans; a tenant only ever sees its own."""

    def __init__(self, scans: ScanRepository, *, default_limit: int, max_limit: int) -> None:
        self._scans = scans
        self._default_limit = default_limit
        self._max_limit = max_limit

    async def get(self, principal: Principal, scan_id: UUID) -> Scan:
        """The caller's scan; `ScanNotFound` if it does not exist or is another tenant's."""
        scan = await self._scans.get_for_user(scan_id, principal.user_id)
        if scan is None:
            raise ScanNotFound(f"no scan with id {scan_id} exists for this account")
        return scan

    async def list(self, principal: Principal, *, limit: int | None, after: PageCursor | None) -> ScanPage:
        """A page of the caller's scans, newest first."""
        size = self._default_limit if limit is None else limit
        if not 1 <= size <= self._max_limit:
            raise InvalidInput(f"limit must be between 1 and {self._max_limit}", field="limit")
        return await self._scans.list_for_user(principal.user_id, limit=size, after=after)
