"""Severity from OSV severity entries and database-specific labels."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secapi.domain.severity import Severity, score_severity

V31_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V30_MEDIUM = "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"
V4_CRITICAL = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
V2_HIGH = "AV:N/AC:L/Au:N/C:P/I:P/A:P"


def _entry(kind: str, score: str) -> dict[str, Any]:
    return {"type": kind, "score": score}


@pytest.mark.parametrize(
    ("kind", "vector", "level", "score"),
    [
        ("CVSS_V3", V31_CRITICAL, Severity.CRITICAL, 9.8),
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Severity.CRITICAL, 10.0),
        ("CVSS_V3", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Severity.HIGH, 7.8),
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Severity.HIGH, 7.5),
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", Severity.MEDIUM, 6.1),
        ("CVSS_V3", V30_MEDIUM, Severity.MEDIUM, 5.4),
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N", Severity.LOW, 3.7),
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", Severity.LOW, 0.0),
        ("CVSS_V4", V4_CRITICAL, Severity.CRITICAL, 9.3),
        ("CVSS_V2", V2_HIGH, Severity.HIGH, 7.5),
        ("CVSS_V2", "(AV:N/AC:L/Au:N/C:P/I:P/A:P)", Severity.HIGH, 7.5),
        # NVD's v2 scale has no CRITICAL: a perfect 10.0 is HIGH.
        ("CVSS_V2", "AV:N/AC:L/Au:N/C:C/I:C/A:C", Severity.HIGH, 10.0),
        ("CVSS_V2", "AV:N/AC:M/Au:N/C:N/I:P/A:N", Severity.MEDIUM, 4.3),
        # The vector's prefix wins over a wrong type label.
        ("CVSS_V3", V4_CRITICAL, Severity.CRITICAL, 9.3),
    ],
)
def test_a_vector_is_scored_and_levelled(kind: str, vector: str, level: Severity, score: float) -> None:
    assert score_severity([_entry(kind, vector)], None) == (level, score, vector.strip())


@pytest.mark.parametrize(
    ("vector", "score", "level"),
    [
        ("CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:L/A:L", 3.9, Severity.LOW),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:L/I:N/A:N", 4.0, Severity.MEDIUM),
        ("CVSS:3.1/AV:N/AC:L/PR:H/UI:R/S:C/C:H/I:L/A:N", 6.9, Severity.MEDIUM),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:L/A:L", 7.0, Severity.HIGH),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:H/A:L", 8.9, Severity.HIGH),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:H/A:H", 9.0, Severity.CRITICAL),
    ],
)
def test_levels_change_exactly_at_the_v3_scale_boundaries(vector: str, score: float, level: Severity) -> None:
    assert score_severity([_entry("CVSS_V3", vector)], None) == (level, score, vector)


def test_v3_is_preferred_over_v4_and_v2() -> None:
    entries = [_entry("CVSS_V2", V2_HIGH), _entry("CVSS_V4", V4_CRITICAL), _entry("CVSS_V3", V30_MEDIUM)]
    assert score_severity(entries, None) == (Severity.MEDIUM, 5.4, V30_MEDIUM)


def test_v4_is_preferred_over_v2() -> None:
    entries = [_entry("CVSS_V2", V2_HIGH), _entry("CVSS_V4", V4_CRITICAL)]
    assert score_severity(entries, None) == (Severity.CRITICAL, 9.3, V4_CRITICAL)


def test_v3_1_is_preferred_over_v3_0_whatever_the_order() -> None:
    entries = [_entry("CVSS_V3", V30_MEDIUM), _entry("CVSS_V3", V31_CRITICAL)]
    assert score_severity(entries, None) == (Severity.CRITICAL, 9.8, V31_CRITICAL)


def test_a_malformed_vector_falls_through_to_the_next_usable_one() -> None:
    entries = [_entry("CVSS_V3", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), _entry("CVSS_V2", V2_HIGH)]
    assert score_severity(entries, None) == (Severity.HIGH, 7.5, V2_HIGH)


@pytest.mark.parametrize(
    "vector",
    ["garbage", "", "CVSS:3.1/AV:N", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Q", "CVSS:4.0/AV:N", "AV:N/Au:Z"],
)
def test_a_garbage_vector_alone_is_unknown(vector: str) -> None:
    assert score_severity([_entry("CVSS_V3", vector), _entry("CVSS_V2", vector)], None) == (
        Severity.UNKNOWN,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("label", "level"),
    [("LOW", Severity.LOW), ("MODERATE", Severity.MEDIUM), ("HIGH", Severity.HIGH), ("CRITICAL", Severity.CRITICAL)],
)
def test_ghsa_database_specific_severity_is_the_fallback(label: str, level: Severity) -> None:
    assert score_severity([_entry("CVSS_V3", "garbage")], {"severity": label}) == (level, None, None)
    assert score_severity([], {"severity": label, "cwe_ids": ["CWE-79"]}) == (level, None, None)


def test_a_usable_vector_wins_over_a_label() -> None:
    assert score_severity([_entry("CVSS_V3", V31_CRITICAL)], {"severity": "LOW"}) == (
        Severity.CRITICAL,
        9.8,
        V31_CRITICAL,
    )


@pytest.mark.parametrize(
    ("database_specific", "ecosystem_specific", "level"),
    [
        ({"urgency": "unimportant"}, None, Severity.LOW),
        ({"urgency": "medium"}, None, Severity.MEDIUM),
        ({"urgency": "not yet assigned"}, None, Severity.UNKNOWN),
        (None, {"urgency": "high"}, Severity.HIGH),
        (None, {"priority": "negligible"}, Severity.LOW),
        (None, {"severity": "Important"}, Severity.HIGH),
        ({"severity": 7}, {"urgency": "low"}, Severity.LOW),
        ({"severity": ["HIGH"]}, None, Severity.UNKNOWN),
    ],
)
def test_distro_labels_are_read_from_either_specific_block(
    database_specific: dict[str, Any] | None, ecosystem_specific: dict[str, Any] | None, level: Severity
) -> None:
    assert score_severity([], database_specific, ecosystem_specific) == (level, None, None)


def test_an_ubuntu_severity_entry_gives_its_priority() -> None:
    assert score_severity([_entry("Ubuntu", "medium")], None) == (Severity.MEDIUM, None, None)
    assert score_severity([_entry("Ubuntu", "medium"), _entry("CVSS_V3", V31_CRITICAL)], None)[0] is Severity.CRITICAL


def test_nothing_known_is_unknown() -> None:
    assert score_severity([], None) == (Severity.UNKNOWN, None, None)
    assert score_severity([{"type": "CVSS_V3"}, {"score": V31_CRITICAL}], {}) == (Severity.UNKNOWN, None, None)


def test_severity_values_are_their_names() -> None:
    assert [level.value for level in Severity] == ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
    assert Severity("HIGH") is Severity.HIGH


_junk = st.one_of(st.none(), st.integers(), st.text(max_size=60), st.lists(st.text(max_size=5), max_size=2))
_vectorish = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda prefix, metrics: prefix + "/".join(metrics),
        st.sampled_from(["CVSS:3.1/", "CVSS:3.0/", "CVSS:4.0/", ""]),
        st.lists(
            st.sampled_from(["AV:N", "AC:L", "PR:N", "UI:N", "S:U", "C:H", "I:H", "A:H", "Au:N", "AT:N", "VC:H", "X:Y"])
        ),
    ),
)
_entries = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["CVSS_V2", "CVSS_V3", "CVSS_V4", "Ubuntu"]), "score": _vectorish}
        ),
        st.dictionaries(st.text(max_size=6), _junk, max_size=3),
    ),
    max_size=4,
)


@given(_entries, st.one_of(st.none(), st.dictionaries(st.sampled_from(["severity", "urgency", "x"]), _junk)))
def test_any_input_yields_a_level_and_never_raises(
    entries: list[dict[str, Any]], specific: dict[str, Any] | None
) -> None:
    level, score, vector = score_severity(entries, specific, specific)
    assert level in Severity
    assert (score is None) == (vector is None)
    if score is not None:
        assert 0.0 <= score <= 10.0
