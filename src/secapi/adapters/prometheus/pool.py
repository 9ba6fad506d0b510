"""The SQLAlchemy connection pool of this process, sampled into gauges (summed over a server's live workers)."""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from secapi.adapters.prometheus.exposition import PrometheusExposition
from secapi.domain.metrics import PoolSampler


class SqlAlchemyPoolMetrics(PoolSampler):
    """Reads `checkedout()`, `overflow()` and `size()` of the engine's pool when sampled."""

    def __init__(self, exposition: PrometheusExposition, engine: AsyncEngine) -> None:
        registry = exposition.registry
        self._pool = engine.pool
        self._in_use = Gauge(
            "secapi_db_pool_in_use",
            "Database connections checked out of the pool now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._overflow = Gauge(
            "secapi_db_pool_overflow",
            "Database connections open beyond the pool size now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._size = Gauge(
            "secapi_db_pool_size",
            "Database connections the pool keeps (SECAPI_DB_POOL_SIZE per process).",
            multiprocess_mode="livesum",
            registry=registry,
        )

    def sample(self) -> None:
        """Copy the pool's counts into the gauges (pools without a queue, e.g. NullPool, report nothing)."""
        pool = self._pool
        if not isinstance(pool, QueuePool):
            return
        self._in_use.set(pool.checkedout())
        # QueuePool counts overflow from -pool_size while the pool fills: only connections beyond it are overflow.
        self._overflow.set(max(0, pool.overflow()))
        self._size.set(pool.size())
