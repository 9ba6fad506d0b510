"""Watches on the embedded default: a SQLite file, no Redis; the API process itself delivers the webhooks."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from secapi.adapters.sql.engine import create_engine
from secapi.adapters.sql.migrate import upgrade
from secapi.config import Settings
from secapi.domain.webhook_signing import verify
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_paths, import_sample

from support.http import serve
from support.seed import bearer, container_of, create_user
from support.webhook_receiver import Receiver

CERTIFI = Path(__file__).parent.parent / "fixtures" / "osv" / "ghsa" / "GHSA-xqr8-7jwr-rhp7.json"
SECRET = "watch-integration-secret"
REQUIREMENTS = "certifi==2022.12.7\nidna==3.4\n"


async def test_embedded_default_rematches_and_delivers_from_the_api_process(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {}, database_url=f"sqlite+aiosqlite:///{tmp_path}/secapi.db", webhook_allowlist="127.0.0.1"
    )
    engine = create_engine(settings)
    await upgrade(engine)
    await engine.dispose()
    app = create_app(settings)
    async with Receiver() as receiver, serve(app) as client:
        container = container_of(app)
        await import_sample(container)
        _, key = await create_user(app, "embedded@example.com")
        await client.put(
            "/api/v1/account/notifications", json={"url": receiver.url, "secret": SECRET}, headers=bearer(key)
        )
        scanned = await client.post(
            "/api/v1/scan/dependencies",
            json={"filename": "requirements.txt", "content": REQUIREMENTS},
            headers=bearer(key),
        )
        created = await client.post("/api/v1/watches", json={"scan_id": scanned.json()["id"]}, headers=bearer(key))
        assert created.status_code == 201, created.text
        await import_paths(container, [CERTIFI], show_progress=False)
        for _ in range(100):  # the API process's delivery loop runs every second
            if receiver.requests:
                break
            await asyncio.sleep(0.05)
        headers, body = receiver.requests[0]
        assert verify(SECRET, headers["secapi-timestamp"], body, headers["secapi-signature"], now=time.time())
        assert json.loads(body)["advisories"] == ["GHSA-xqr8-7jwr-rhp7"]
        listed = await client.get(f"/api/v1/watches/{created.json()['id']}/events", headers=bearer(key))
        assert [e["kind"] for e in listed.json()["items"]] == ["new_findings"]
