"""Retention settings: per-tier days (0 keeps forever, negative refused), the job's schedule, the policy's cutoffs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from secapi.config import Settings, SettingsError
from secapi.domain.retention import RetentionPolicy, month_start, next_month
from secapi.domain.tiers import Tier

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_days_per_tier_come_from_the_environment_and_negative_days_are_refused() -> None:
    settings = Settings.from_env({"SECAPI_RETENTION_DAYS_FREE": "7", "SECAPI_RETENTION_CRON": "off"})
    assert (settings.retention_days_free, settings.retention_days_business) == (7, 730)
    assert settings.retention_schedule is None
    with pytest.raises(SettingsError, match="SECAPI_RETENTION_DAYS_PRO"):
        Settings.from_env({"SECAPI_RETENTION_DAYS_PRO": "-1"})
    with pytest.raises(SettingsError, match="SECAPI_RETENTION_CRON"):
        Settings.from_env({"SECAPI_RETENTION_CRON": "every night"})


def test_the_policy_cuts_off_per_tier_and_zero_keeps_forever() -> None:
    policy = RetentionPolicy()
    assert policy.cutoff(Tier.FREE, NOW) == NOW - timedelta(days=30)
    assert policy.cutoff(Tier.BUSINESS, NOW) == NOW - timedelta(days=730)
    assert policy.oldest_kept(NOW) == NOW - timedelta(days=730)
    forever = RetentionPolicy({**policy.days, Tier.STARTER: 0})
    assert forever.cutoff(Tier.STARTER, NOW) is None
    assert forever.oldest_kept(NOW) is None, "nothing is old enough to drop for everyone"


def test_months_are_calendar_months() -> None:
    assert month_start(NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_month(NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_month(datetime(2026, 1, 31, 23, 0, tzinfo=UTC)) == datetime(2026, 2, 1, tzinfo=UTC)
