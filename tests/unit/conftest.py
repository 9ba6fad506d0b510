"""Fixtures shared by the unit tests: a still clock, the bundled OSV sample in memory, a free-tier caller."""

from __future__ import annotations

import uuid

import pytest

from secapi.adapters.osv.reader import SAMPLE_DIR, iter_records
from secapi.domain.model import Principal, User
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.tiers import Tier

from support.fakes import FakeClock, InMemoryVulnerabilityStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store() -> InMemoryVulnerabilityStore:
    """The bundled sample advisories, imported."""
    store = InMemoryVulnerabilityStore()
    await VulnDbImporter(store).run(iter_records(SAMPLE_DIR), source="sample")
    return store


@pytest.fixture
def principal(clock: FakeClock) -> Principal:
    user = User(id=uuid.uuid4(), email="u@example.com", tier=Tier.FREE, is_admin=False, created_at=clock.now())
    return Principal(user=user, key_id=uuid.uuid4())
