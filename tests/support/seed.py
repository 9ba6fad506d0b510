"""Seeding users and scans through the app's own container (real adapters)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from dishka import AsyncContainer
from litestar import Litestar

from secapi.domain.model import IssuedKey, Scan, ScanStatus, ScanType, User
from secapi.domain.packages import Package
from secapi.domain.ports import ScanRepository
from secapi.domain.scan_inputs import LockfileScanInput
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier

from support.results import scan_result


def container_of(app: Litestar) -> AsyncContainer:
    container: AsyncContainer = app.state.dishka_container
    return container


async def create_user(app: Litestar, email: str, tier: Tier = Tier.FREE, *, admin: bool = False) -> tuple[User, str]:
    async with container_of(app)() as request:
        accounts = await request.get(AccountService)
        user, issued = await accounts.create_user(email, tier, is_admin=admin)
    return user, issued.secret


async def issue_key(app: Litestar, user: User) -> IssuedKey:
    async with container_of(app)() as request:
        return await (await request.get(AccountService)).issue_key(user.id)


async def add_scans(app: Litestar, user: User, count: int, *, start: datetime | None = None) -> list[Scan]:
    """`count` completed scans one second apart, oldest first."""
    base = start or datetime(2026, 3, 1, tzinfo=UTC)
    scans = []
    async with container_of(app)() as request:
        repo = await request.get(ScanRepository)
        for n in range(count):
            content = f"pkg{n}==1.0"
            payload = LockfileScanInput(
                filename="requirements.txt", sha256=hashlib.sha256(content.encode()).hexdigest(), size=len(content)
            )
            scan = Scan(
                id=uuid.uuid4(),
                user_id=user.id,
                scan_type=ScanType.DEPENDENCIES,
                status=ScanStatus.COMPLETED,
                input_data=payload,
                input_hash=payload.sha256,
                created_at=base + timedelta(seconds=n),
                result=scan_result(packages=[Package(name=f"pkg{n}", version="1.0", ecosystem="PyPI")]),
            )
            await repo.add(scan)
            scans.append(scan)
    return scans


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
