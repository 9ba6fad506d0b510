"""Usage rows are batched, bounded, and survive a failed flush."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from secapi.domain.model import UsageRecord
from secapi.domain.services.usage import UsageRecorder

from support.fakes import InMemoryUsage


def _record(n: int) -> UsageRecord:
    return UsageRecord(
        user_id=uuid4(),
        endpoint=f"/r/{n}",
        method="GET",
        status_code=200,
        timestamp=datetime.now(UTC),
        duration_ms=1.0,
    )


async def test_flush_writes_everything_in_order() -> None:
    repo = InMemoryUsage()
    recorder = UsageRecorder(repo, max_buffered=100)
    for n in range(10):
        recorder.record(_record(n))
    assert await recorder.flush() == 10
    assert [r.endpoint for r in repo.rows] == [f"/r/{n}" for n in range(10)]
    assert recorder.pending == 0


async def test_failed_flush_keeps_records_for_the_next_one() -> None:
    repo = InMemoryUsage()
    recorder = UsageRecorder(repo, max_buffered=100)
    for n in range(5):
        recorder.record(_record(n))
    repo.failing = True
    assert await recorder.flush() == 0
    assert recorder.pending == 5
    repo.failing = False
    recorder.record(_record(5))
    assert await recorder.flush() == 6
    assert [r.endpoint for r in repo.rows] == [f"/r/{n}" for n in range(6)]


async def test_buffer_is_bounded_and_counts_what_it_drops() -> None:
    repo = InMemoryUsage()
    recorder = UsageRecorder(repo, max_buffered=3)
    for n in range(5):
        recorder.record(_record(n))
    assert recorder.pending == 3
    assert recorder.dropped == 2
    await recorder.flush()
    assert [r.endpoint for r in repo.rows] == ["/r/2", "/r/3", "/r/4"]
