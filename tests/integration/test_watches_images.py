"""Image watches end to end: a real loopback registry, a SAQ worker, PostgreSQL and Redis.

Watching `registry/app:1` scans it (its baseline); when the tag is pushed again with a vulnerable lodash,
re-resolving the watched tags finds the move, rescans the image, and the new findings become an event.
An unreachable registry keeps the old baseline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.config import Settings
from secapi.domain.services.watches import WatchRematcher

from support.image_api import RunningApi, image_api, registry_settings
from support.images import Image, debian_image, layer, push
from support.registry import RunningRegistry, free_port, registry_fixture  # noqa: F401 - fixture used by name
from support.seed import bearer, container_of

pytestmark = pytest.mark.integration

LODASH = Path(__file__).parents[1] / "fixtures" / "osv" / "ghsa" / "GHSA-jf85-cpcp-j695.json"
"""lodash before 4.17.12 (a real GitHub advisory, see the fixtures' NOTICE.md)."""


def _app(lodash: str) -> list[Image]:
    """A Debian image with an npm application holding `lodash` at this version."""
    package = json.dumps({"name": "lodash", "version": lodash}).encode()
    return [debian_image(layer({"app/node_modules/lodash/package.json": package}))]


DEAD = f"127.0.0.1:{free_port()}"
"""A loopback port nothing listens on, allow-listed like the registry: a registry that went away."""


@pytest.fixture
async def api(settings: Settings, registry: RunningRegistry) -> AsyncIterator[RunningApi]:
    allowed = registry_settings(settings, registry)
    hosts = f"{registry.host_port},{DEAD}"
    configured = dataclasses.replace(allowed, registry_allowlist=hosts, registry_insecure=hosts, registry_retries=0)
    async with image_api(configured, [LODASH], "images@example.com") as running:
        yield running


async def _watch_state(client: AsyncClient, key: str, watch_id: str) -> dict[str, object]:
    response = await client.get(f"/api/v1/watches/{watch_id}", headers=bearer(key))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_moved_tag_is_rescanned_and_its_new_findings_are_an_event(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, app = api
    image = f"{registry.host_port}/watch/app:1"
    first = push(registry, "watch/app", "1", _app("4.17.21"))
    created = await client.post("/api/v1/watches", json={"image": image}, headers=bearer(key))
    assert created.status_code == 201, created.text
    watch = created.json()
    assert watch["kind"] == "image"
    assert watch["status"] == "active", watch
    assert watch["image_digest"] == first
    assert watch["packages"] > 1

    # A second watch of the same image is answered from the cache: the same baseline, no scan run.
    again = await client.post("/api/v1/watches", json={"image": image}, headers=bearer(key))
    assert again.status_code == 201, again.text
    assert again.json()["status"] == "active"
    assert again.json()["packages"] == watch["packages"]
    await client.delete(f"/api/v1/watches/{again.json()['id']}", headers=bearer(key))

    rematcher = await container_of(app).get(WatchRematcher)
    assert await rematcher.refresh_images() == 0  # the tag has not moved

    moved = push(registry, "watch/app", "1", _app("4.17.11"))
    assert await rematcher.refresh_images() == 1
    for _ in range(100):
        state = await _watch_state(client, key, watch["id"])
        if state["status"] == "active" and state["image_digest"] == moved:
            break
        await asyncio.sleep(0.1)
        await rematcher.fill_baselines()
    assert state["image_digest"] == moved, state
    events = (await client.get(f"/api/v1/watches/{watch['id']}/events", headers=bearer(key))).json()["items"]
    assert [e["kind"] for e in events] == ["new_findings"]
    assert "GHSA-jf85-cpcp-j695" in events[0]["advisories"]  # the sample's lodash advisories may join it
    assert {(f["package"]["name"], f["installed_version"]) for f in events[0]["findings"]} == {("lodash", "4.17.11")}


async def test_an_unreachable_registry_keeps_the_baseline(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, app = api
    push(registry, "watch/kept", "1", _app("4.17.21"))
    watch = (
        await client.post("/api/v1/watches", json={"image": f"{registry.host_port}/watch/kept:1"}, headers=bearer(key))
    ).json()
    assert watch["status"] == "active", watch
    engine = await container_of(app).get(AsyncEngine)
    async with engine.begin() as connection:  # the registry moved away: nothing answers at the watched host now
        await connection.execute(text("UPDATE watches SET target = :target"), {"target": f"{DEAD}/watch/kept:1"})
    rematcher = await container_of(app).get(WatchRematcher)
    assert await rematcher.refresh_images() == 0
    state = await _watch_state(client, key, watch["id"])
    assert state["status"] == "active"
    assert state["image_digest"] == watch["image_digest"]
