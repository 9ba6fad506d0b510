"""Process settings: an "off" schedule is off, and a stopping worker's scan goes back to the queue."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from secapi.config import Settings, schedule
from secapi.domain.model import Scan, ScanStatus, ScanType
from secapi.domain.scan_inputs import RegistryImageInput
from secapi.domain.services.scan_sweeper import ScanSweeper

from support.fakes import FakeClock, InMemoryScans, RecordingQueue


@pytest.mark.parametrize("off", ["", "off", "OFF", "none", " never ", "false", "disabled"])
def test_an_off_value_switches_the_warming_schedule_off(off: str) -> None:
    settings = Settings.from_env({"SECAPI_CACHE_WARM_CRON": off})
    assert schedule(settings.cache_warm_cron) is None


def test_an_unset_schedule_keeps_the_default_and_an_expression_is_kept() -> None:
    assert schedule(Settings.from_env({}).cache_warm_cron) == "17 * * * *"
    assert schedule(Settings.from_env({"SECAPI_CACHE_WARM_CRON": " */5 * * * * "}).cache_warm_cron) == "*/5 * * * *"


def test_the_worker_grace_period_is_a_setting() -> None:
    assert Settings.from_env({}).worker_grace_seconds == 25.0
    assert Settings.from_env({"SECAPI_WORKER_GRACE_SECONDS": "7.5"}).worker_grace_seconds == 7.5


def _scan(now: datetime) -> Scan:
    return Scan(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        scan_type=ScanType.DOCKER,
        status=ScanStatus.QUEUED,
        input_data=RegistryImageInput(image="registry.test/app:1"),
        input_hash="0" * 64,
        created_at=now,
    )


async def test_a_handed_back_scan_is_queued_and_the_next_worker_claims_it_at_once() -> None:
    clock, scans = FakeClock(), InMemoryScans()
    scan = _scan(clock.now())
    await scans.add(scan)
    assert await scans.claim(scan.id, now=clock.now(), lease_until=clock.now() + timedelta(seconds=60))
    sweeper = ScanSweeper(scans, RecordingQueue(), clock, queue_timeout=120, max_attempts=3)

    assert await sweeper.hand_back(scan.id)

    back = await scans.get(scan.id)
    assert back is not None
    assert back.status is ScanStatus.QUEUED
    assert back.lease_expires_at is None
    assert back.started_at is None
    assert back.attempts == 0  # being stopped does not use up an attempt
    again = await scans.claim(scan.id, now=clock.now(), lease_until=clock.now() + timedelta(seconds=60))
    assert again is not None
    assert again.attempts == 1


async def test_only_a_running_scan_is_handed_back() -> None:
    clock, scans = FakeClock(), InMemoryScans()
    done = dataclasses.replace(_scan(datetime.now(UTC)), status=ScanStatus.COMPLETED)
    await scans.add(done)
    sweeper = ScanSweeper(scans, RecordingQueue(), clock, queue_timeout=120, max_attempts=3)
    assert not await sweeper.hand_back(done.id)
    assert not await sweeper.hand_back(uuid.uuid4())
    assert (await scans.get(done.id)) == done
