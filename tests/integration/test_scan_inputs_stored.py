"""Scan rows written before the typed inputs read back as their kind, and the API shows them as it always did."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from secapi.adapters.sql.engine import create_engine, create_session_factory
from secapi.adapters.sql.models import ScanModel
from secapi.config import Settings
from secapi.domain.ports import ScanRepository
from secapi.domain.scan_inputs import ArchiveImageInput, LockfileScanInput, RegistryImageInput

from support.seed import bearer, container_of, create_user

# The JSON each kind of scan wrote into `scans.input_data` before the inputs were typed.
LEGACY = [
    (
        "dependencies",
        {
            "filename": "go.mod",
            "sha256": "cd" * 32,
            "size": 80,
            "companions": [{"filename": "go.sum", "sha256": "ef" * 32}],
        },
        LockfileScanInput,
    ),
    (
        "docker",
        {"image": "docker.io/library/nginx:1.25", "platform": "linux/amd64", "cache": "bypass"},
        RegistryImageInput,
    ),
    (
        "docker",
        {
            "image": "archive.invalid/upload:latest",
            "platform": "linux/amd64",
            "archive": "app.tar",
            "archive_sha256": "01" * 32,
            "archive_size": "4096",
        },
        ArchiveImageInput,
    ),
]


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("scan_type", "stored", "kind"), LEGACY)
async def test_a_row_written_before_the_types_reads_as_its_kind_and_shows_unchanged(
    app: Litestar,
    client: AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    scan_type: str,
    stored: dict[str, Any],
    kind: type,
) -> None:
    user, key = await create_user(app, "old@example.com")
    scan_id = uuid.uuid4()
    async with sessions() as session:
        session.add(
            ScanModel(
                id=scan_id,
                user_id=user.id,
                scan_type=scan_type,
                status="queued",
                input_data=stored,
                input_hash="0" * 64,
                created_at=datetime.now(UTC),
            )
        )
        await session.commit()

    async with container_of(app)() as request:
        scan = await (await request.get(ScanRepository)).get(scan_id)
    response = await client.get(f"/api/v1/scans/{scan_id}", headers=bearer(key))

    assert scan is not None
    assert type(scan.input_data) is kind
    assert response.status_code == 200
    assert response.json()["input"] == stored
