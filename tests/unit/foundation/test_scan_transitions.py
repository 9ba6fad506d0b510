"""A scan's state changes are the entity's own: queued → claimed → completed | failed, or abandoned by the sweeper."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from secapi.domain.model import Scan, ScanStatus, ScanType
from secapi.domain.scan_inputs import RegistryImageInput

from support.results import scan_result

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
IMAGE = RegistryImageInput(image="docker.io/library/nginx:1.25", platform="linux/amd64")


def queued() -> Scan:
    return Scan.queued(uuid.uuid4(), ScanType.DOCKER, IMAGE, "ab" * 32, T0)


def test_a_queued_scan_has_not_started() -> None:
    scan = queued()

    assert scan.status is ScanStatus.QUEUED
    assert (scan.started_at, scan.finished_at, scan.duration_ms, scan.attempts) == (None, None, None, 0)
    assert scan.input_data == IMAGE
    assert queued().id != scan.id


def test_each_claim_is_an_attempt_with_a_lease() -> None:
    first = queued().claimed(T0 + timedelta(seconds=1), T0 + timedelta(seconds=61))
    second = first.claimed(T0 + timedelta(seconds=90), T0 + timedelta(seconds=150))

    assert first.status is ScanStatus.RUNNING
    assert (first.started_at, first.lease_expires_at, first.attempts) == (
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=61),
        1,
    )
    assert (second.started_at, second.attempts) == (T0 + timedelta(seconds=90), 2)


def test_completion_measures_from_the_claim_and_ends_the_lease() -> None:
    running = queued().claimed(T0, T0 + timedelta(minutes=1))
    done = running.completed(scan_result(), T0 + timedelta(seconds=2.5))

    assert done.status is ScanStatus.COMPLETED
    assert done.is_finished
    assert done.result == scan_result()
    assert (done.started_at, done.finished_at, done.duration_ms) == (T0, T0 + timedelta(seconds=2.5), 2500.0)
    assert done.lease_expires_at is None
    assert done.attempts == 1
    assert (done.id, done.created_at, done.input_hash) == (running.id, running.created_at, running.input_hash)


def test_an_inline_run_keeps_the_duration_it_measured() -> None:
    running = Scan.running(uuid.uuid4(), ScanType.DEPENDENCIES, IMAGE, "cd" * 32, T0)
    done = running.completed(scan_result(), T0 + timedelta(seconds=1), duration_ms=12.5)

    assert (running.status, running.started_at, running.created_at) == (ScanStatus.RUNNING, T0, T0)
    assert (done.status, done.duration_ms, done.attempts) == (ScanStatus.COMPLETED, 12.5, 0)


def test_a_scan_refused_before_any_work_failed_in_no_time() -> None:
    refused = queued().failed("registry.internal is not allowed", T0)

    assert refused.status is ScanStatus.FAILED
    assert refused.error == "registry.internal is not allowed"
    assert (refused.started_at, refused.finished_at, refused.duration_ms, refused.result) == (T0, T0, 0.0, None)


def test_a_failed_run_measures_its_time_and_an_abandoned_one_has_none() -> None:
    running = queued().claimed(T0, T0 + timedelta(minutes=1))
    failed = running.failed("manifest unknown", T0 + timedelta(seconds=3))
    abandoned = running.abandoned("gave up after 3 attempts", T0 + timedelta(minutes=5))

    assert (failed.status, failed.duration_ms, failed.lease_expires_at) == (ScanStatus.FAILED, 3000.0, None)
    assert abandoned.status is ScanStatus.FAILED
    assert (abandoned.started_at, abandoned.finished_at) == (T0, T0 + timedelta(minutes=5))
    assert (abandoned.duration_ms, abandoned.lease_expires_at, abandoned.attempts) == (None, None, 1)
    assert queued().abandoned("lost", T0).started_at is None  # never ran


def test_a_cache_hit_is_completed_the_moment_it_is_asked() -> None:
    hit = Scan.answered_from_cache(uuid.uuid4(), ScanType.DOCKER, IMAGE, "ef" * 32, T0)

    assert hit.status is ScanStatus.COMPLETED
    assert (hit.created_at, hit.started_at, hit.finished_at, hit.duration_ms) == (T0, T0, T0, 0.0)
    assert hit.result is None  # the entry's result is answered as stored
    assert hit.with_result(scan_result(target="a")).result == scan_result(target="a")


def test_a_stored_result_that_cannot_be_read_is_dropped_with_the_reason() -> None:
    done = queued().claimed(T0, T0 + timedelta(minutes=1)).completed(scan_result(), T0)
    unreadable = done.unreadable_result("missing `scan_type`")

    assert unreadable.status is ScanStatus.COMPLETED
    assert unreadable.result is None
    assert unreadable.error == "the stored result cannot be read: missing `scan_type`"
