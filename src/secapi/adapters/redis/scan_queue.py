"""The scan queue on Redis through SAQ: API processes enqueue, `secapi worker` processes run."""

from __future__ import annotations

import contextlib
from uuid import UUID

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from saq import Queue

from secapi.domain.errors import DependencyUnavailable
from secapi.domain.ports import ScanQueue

QUEUE_NAME = "secapi-scans"
JOB_FUNCTION = "run_scan"


def create_saq_queue(redis_url: str) -> Queue:
    """The shared SAQ queue on `redis_url`."""
    return Queue.from_url(redis_url, name=QUEUE_NAME)


class SaqScanQueue(ScanQueue):
    """`ScanQueue` over SAQ. The job key is the scan id, so a scan is never queued twice at once."""

    def __init__(self, queue: Queue, *, job_timeout: float) -> None:
        self._queue = queue
        self._job_timeout = job_timeout

    async def enqueue(self, scan_id: UUID) -> None:
        """Queue a `run_scan` job keyed by the scan id; after a dropped connection, reconnect and retry once."""
        try:
            try:
                await self._enqueue(scan_id)
            except (RedisConnectionError, OSError):
                # After a Redis restart the pooled connections are dead and only the first use tells. The job
                # key makes enqueueing idempotent, so a retry cannot queue the scan twice.
                await self._drop_idle_connections()
                await self._enqueue(scan_id)
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable(f"the scan queue is unavailable: {type(exc).__name__}") from exc

    async def _enqueue(self, scan_id: UUID) -> None:
        await self._queue.enqueue(
            JOB_FUNCTION,
            key=str(scan_id),
            scan_id=str(scan_id),
            timeout=int(self._job_timeout),
            retries=1,  # retries are the sweeper's job, driven by the lease in the database
        )

    async def _drop_idle_connections(self) -> None:
        redis = getattr(self._queue, "redis", None)
        if redis is not None:
            # Idle ones only: a connection in use (the job-update listener's) is not this call's to close.
            await redis.connection_pool.disconnect(inuse_connections=False)

    async def wait(self, scan_id: UUID, seconds: float) -> None:
        """Listen for the job reaching a terminal state, at most `seconds` seconds."""
        if seconds <= 0:
            return  # SAQ reads 0 as "wait forever"
        try:
            job = await self._queue.job(str(scan_id))
            if job is None or job.completed:
                return
            with contextlib.suppress(TimeoutError):
                await job.refresh(until_complete=seconds)
        except (RedisError, OSError):
            return  # the caller reads the scan's state from the database either way
