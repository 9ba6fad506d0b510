"""Reset notices in process memory: the embedded default's schedule and the unit tests' fake.

Same semantics as the Redis schedule: one pending notice per (user, window) until it is dropped or its
slot lapses; claiming moves a notice's due time a lease into the future, so a notice whose worker died
comes due again instead of being lost. Every method is atomic (no await inside).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from secapi.domain.notifications import NOTICE_LEASE_SECONDS, NOTICE_SLOT_SLACK, NoticeSchedule, ResetNotice


class InMemoryNoticeSchedule(NoticeSchedule):
    """`NoticeSchedule` over dicts, recording what was scheduled and dropped."""

    def __init__(self, *, lease_seconds: float = NOTICE_LEASE_SECONDS) -> None:
        self._lease = timedelta(seconds=lease_seconds)
        self._due: dict[UUID, datetime] = {}
        self._notices: dict[UUID, ResetNotice] = {}
        self._slots: dict[tuple[UUID, str], tuple[UUID, datetime]] = {}
        self.scheduled: list[ResetNotice] = []
        """Every notice accepted by `schedule`, in order."""
        self.dropped: list[UUID] = []
        """Ids of dropped notices, in order."""

    async def schedule(self, notice: ResetNotice) -> bool:
        """Add the notice due at `reset_at` unless its (user, window) slot is held."""
        slot = (notice.user_id, notice.window)
        held = self._slots.get(slot)
        if held is not None and held[1] > notice.created_at:
            return False
        self._slots[slot] = (notice.id, notice.reset_at + NOTICE_SLOT_SLACK)
        self._notices[notice.id] = notice
        self._due[notice.id] = notice.reset_at
        self.scheduled.append(notice)
        return True

    async def due(self, now: datetime, limit: int) -> list[ResetNotice]:
        """Claim up to `limit` notices due by `now`, earliest first, hiding them for a lease."""
        ready = sorted((at, str(notice_id)) for notice_id, at in self._due.items() if at <= now)[:limit]
        claimed = []
        for _, text in ready:
            notice_id = UUID(text)
            self._due[notice_id] = now + self._lease
            claimed.append(self._notices[notice_id])
        return claimed

    async def reschedule(self, notice: ResetNotice, at: datetime, attempt: int) -> None:
        """Make the notice due at `at` with `attempt` failed deliveries (ignored if it was dropped meanwhile)."""
        if notice.id not in self._notices:
            return
        self._notices[notice.id] = msgspec.structs.replace(notice, attempt=attempt)
        self._due[notice.id] = at

    async def drop(self, notice: ResetNotice) -> None:
        """Forget the notice; free its slot if the slot is still this notice's."""
        self._due.pop(notice.id, None)
        self._notices.pop(notice.id, None)
        slot = (notice.user_id, notice.window)
        if self._slots.get(slot, (None,))[0] == notice.id:
            del self._slots[slot]
        self.dropped.append(notice.id)

    def pending(self) -> list[tuple[ResetNotice, datetime]]:
        """Every notice still held with its due time, earliest first (for tests and inspection)."""
        return sorted(((self._notices[i], at) for i, at in self._due.items()), key=lambda pair: pair[1])
