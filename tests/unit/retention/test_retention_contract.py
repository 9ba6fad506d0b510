"""Retention by tier, one contract for the in-memory and the SQL (SQLite) stores (PostgreSQL: the integration
test of the same name).

Expired scans and usage rows go per tier and in bounded batches, the rest stays; result documents are stored
once per distinct result and go when no scan references them; usage in whole months older than the longest
retention goes whatever the tier; a tier kept forever loses nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from secapi.adapters.sql.migrate import upgrade

from support.retention import (
    Harness,
    MemoryHarness,
    SqlHarness,
    check_documents_are_shared_and_unreferenced_ones_go,
    check_expired_scans_and_usage_go_per_tier_in_batches,
    check_old_months_go_whatever_the_tier_and_forever_keeps,
)


@pytest.fixture(params=["memory", "sqlite"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield MemoryHarness()
        return
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/secapi.db")
    await upgrade(engine)
    try:
        yield SqlHarness(engine)
    finally:
        await engine.dispose()


async def test_expired_scans_and_usage_go_per_tier_in_batches(harness: Harness) -> None:
    await check_expired_scans_and_usage_go_per_tier_in_batches(harness)


async def test_documents_are_stored_once_and_unreferenced_ones_go(harness: Harness) -> None:
    await check_documents_are_shared_and_unreferenced_ones_go(harness)


async def test_old_months_go_whatever_the_tier_and_a_tier_kept_forever_loses_nothing(harness: Harness) -> None:
    await check_old_months_go_whatever_the_tier_and_forever_keeps(harness)
