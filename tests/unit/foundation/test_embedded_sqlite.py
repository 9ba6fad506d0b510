"""The embedded default: migrations, accounts and the API on SQLite, no server needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from secapi.adapters.osv.reader import SAMPLE_DIR, iter_records
from secapi.adapters.sql.migrate import upgrade
from secapi.config import Settings
from secapi.domain.services.accounts import AccountService
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.tiers import Tier
from secapi.entrypoints.http.app import create_app


async def test_the_api_runs_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/embedded/secapi.db")
    app = create_app(settings)
    container = app.state.dishka_container
    async with LifespanManager(app), AsyncClient(transport=ASGITransport(app), base_url="http://t") as client:
        await upgrade(await container.get(AsyncEngine))
        await upgrade(await container.get(AsyncEngine))  # idempotent
        async with container() as request:
            _, issued = await (await request.get(AccountService)).create_user("e@example.com", Tier.FREE, is_admin=True)
        headers = {"Authorization": f"Bearer {issued.secret}"}
        assert (await client.get("/api/v1/scans", headers=headers)).json() == {"items": [], "next_cursor": None}
        created = await client.post("/api/v1/admin/users", json={"email": "f@example.com"}, headers=headers)
        assert created.status_code == 201
        # No advisories yet: not ready, and the vulnerability database is named as the reason.
        empty = await client.get("/health/ready")
        assert empty.status_code == 503
        assert empty.json()["checks"]["database"] == "ok"
        assert "no advisories" in empty.json()["checks"]["vulnerability-database"]
        async with container() as request:
            importer = await request.get(VulnDbImporter)
            await importer.run(iter_records(SAMPLE_DIR), source="sample")
        assert (await client.get("/health/ready")).json() == {
            "status": "ready",
            "checks": {"database": "ok", "vulnerability-database": "ok"},
        }
    assert (tmp_path / "embedded" / "secapi.db").exists()


async def test_sample_import_and_a_lockfile_scan_on_sqlite(tmp_path: Path) -> None:
    from secapi.entrypoints.vulndb import import_sample

    settings = Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/secapi.db")
    app = create_app(settings)
    container = app.state.dishka_container
    async with LifespanManager(app), AsyncClient(transport=ASGITransport(app), base_url="http://t") as client:
        await upgrade(await container.get(AsyncEngine))
        first = await import_sample(container)
        assert first.counts.added >= 40
        assert first.rejected == []
        again = await import_sample(container)
        assert again.counts.changed == 0
        assert again.version == first.version
        async with container() as request:
            _, issued = await (await request.get(AccountService)).create_user("s@example.com", Tier.FREE)
        response = await client.post(
            "/api/v1/scan/dependencies",
            json={"filename": "Cargo.lock", "content": CARGO_LOCK},
            headers={"Authorization": f"Bearer {issued.secret}"},
        )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert {v["id"] for v in result["vulnerabilities"]} == {"RUSTSEC-2021-0079", "RUSTSEC-2023-0001"}
    assert first.version is not None
    assert result["vulndb_version"] == first.version.version


CARGO_LOCK = """\
version = 3

[[package]]
name = "hyper"
version = "0.14.9"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "0000000000000000000000000000000000000000000000000000000000000000"

[[package]]
name = "tokio"
version = "1.18.3"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "0000000000000000000000000000000000000000000000000000000000000000"

[[package]]
name = "serde"
version = "1.0.190"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "0000000000000000000000000000000000000000000000000000000000000000"
"""


async def test_batched_hit_rows_and_usage_rows_on_sqlite(tmp_path: Path) -> None:
    from support.batch_writers import check_batch_writers

    app = create_app(Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/secapi.db"))
    container = app.state.dishka_container
    async with LifespanManager(app):
        await upgrade(await container.get(AsyncEngine))
        await check_batch_writers(container)


async def test_a_serving_process_tunes_the_garbage_collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from secapi.entrypoints.http.app import GC_THRESHOLDS, app_from_env

    monkeypatch.setenv("SECAPI_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/secapi.db")
    monkeypatch.delenv("SECAPI_REDIS_URL", raising=False)
    before = gc.get_threshold()
    try:
        async with LifespanManager(app_from_env()):
            assert gc.get_threshold() == GC_THRESHOLDS
            assert gc.get_freeze_count() > 10_000  # startup's objects are out of the collector's walks
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
