"""`secapi demo` / `secapi serve`: a busy port is one clear line, and the demo keeps one key across runs."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from secapi.config import Settings
from secapi.domain.services.accounts import AccountService
from secapi.entrypoints.demo import DEMO_EMAIL, prepare
from secapi.ioc import make_container


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_busy_port_is_one_clear_line_and_exit_code_1(command: str, busy_port: int, tmp_path: Path) -> None:
    env = {**os.environ, "SECAPI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/var/demo.db"}
    done = subprocess.run(
        [sys.executable, "-m", "secapi.entrypoints.cli", command, "--port", str(busy_port)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-3000:]
    assert f"127.0.0.1:{busy_port}" in lines[0]
    assert "in use" in lines[0]
    assert not (tmp_path / "var").exists(), "nothing is prepared for a server that cannot start"


async def _live_keys(settings: Settings) -> list[str]:
    container = make_container(settings)
    try:
        async with container() as request:
            accounts = await request.get(AccountService)
            user = await accounts.find_user_by_email(DEMO_EMAIL)
            return [key.prefix for key in await accounts.list_keys(user.id) if not key.is_revoked]
    finally:
        await container.close()


async def test_the_demo_shows_the_same_key_on_every_run_and_keeps_one_live_key(tmp_path: Path) -> None:
    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    key_file = tmp_path / "var" / "demo-key"

    first = await prepare(settings, key_file)
    second = await prepare(settings, key_file)

    assert second == first
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(await _live_keys(settings)) == 1


async def test_a_lost_key_file_gets_a_new_key_and_the_old_one_is_revoked(tmp_path: Path) -> None:
    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    key_file = tmp_path / "demo-key"
    first = await prepare(settings, key_file)
    key_file.unlink()

    replacement = await prepare(settings, key_file)

    assert replacement != first
    assert await _live_keys(settings) == [replacement.split("_")[1]]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
