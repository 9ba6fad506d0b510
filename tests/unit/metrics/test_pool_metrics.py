"""Pool gauges: connections in use, and only those beyond the pool's size as overflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from secapi.adapters.prometheus.exposition import MULTIPROC_ENV, PrometheusExposition
from secapi.adapters.prometheus.pool import SqlAlchemyPoolMetrics

from support.metrics import parse_exposition, sample


async def test_in_use_and_overflow_follow_the_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    exposition = PrometheusExposition()
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path}/pool.db", poolclass=AsyncAdaptedQueuePool, pool_size=2, max_overflow=3
    )
    pool = SqlAlchemyPoolMetrics(exposition, engine)

    def gauges() -> tuple[float | None, ...]:
        pool.sample()
        samples = parse_exposition(exposition.render("")[0].decode())
        return tuple(sample(samples, f"secapi_db_pool_{name}") for name in ("in_use", "overflow", "size"))

    try:
        assert gauges() == (0, 0, 2)
        first = await engine.connect()
        assert gauges() == (1, 0, 2)  # the pool is still filling: no overflow yet
        held = [first] + [await engine.connect() for _ in range(2)]
        assert gauges() == (3, 1, 2)
        for connection in held:
            await connection.close()
        assert gauges() == (0, 0, 2)
    finally:
        await engine.dispose()
