"""Talking HTTP to an app in the test's own event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from litestar import Litestar


@asynccontextmanager
async def serve(app: Litestar) -> AsyncIterator[AsyncClient]:
    """An HTTP client talking to `app` in this event loop, with its lifespan running."""
    async with LifespanManager(app), AsyncClient(transport=ASGITransport(app), base_url="http://testserver") as client:
        yield client
