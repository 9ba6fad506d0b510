"""A bad composite setting stops every `secapi` command at once: exit status 2, one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BAD_CREDENTIALS = '{"ghcr.io": {"username": "bot", "password": "hunter2"'  # cut short: not JSON


def _secapi(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SECAPI_")}
    # A reachable-looking Redis, so a worker that did not check its settings would go on to start.
    env.update({"SECAPI_REDIS_URL": "redis://127.0.0.1:1/0", "SECAPI_LOG_LEVEL": "WARNING", **variables})
    return subprocess.run(
        [sys.executable, "-m", "secapi.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "0"], ["demo", "--port", "0"], ["vulndb", "sync"]])
def test_bad_registry_credentials_stop_the_command_before_it_starts(command: list[str]) -> None:
    done = _secapi(*command, SECAPI_REGISTRY_CREDENTIALS=BAD_CREDENTIALS)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("Error: SECAPI_REGISTRY_CREDENTIALS is not valid JSON")
    assert "hunter2" not in done.stderr
    assert done.stdout == ""


def test_a_bad_cron_setting_stops_the_worker_naming_it() -> None:
    done = _secapi("worker", SECAPI_VULNDB_SYNC_CRON="41 */6 * *")
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip() == (
        "Error: SECAPI_VULNDB_SYNC_CRON='41 */6 * *' is not a cron expression (e.g. '17 * * * *': minute hour "
        "day-of-month month day-of-week); empty, 'off', 'none', 'never', 'false' or 'disabled' switch it off"
    )


def test_a_sync_source_option_is_checked_like_the_setting() -> None:
    done = _secapi("vulndb", "sync", "--source", "/no/such/osv/mirror")
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().startswith("Error: --source: SECAPI_VULNDB_SOURCE='/no/such/osv/mirror'")
    assert "Traceback" not in done.stderr
