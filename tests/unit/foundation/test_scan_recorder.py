"""Cache-hit scan rows are in the database before the hit is answered, many hits to one write, bounded, and
kept for the periodic flush when the database is down (the hit is answered anyway)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.model import Scan, ScanStatus, ScanType
from secapi.domain.scan_inputs import LockfileScanInput
from secapi.domain.services.scan_recorder import ScanRecorder


class Archive:
    def __init__(self) -> None:
        self.rows: list[tuple[Scan, bytes]] = []
        self.batches: list[int] = []
        self.failing = False
        self.gate: asyncio.Event | None = None

    async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise DependencyUnavailable("the database is unavailable")
        self.batches.append(len(scans))
        self.rows.extend(scans)


def _scan(n: int) -> Scan:
    now = datetime.now(UTC)
    return Scan(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        scan_type=ScanType.DEPENDENCIES,
        status=ScanStatus.COMPLETED,
        input_data=LockfileScanInput(filename=f"{n}.lock", sha256="ab" * 32, size=n),
        input_hash=str(n),
        created_at=now,
    )


async def test_a_row_is_written_before_record_scan_returns() -> None:
    archive = Archive()
    recorder = ScanRecorder(archive, max_buffered=10)
    scan = _scan(0)
    await recorder.record_scan(scan, b'{"n": 0}')
    assert archive.rows == [(scan, b'{"n": 0}')]
    assert recorder.pending == 0


async def test_hits_arriving_during_a_write_share_the_next_one() -> None:
    archive = Archive()
    archive.gate = asyncio.Event()
    recorder = ScanRecorder(archive, max_buffered=100)
    first = asyncio.create_task(recorder.record_scan(_scan(0), b"{}"))
    await asyncio.sleep(0)  # the first write is in flight, held by the gate
    rest = [asyncio.create_task(recorder.record_scan(_scan(n), b"{}")) for n in range(1, 21)]
    await asyncio.sleep(0)
    assert not first.done()
    assert not any(task.done() for task in rest)
    archive.gate.set()
    await asyncio.gather(first, *rest)
    assert archive.batches == [1, 20]  # two INSERTs for 21 hits
    assert [scan.input_data.label for scan, _ in archive.rows] == [f"{n}.lock" for n in range(21)]


async def test_rows_survive_a_failed_write_and_the_hit_is_still_answered() -> None:
    archive = Archive()
    recorder = ScanRecorder(archive, max_buffered=10, degraded_seconds=60)
    archive.failing = True
    for n in range(3):
        await recorder.record_scan(_scan(n), b'{"n": %d}' % n)  # returns: the database is down
    assert archive.rows == []
    assert recorder.pending == 3
    archive.failing = False
    assert await recorder.flush() == 3
    assert [scan.input_data.label for scan, _ in archive.rows] == ["0.lock", "1.lock", "2.lock"]
    assert archive.rows[2][1] == b'{"n": 2}'


async def test_while_the_database_is_down_hits_do_not_wait_on_writes() -> None:
    archive = Archive()
    recorder = ScanRecorder(archive, max_buffered=10, degraded_seconds=60)
    archive.failing = True
    await recorder.record_scan(_scan(0), b"{}")
    archive.gate = asyncio.Event()  # a write now would hang: none is attempted
    await asyncio.wait_for(recorder.record_scan(_scan(1), b"{}"), timeout=5)
    assert recorder.pending == 2


async def test_the_buffer_is_bounded() -> None:
    archive = Archive()
    recorder = ScanRecorder(archive, max_buffered=2, degraded_seconds=60)
    archive.failing = True
    for n in range(5):
        await recorder.record_scan(_scan(n), b"{}")
    assert recorder.pending == 2
    assert recorder.dropped == 3


async def test_a_row_the_database_refuses_costs_only_itself_not_the_hits_written_with_it() -> None:
    """One hit of a user deleted meanwhile fails its foreign key: the other hits of its batch are still stored,
    and the refused row is counted as dropped, not lost without a word."""

    class Refusing(Archive):
        async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
            if any(raw == b"refused" for _, raw in scans):
                raise ValueError("insert or update on table scans violates foreign key constraint")
            await super().add_many(scans)

    archive = Refusing()
    archive.gate = asyncio.Event()
    recorder = ScanRecorder(archive, max_buffered=100)
    first = asyncio.create_task(recorder.record_scan(_scan(0), b"{}"))
    await asyncio.sleep(0)  # held by the gate: the next three share one batch
    rest = [asyncio.create_task(recorder.record_scan(_scan(n), b"refused" if n == 2 else b"{}")) for n in range(1, 4)]
    await asyncio.sleep(0)
    archive.gate.set()
    await asyncio.gather(first, *rest)

    assert [scan.input_data.label for scan, _ in archive.rows] == ["0.lock", "1.lock", "3.lock"]
    assert recorder.dropped == 1
    assert recorder.pending == 0
