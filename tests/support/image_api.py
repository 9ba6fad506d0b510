"""The API and a worker against a loopback registry, with chosen advisories imported: image scans end to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_paths, import_sample
from secapi.entrypoints.worker import serve_worker

from support.http import serve
from support.registry import RunningRegistry
from support.seed import bearer, container_of, create_user

RunningApi = tuple[AsyncClient, str, Litestar]
"""A client of the served app, an API key, and the app."""


def registry_settings(
    settings: Settings, registry: RunningRegistry, *, sync_budget: float = 10.0, read_timeout: float = 5.0
) -> Settings:
    """`settings` allowing the loopback `registry` (plain HTTP), with a scan budget long enough to answer inline."""
    return Settings.from_env(
        {},
        **{
            **settings.__dict__,
            "registry_allowlist": registry.host_port,
            "registry_insecure": registry.host_port,
            "scan_sync_budget": sync_budget,
            "registry_read_timeout": read_timeout,
        },
    )


@asynccontextmanager
async def image_api(settings: Settings, advisories: Sequence[Path], email: str) -> AsyncIterator[RunningApi]:
    """The app served with a worker beside it, the sample database plus `advisories` imported, one user's key."""
    stop = asyncio.Event()
    worker = asyncio.create_task(serve_worker(settings, stop))
    app = create_app(settings)
    try:
        async with serve(app) as client:
            await import_sample(container_of(app))
            if advisories:
                await import_paths(container_of(app), advisories, show_progress=False)
            _, key = await create_user(app, email)
            yield client, key, app
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)


async def scan_image(client: AsyncClient, key: str, image: str) -> dict[str, object]:
    """The result of a scan of `image` answered inline (200)."""
    response = await client.post("/api/v1/scan/docker", json={"image": image}, headers=bearer(key))
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert isinstance(result, dict)
    return result
