"""Real PostgreSQL and Redis for integration tests.

URLs come from SECAPI_TEST_DATABASE_URL / SECAPI_TEST_REDIS_URL first; where
those are unset and a Docker engine answers, testcontainers starts them. The
Redis-focused tests take `redis_target` and run twice: on that single node and on
the Redis Cluster named by SECAPI_TEST_REDIS_CLUSTER_URL (scripts/redis_cluster.sh).
Under CI (CI=true) a missing service is an error, never a skip. Every test
starts from empty tables and an empty Redis database.

A run holds a PostgreSQL advisory lock on its database for the whole session:
a second run pointed at the same database stops with a clear message instead of
wiping the first run's tables (scripts/test.sh gives every run its own database
and Redis database number).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from httpx import AsyncClient
from litestar import Litestar
from redis.asyncio import Redis, RedisCluster
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from secapi.adapters.sql.migrate import upgrade
from secapi.config import Settings
from secapi.entrypoints.http.app import create_app

from support.http import serve
from support.redis_targets import RedisTarget

pytestmark = pytest.mark.integration

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
RUN_LOCK = 0x5EC_7E57  # the advisory lock a test run holds on its database


def _unavailable(what: str) -> None:
    message = (
        f"{what}: set SECAPI_TEST_DATABASE_URL and SECAPI_TEST_REDIS_URL, or run a Docker engine for testcontainers"
    )
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # noqa: BLE001 - any failure means "no engine here"
        return False
    return True


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = os.environ.get("SECAPI_TEST_DATABASE_URL")
    if url:
        yield url
        return
    if not _docker_available():
        _unavailable("no PostgreSQL for integration tests")
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver="asyncpg") as container:
        yield container.get_connection_url()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("SECAPI_TEST_REDIS_URL")
    if url:
        yield url
        return
    if not _docker_available():
        _unavailable("no Redis for integration tests")
    from testcontainers.redis import RedisContainer

    with RedisContainer("redis:7-alpine") as container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
        yield f"redis://{host}:{port}/0"


@pytest.fixture(scope="session")
def redis_cluster_url() -> str:
    url = os.environ.get("SECAPI_TEST_REDIS_CLUSTER_URL")
    if not url:
        message = "no Redis Cluster: set SECAPI_TEST_REDIS_CLUSTER_URL (scripts/redis_cluster.sh start DIR prints it)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture(params=["single", "cluster"])
async def redis_target(request: pytest.FixtureRequest, clean_state: None) -> RedisTarget:
    """Each Redis-focused test on a single node and on a 3-master cluster (emptied first)."""
    if request.param == "single":
        return RedisTarget(request.getfixturevalue("redis_url"), cluster=False)
    url = request.getfixturevalue("redis_cluster_url")
    cluster = RedisCluster.from_url(url)
    try:
        await cluster.flushall(target_nodes=RedisCluster.PRIMARIES)
        await cluster.script_flush()  # every node
    finally:
        await cluster.aclose()
    return RedisTarget(url, cluster=True)


async def _ensure_database(url: str) -> None:
    """Create the test database if the server has no such database yet."""
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
async def exclusive_database(database_url: str) -> AsyncIterator[str]:
    """The test database, locked for this run: another run on the same database would wipe it mid-test."""
    await _ensure_database(database_url)
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            held = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": RUN_LOCK})
            await connection.commit()
            if not held:
                pytest.fail(
                    f"another test run is using {make_url(database_url).render_as_string(hide_password=True)}: "
                    "give each run its own database (scripts/test.sh does) or wait for it to finish",
                    pytrace=False,
                )
            yield database_url
            await connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": RUN_LOCK})
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def migrated_database(exclusive_database: str) -> str:
    database_url = exclusive_database
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            # A fresh schema per run: whatever an earlier run left behind goes.
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await upgrade(engine)
    finally:
        await engine.dispose()
    return database_url


@pytest.fixture
async def clean_state(migrated_database: str, redis_url: str) -> None:
    engine = create_async_engine(migrated_database)
    try:
        async with engine.begin() as connection:
            tables = (
                await connection.scalars(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    )
                )
            ).all()
            if tables:
                await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
    redis = Redis.from_url(redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


@pytest.fixture
def settings(migrated_database: str, redis_url: str, clean_state: None) -> Settings:
    return Settings.from_env(
        {},
        database_url=migrated_database,
        redis_url=redis_url,
        request_max_body_bytes=64 * 1024,
        usage_flush_interval=0.05,
        db_pool_size=5,
        vulndb_sync_cron="off",  # a worker under test must not sync from the internet at the top of its cron
        # Nor may a sync under test fetch FIRST's and CISA's public files (on by default): tests set their own.
        vulndb_epss_source="",
        vulndb_kev_source="",
    )


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncClient]:
    async with serve(app) as http:
        yield http
