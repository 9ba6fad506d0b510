"""Retention on PostgreSQL: the contract the memory and SQLite stores pass (tests/unit/retention), and what only
PostgreSQL has: `api_usage` partitioned by month, partitions made ahead (taking over the rows the DEFAULT partition
caught for their month) and old ones dropped whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from secapi.adapters.sql.retention import SqlRetentionStore
from secapi.domain.tiers import Tier

from support.retention import (
    SqlHarness,
    check_documents_are_shared_and_unreferenced_ones_go,
    check_expired_scans_and_usage_go_per_tier_in_batches,
    check_old_months_go_whatever_the_tier_and_forever_keeps,
    run,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(migrated_database: str, clean_state: None) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(migrated_database)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _where(engine: AsyncEngine) -> dict[str, int]:
    """Usage rows per partition."""
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT tableoid::regclass::text, count(*) FROM api_usage GROUP BY 1"))
        return {str(name): int(count) for name, count in rows.tuples()}


async def test_expired_scans_and_usage_go_per_tier_in_batches(engine: AsyncEngine) -> None:
    await check_expired_scans_and_usage_go_per_tier_in_batches(SqlHarness(engine))


async def test_documents_are_stored_once_and_unreferenced_ones_go(engine: AsyncEngine) -> None:
    await check_documents_are_shared_and_unreferenced_ones_go(SqlHarness(engine))


async def test_old_months_go_whatever_the_tier_and_a_tier_kept_forever_loses_nothing(engine: AsyncEngine) -> None:
    await check_old_months_go_whatever_the_tier_and_forever_keeps(SqlHarness(engine))


async def test_usage_rows_land_in_monthly_partitions_made_ahead_and_old_months_are_dropped(engine: AsyncEngine) -> None:
    harness = SqlHarness(engine)
    store = SqlRetentionStore(engine)
    business = await harness.add_user(Tier.BUSINESS)
    months = [datetime(2026, m, 15, tzinfo=UTC) for m in (7, 8, 9, 10, 11)]
    for at in months:
        await harness.add_usage(business, at)
    await harness.add_usage(business, datetime(2026, 9, 1, tzinfo=UTC))  # a partition's first instant
    await harness.add_usage(business, datetime(2026, 8, 31, 23, 59, 59, tzinfo=UTC))
    # Months with no partition yet were caught by the DEFAULT partition: an insert never fails.
    assert (await _where(engine)).get("api_usage_default", 0) >= 5

    made = await store.prepare_usage_months(datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))

    assert {"api_usage_y2026m07", "api_usage_y2026m08", "api_usage_y2026m09"} <= set(made)
    assert {"api_usage_y2026m10", "api_usage_y2026m11"} <= set(await _partitions(engine))
    assert await _where(engine) == {
        "api_usage_y2026m07": 1,
        "api_usage_y2026m08": 2,
        "api_usage_y2026m09": 2,
        "api_usage_y2026m10": 1,
        "api_usage_y2026m11": 1,
    }
    await harness.add_usage(business, datetime(2026, 10, 20, tzinfo=UTC))
    assert (await _where(engine))["api_usage_y2026m10"] == 2, "a new row goes straight to its month's partition"

    report = await run(store)  # business keeps 60 days from 2026-12-05 (to 10-06): months before October go whole

    assert set(report.partitions_dropped) == {"api_usage_y2026m07", "api_usage_y2026m08", "api_usage_y2026m09"}
    assert report.usage_rows_dropped == 0, "whole partitions, not rows"
    assert {"api_usage_y2027m01", "api_usage_y2026m12"} <= set(await _partitions(engine)), "next month made ahead"
    assert await _where(engine) == {"api_usage_y2026m10": 2, "api_usage_y2026m11": 1}
    assert await harness.usage() == [(business, at) for at in sorted([*months[3:], datetime(2026, 10, 20, tzinfo=UTC)])]
    assert report.usage[Tier.BUSINESS] == 0


async def _partitions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        query = "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        query += " WHERE i.inhparent = 'api_usage'::regclass"
        return list(await connection.scalars(text(query)))
