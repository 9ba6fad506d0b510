"""The file lock used beside SQLite: exclusive across opens (and processes), released at the end of the block."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from secapi.adapters.sql.sync_lock import FileSyncLock


async def test_a_second_holder_is_refused_until_the_first_is_done(tmp_path: Path) -> None:
    lock = FileSyncLock(tmp_path / "db.sqlite.sync.lock")
    async with lock.hold() as first:
        assert first
        async with FileSyncLock(lock.path).hold() as second:
            assert not second
    async with FileSyncLock(lock.path).hold() as again:
        assert again


async def test_another_process_is_refused_while_it_is_held(tmp_path: Path) -> None:
    lock = FileSyncLock.for_database("sqlite+aiosqlite:///x", tmp_path / "secapi.db")
    assert lock.path == tmp_path / "secapi.db.sync.lock"
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n"
    )
    async with lock.hold() as held:
        assert held
        refused = subprocess.run([sys.executable, "-c", probe, str(lock.path)], check=False)  # noqa: ASYNC221
    assert refused.returncode == 3
    free = subprocess.run([sys.executable, "-c", probe, str(lock.path)], check=False)  # noqa: ASYNC221
    assert free.returncode == 0


def test_an_in_memory_database_gets_a_lock_in_the_temp_dir_keyed_by_its_url() -> None:
    one = FileSyncLock.for_database("sqlite+aiosqlite:///:memory:", None)
    two = FileSyncLock.for_database("sqlite+aiosqlite:///other", None)
    assert one.path != two.path
    assert one.path.name.startswith("secapi-vulndb-sync-")
