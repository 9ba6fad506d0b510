"""The `secapi` command against real PostgreSQL: what scripts rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from secapi.config import Settings
from secapi.entrypoints.http.app import create_app

from support.http import serve
from support.seed import bearer

SECAPI = str(Path(sys.executable).parent / "secapi")


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SECAPI_DATABASE_URL": settings.database_url, "SECAPI_LOG_LEVEL": "WARNING"}
    return subprocess.run([SECAPI, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


async def test_users_create_json_prints_a_working_key_once(settings: Settings) -> None:
    done = _cli(settings, "users", "create", "--email", "ci@example.com", "--tier", "starter", "--json")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert set(created) == {"user_id", "api_key"}
    async with serve(create_app(settings)) as client:
        response = await client.get("/api/v1/scans", headers=bearer(created["api_key"]))
    assert response.status_code == 200


async def test_set_tier_keys_create_and_revoke(settings: Settings) -> None:
    created = json.loads(_cli(settings, "users", "create", "--email", "x@example.com", "--json").stdout)
    assert _cli(settings, "users", "set-tier", "x@example.com", "--tier", "pro").returncode == 0
    issued = json.loads(_cli(settings, "keys", "create", created["user_id"], "--name", "ci", "--json").stdout)
    async with serve(create_app(settings)) as client:
        assert (await client.get("/api/v1/scans", headers=bearer(issued["api_key"]))).status_code == 200
    assert _cli(settings, "keys", "revoke", issued["key_id"]).returncode == 0
    async with serve(create_app(settings)) as client:
        assert (await client.get("/api/v1/scans", headers=bearer(issued["api_key"]))).status_code == 401
        assert (await client.get("/api/v1/scans", headers=bearer(created["api_key"]))).status_code == 200


def test_cli_errors_are_clean_messages_not_tracebacks(settings: Settings) -> None:
    _cli(settings, "users", "create", "--email", "dup@example.com")
    duplicate = _cli(settings, "users", "create", "--email", "dup@example.com")
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr
    bad_tier = _cli(settings, "users", "create", "--email", "t@example.com", "--tier", "gold")
    assert bad_tier.returncode == 2
    assert "unknown tier 'gold'" in bad_tier.stderr
