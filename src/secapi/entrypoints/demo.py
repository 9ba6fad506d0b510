"""`secapi demo`: the embedded default, ready to curl.

The demo user keeps one key across runs: its secret is kept in `var/demo-key` (mode 0600), shown again
on every start, and replaced (the old one revoked) only when that file is gone or its key no longer works.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.sql.migrate import upgrade
from secapi.config import Settings
from secapi.domain import api_keys
from secapi.domain.errors import UserNotFound
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.server import check_address_free, run_server
from secapi.entrypoints.vulndb import import_sample
from secapi.ioc import make_container

DEMO_EMAIL = "demo@secapi.local"
DEMO_DATABASE_URL = "sqlite+aiosqlite:///./var/demo.db"
DEMO_KEY_FILE = Path("var/demo-key")
DEMO_KEY_NAME = "demo"


async def prepare(settings: Settings, key_file: Path = DEMO_KEY_FILE) -> str:
    """Migrate the database, load the sample advisories and return the demo user's one live key."""
    container = make_container(settings)
    try:
        await upgrade(await container.get(AsyncEngine))
        sample = await import_sample(container)
        if sample.version is not None:
            click.echo(f"vulnerability database version {sample.version.version}: bundled OSV sample loaded")
        async with container() as request:
            return await demo_key(await request.get(AccountService), key_file)
    finally:
        await container.close()


async def demo_key(accounts: AccountService, key_file: Path) -> str:
    """The key in `key_file` if it is the demo user's live key; else a new one (older demo keys revoked)."""
    try:
        user = await accounts.find_user_by_email(DEMO_EMAIL)
    except UserNotFound:
        user, issued = await accounts.create_user(DEMO_EMAIL, Tier.PRO, is_admin=True)
        _write_key(key_file, issued.secret)
        return issued.secret
    live = [key for key in await accounts.list_keys(user.id) if not key.is_revoked]
    kept = _read_key(key_file)
    if kept is not None and any(api_keys.key_matches(kept, key.key_hash) for key in live):
        return kept
    issued = await accounts.issue_key(user.id, name=DEMO_KEY_NAME)
    for key in live:  # their secrets are lost with the file: nobody can use them from here on
        await accounts.revoke_key(key.id)
    _write_key(key_file, issued.secret)
    return issued.secret


def _read_key(key_file: Path) -> str | None:
    try:
        return key_file.read_text().strip() or None
    except OSError:
        return None


def _write_key(key_file: Path, secret: str) -> None:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.unlink(missing_ok=True)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(secret + "\n")


def run_demo(host: str, port: int) -> None:
    """Prepare the demo data, print the key and a curl command, and serve."""
    check_address_free(host, port)  # before anything is written: a busy port is a one-line error
    # The server's workers build their settings from the environment: set the demo's there.
    os.environ.setdefault("SECAPI_DATABASE_URL", DEMO_DATABASE_URL)
    settings = Settings.from_env()
    secret = asyncio.run(prepare(settings))
    base = f"http://{host}:{port}"
    click.echo(
        f"""
SecAPI demo on {base}  (database: {settings.database_url}, cache: {"redis" if settings.redis_url else "in-memory"})

  Demo user : {DEMO_EMAIL} (pro tier, admin)
  API key   : {secret}   (kept in {DEMO_KEY_FILE}, mode 0600; the same key on every run)

  curl -s -H "Authorization: Bearer $(cat {DEMO_KEY_FILE})" {base}/api/v1/scans
  curl -s -H "Authorization: Bearer $(cat {DEMO_KEY_FILE})" -H 'Content-Type: application/json' \\
       -d '{{"filename": "requirements.txt", "content": "requests==2.30.0\\nflask==2.2.0\\n"}}' \\
       {base}/api/v1/scan/dependencies
  API docs  : {base}/schema
"""
    )
    run_server(host=host, port=port, workers=1, log_level=settings.log_level)
