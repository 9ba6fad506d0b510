"""Cache-hit scan rows are written behind in order, bounded, and kept when a flush fails."""

from __future__ import annotations

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
        self.failing = False

    async def add_many(self, scans: Sequence[tuple[Scan, bytes]]) -> None:
        if self.failing:
            raise DependencyUnavailable("the database is unavailable")
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


async def test_rows_are_written_in_order_and_survive_a_failed_flush() -> None:
    archive = Archive()
    recorder = ScanRecorder(archive, max_buffered=10)
    for n in range(3):
        recorder.record_scan(_scan(n), b'{"n": %d}' % n)
    archive.failing = True
    assert await recorder.flush() == 0
    assert recorder.pending == 3
    archive.failing = False
    assert await recorder.flush() == 3
    assert [scan.input_data.label for scan, _ in archive.rows] == ["0.lock", "1.lock", "2.lock"]
    assert archive.rows[2][1] == b'{"n": 2}'


async def test_the_buffer_is_bounded() -> None:
    recorder = ScanRecorder(Archive(), max_buffered=2)
    for n in range(5):
        recorder.record_scan(_scan(n), b"{}")
    assert recorder.pending == 2
    assert recorder.dropped == 3
