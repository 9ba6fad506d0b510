"""Retry schedule, status classification, and the event a notice becomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from secapi.domain.notifications import RETRY_DELAYS, ResetNotice, reset_event, result_for_status, retry_delay


def test_retries_back_off_10s_30s_2min_10min_30min_then_stop() -> None:
    delays = [retry_delay(failed) for failed in range(1, 7)]
    assert delays == [10.0, 30.0, 120.0, 600.0, 1800.0, None]
    assert retry_delay(0) is None
    assert sum(RETRY_DELAYS) == 2560.0


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    result = result_for_status(status)
    assert result.ok
    assert not result.retry
    assert result.status == status


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_timeouts_throttling_and_server_errors_are_retried(status: int) -> None:
    result = result_for_status(status, "busy")
    assert not result.ok
    assert result.retry
    assert result.reason == f"receiver answered HTTP {status}: busy"


@pytest.mark.parametrize("status", [301, 302, 307, 308, 400, 401, 403, 404, 410, 413, 422])
def test_redirects_and_other_client_errors_give_up(status: int) -> None:
    result = result_for_status(status)
    assert not result.ok
    assert not result.retry


def test_the_event_body_carries_the_documented_fields_in_order() -> None:
    notice = ResetNotice(
        id=uuid4(),
        user_id=uuid4(),
        window="hour",
        quota="scans_per_hour",
        limit=10,
        reset_at=datetime(2026, 1, 1, 1, 0, 0, tzinfo=UTC),
        created_at=datetime(2026, 1, 1, 0, 12, 30, 500000, tzinfo=UTC),
        attempt=3,
    )
    event = reset_event(notice)
    body = json.loads(event.body)
    assert list(body) == ["type", "id", "user_id", "window", "quota", "limit", "reset_at", "created_at"]
    assert body == {
        "type": "rate_limit.reset",
        "id": str(notice.id),
        "user_id": str(notice.user_id),
        "window": "hour",
        "quota": "scans_per_hour",
        "limit": 10,
        "reset_at": "2026-01-01T01:00:00Z",
        "created_at": "2026-01-01T00:12:30.500000Z",
    }
    assert event.id == notice.id
    assert event.type == "rate_limit.reset"
