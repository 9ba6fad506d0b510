"""The answer-time step: a tenant without suppressions gets a hit's bytes untouched; with some, its own view."""

from __future__ import annotations

import msgspec

from secapi.domain.findings import ScanResult
from secapi.domain.services.exploit_intel import RiskFilter
from secapi.domain.suppressions import NO_SUPPRESSIONS, ActiveSuppressions
from secapi.entrypoints.http.risk_filters import NO_FILTER
from secapi.entrypoints.http.scan_responses import answer_etag, answered_raw

from support.suppressions import LODASH, MINIMIST, T0, result, rule


def test_without_suppressions_a_hit_is_answered_with_the_stored_bytes_themselves() -> None:
    raw = msgspec.json.encode(result(LODASH, MINIMIST))
    assert answered_raw(raw, NO_FILTER, NO_SUPPRESSIONS) is raw
    assert answer_etag('"abc"', NO_FILTER, NO_SUPPRESSIONS) == '"abc"'


def test_with_suppressions_the_answer_is_the_tenants_and_the_etag_says_so() -> None:
    raw = msgspec.json.encode(result(LODASH, MINIMIST))
    active = ActiveSuppressions.of([rule(LODASH.id)], [], T0)
    answered = msgspec.json.decode(answered_raw(raw, NO_FILTER, active), type=ScanResult)
    assert [f.id for f in answered.vulnerabilities] == [MINIMIST.id]
    assert [f.id for f in answered.suppressed] == [LODASH.id]
    assert answer_etag('"abc"', NO_FILTER, active) == f'"abc;sup={active.stamp}"'


def test_suppressions_then_the_risk_filter_in_one_step() -> None:
    raw = msgspec.json.encode(result(LODASH, MINIMIST))
    active = ActiveSuppressions.of([rule(LODASH.id)], [], T0)
    answered = msgspec.json.decode(answered_raw(raw, RiskFilter(kev_only=True), active))
    assert answered["vulnerabilities"] == []
    assert answered["filter"]["hidden"] == 1  # MINIMIST, hidden by the filter; LODASH was suppressed before it
    assert [f["id"] for f in answered["suppressed"]] == [LODASH.id]
