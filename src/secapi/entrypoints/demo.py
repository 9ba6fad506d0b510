"""`secapi demo`: the embedded default, ready to curl."""

from __future__ import annotations

import asyncio
import os

import click

from secapi.adapters.sql.migrate import upgrade
from secapi.config import Settings
from secapi.domain.errors import UserNotFound
from secapi.domain.model import IssuedKey
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.server import run_server
from secapi.entrypoints.vulndb import import_sample
from secapi.ioc import make_container

DEMO_EMAIL = "demo@secapi.local"
DEMO_DATABASE_URL = "sqlite+aiosqlite:///./var/demo.db"


async def prepare(settings: Settings) -> IssuedKey:
    """Migrate the database and issue a fresh key for the demo user (created on first run)."""
    container = make_container(settings)
    try:
        from sqlalchemy.ext.asyncio import AsyncEngine

        await upgrade(await container.get(AsyncEngine))
        sample = await import_sample(container)
        if sample.version is not None:
            click.echo(f"vulnerability database version {sample.version.version}: bundled OSV sample loaded")
        async with container() as request:
            accounts = await request.get(AccountService)
            try:
                user = await accounts.find_user_by_email(DEMO_EMAIL)
            except UserNotFound:
                user, issued = await accounts.create_user(DEMO_EMAIL, Tier.PRO, is_admin=True)
                return issued
            return await accounts.issue_key(user.id, name="demo")
    finally:
        await container.close()


def run_demo(host: str, port: int) -> None:
    """Prepare the demo data, print the key and a curl command, and serve."""
    # The server's workers build their settings from the environment: set the demo's there.
    os.environ.setdefault("SECAPI_DATABASE_URL", DEMO_DATABASE_URL)
    settings = Settings.from_env()
    issued = asyncio.run(prepare(settings))
    base = f"http://{host}:{port}"
    click.echo(
        f"""
SecAPI demo on {base}  (database: {settings.database_url}, cache: {"redis" if settings.redis_url else "in-memory"})

  Demo user : {DEMO_EMAIL} (pro tier, admin)
  API key   : {issued.secret}

  curl -s -H 'Authorization: Bearer {issued.secret}' {base}/api/v1/scans
  API docs  : {base}/schema
"""
    )
    run_server(host=host, port=port, workers=1, log_level=settings.log_level)
