"""OSV affected-range evaluation, as the schema's Evaluation section specifies it."""

from __future__ import annotations

import functools
import random

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secapi.domain.osv_ranges import (
    AffectedRanges,
    Event,
    Range,
    fixed_versions,
    is_affected,
    normalize_package_name,
)
from secapi.domain.versions import compare_versions


def _range(kind: str, *events: tuple[str, str]) -> Range:
    return Range(type=kind, events=tuple(Event(**{field: version}) for field, version in events))


def _affected(*ranges: Range, versions: tuple[str, ...] = ()) -> AffectedRanges:
    return AffectedRanges(versions=versions, ranges=ranges)


def _affected_versions(ecosystem: str, affected: AffectedRanges, candidates: list[str]) -> list[str]:
    return [version for version in candidates if is_affected(ecosystem, version, affected)]


def test_introduced_zero_and_fixed_cover_everything_below_the_fix() -> None:
    affected = _affected(_range("ECOSYSTEM", ("introduced", "0"), ("fixed", "1.0.2")))
    candidates = ["0.0.1", "0.9", "1.0.1", "1.0.2", "1.0.3", "2.0"]
    assert _affected_versions("PyPI", affected, candidates) == ["0.0.1", "0.9", "1.0.1"]


def test_several_introduced_fixed_pairs_leave_gaps_between_them() -> None:
    affected = _affected(
        _range("SEMVER", ("introduced", "1.0.0"), ("fixed", "1.0.2"), ("introduced", "3.0.0"), ("fixed", "3.2.5"))
    )
    candidates = ["0.9.0", "1.0.0", "1.0.1", "1.0.2", "2.5.0", "3.0.0", "3.2.4", "3.2.5", "4.0.0"]
    assert _affected_versions("npm", affected, candidates) == ["1.0.0", "1.0.1", "3.0.0", "3.2.4"]


def test_last_affected_is_itself_affected() -> None:
    affected = _affected(_range("ECOSYSTEM", ("introduced", "0"), ("last_affected", "2.1.214")))
    candidates = ["1.0", "2.1.213", "2.1.214", "2.1.215"]
    assert _affected_versions("Maven", affected, candidates) == ["1.0", "2.1.213", "2.1.214"]


def test_an_unfixed_range_covers_every_later_version() -> None:
    affected = _affected(_range("ECOSYSTEM", ("introduced", "2.0")))
    assert _affected_versions("RubyGems", affected, ["1.9", "2.0", "99.0"]) == ["2.0", "99.0"]


def test_limit_caps_a_range_and_star_means_no_cap() -> None:
    capped = _affected(_range("ECOSYSTEM", ("introduced", "0"), ("limit", "2.0")))
    assert _affected_versions("npm", capped, ["1.0.0", "1.9.9", "2.0.0", "3.0.0"]) == ["1.0.0", "1.9.9"]
    two_limits = _affected(_range("ECOSYSTEM", ("introduced", "1.0.0"), ("limit", "1.5.0"), ("limit", "3.0.0")))
    assert _affected_versions("npm", two_limits, ["0.9.0", "1.0.0", "2.0.0", "3.0.0"]) == ["1.0.0", "2.0.0"]
    uncapped = _affected(_range("ECOSYSTEM", ("introduced", "1.0.0"), ("limit", "*")))
    assert _affected_versions("npm", uncapped, ["0.9.0", "1.0.0", "9.0.0"]) == ["1.0.0", "9.0.0"]


def test_listed_versions_match_even_outside_any_range() -> None:
    affected = _affected(_range("ECOSYSTEM", ("introduced", "0"), ("fixed", "1.0")), versions=("2.0.0", "2.1"))
    assert _affected_versions("PyPI", affected, ["0.5", "1.0", "2.0", "2.0.1", "2.1"]) == ["0.5", "2.0", "2.1"]


def test_listed_versions_alone_are_enough() -> None:
    affected = _affected(versions=("1.4.2-1+deb12u1",))
    assert is_affected("Debian:12", "1.4.2-1+deb12u1", affected)
    assert not is_affected("Debian:12", "1.4.2-1+deb12u2", affected)
    assert not is_affected("Debian:12", "1.4.2-1+deb12u1", AffectedRanges())


def test_events_are_sorted_before_evaluation() -> None:
    ordered = _affected(_range("ECOSYSTEM", ("introduced", "1.0"), ("fixed", "1.5"), ("introduced", "2.0")))
    shuffled = _affected(_range("ECOSYSTEM", ("introduced", "2.0"), ("fixed", "1.5"), ("introduced", "1.0")))
    candidates = ["0.9", "1.0", "1.4", "1.5", "1.9", "2.0", "3.0"]
    assert _affected_versions("PyPI", shuffled, candidates) == ["1.0", "1.4", "2.0", "3.0"]
    assert _affected_versions("PyPI", ordered, candidates) == _affected_versions("PyPI", shuffled, candidates)


def test_git_ranges_are_ignored_for_version_input() -> None:
    git_only = _affected(
        Range(type="GIT", repo="https://github.com/owner/repo", events=(Event(introduced="0"), Event(fixed="a1b2c3")))
    )
    assert not is_affected("PyPI", "1.0", git_only)
    with_tags = AffectedRanges(versions=("v1.0",), ranges=git_only.ranges)
    assert is_affected("GIT", "v1.0", with_tags)


def test_semver_range_uses_semver_order_in_any_ecosystem() -> None:
    # dpkg reads "1.0.0-alpha" as upstream 1.0.0, revision "alpha": after 1.0.0.
    # SemVer reads it as a pre-release: before 1.0.0.
    semver = _affected(_range("SEMVER", ("introduced", "0"), ("fixed", "1.0.0")))
    ecosystem = _affected(_range("ECOSYSTEM", ("introduced", "0"), ("fixed", "1.0.0")))
    assert is_affected("Debian:12", "1.0.0-alpha", semver)
    assert not is_affected("Debian:12", "1.0.0-alpha", ecosystem)


def test_go_module_versions_with_v_prefix_match_semver_ranges() -> None:
    affected = _affected(_range("SEMVER", ("introduced", "0"), ("fixed", "0.17.0")))
    assert is_affected("Go", "v0.0.0-20220722155217-630584e8d5aa", affected)
    assert is_affected("Go", "v0.16.1-0.20230101000000-abcdef123456", affected)
    assert not is_affected("Go", "v0.17.0", affected)


def test_alpine_and_maven_ranges_use_their_ecosystem_order() -> None:
    alpine = _affected(_range("ECOSYSTEM", ("introduced", "0"), ("fixed", "3.0.8-r0")))
    assert _affected_versions("Alpine:v3.18", alpine, ["3.0.7-r2", "3.0.8_rc1", "3.0.8-r0", "3.0.8-r1"]) == [
        "3.0.7-r2",
        "3.0.8_rc1",
    ]
    maven = _affected(_range("ECOSYSTEM", ("introduced", "2.0-beta9"), ("fixed", "2.15.0")))
    assert _affected_versions("Maven", maven, ["2.0-alpha1", "2.0-beta9", "2.0", "2.14.1", "2.15.0"]) == [
        "2.0-beta9",
        "2.0",
        "2.14.1",
    ]


def test_empty_events_and_unknown_range_types_affect_nothing() -> None:
    affected = _affected(Range(type="ECOSYSTEM", events=(Event(), Event(fixed="1.0"))), Range(type="FUTURE"))
    assert not is_affected("npm", "0.5.0", affected)


def test_ranges_decode_straight_from_osv_json() -> None:
    record = {
        "versions": ["1.0.0"],
        "ranges": [
            {
                "type": "ECOSYSTEM",
                "events": [{"introduced": "0"}, {"fixed": "6.5.4"}],
                "database_specific": {"source": "ignored"},
            }
        ],
    }
    affected = msgspec.convert(record, AffectedRanges)
    assert is_affected("npm", "6.5.3", affected)
    assert not is_affected("npm", "6.5.4", affected)
    assert fixed_versions(affected) == ("6.5.4",)


def test_fixed_versions_lists_each_fix_once_in_record_order_without_git_commits() -> None:
    affected = _affected(
        _range("ECOSYSTEM", ("introduced", "0"), ("fixed", "1.2.5"), ("introduced", "2.0"), ("fixed", "2.1.1")),
        _range("GIT", ("introduced", "0"), ("fixed", "4f9a1c")),
        _range("SEMVER", ("introduced", "0"), ("fixed", "1.2.5"), ("fixed", "3.0.0")),
    )
    assert fixed_versions(affected) == ("1.2.5", "2.1.1", "3.0.0")
    assert fixed_versions(_affected(_range("ECOSYSTEM", ("introduced", "0")))) == ()


# --- Events at the same version (the rule in osv_ranges' docstring) ---------------------


def test_an_interval_ending_where_the_next_begins_joins_it_pysec_2023_72() -> None:
    # PYSEC-2023-72 (pyspark) lists [3.2.0, 3.2.2) before [3.1.1, 3.2.0), in one range.
    affected = _affected(
        _range("ECOSYSTEM", ("introduced", "3.2.0"), ("fixed", "3.2.2"), ("introduced", "3.1.1"), ("fixed", "3.2.0"))
    )
    candidates = ["3.1.0", "3.1.1", "3.1.3", "3.2.0", "3.2.1", "3.2.2", "3.3.0"]
    assert _affected_versions("PyPI", affected, candidates) == ["3.1.1", "3.1.3", "3.2.0", "3.2.1"]


def test_introduced_and_fixed_at_one_version_is_an_empty_interval() -> None:
    # RUSTSEC-2024-0399 (rustls) writes unaffected branches as `introduced X, fixed X`.
    affected = _affected(
        _range("SEMVER", ("introduced", "0.23.13"), ("fixed", "0.23.18")),
        _range("SEMVER", ("introduced", "0.0.0-0"), ("fixed", "0.0.0-0")),
    )
    assert _affected_versions("crates.io", affected, ["0.0.1", "0.22.4", "0.23.13", "0.23.17", "0.23.18"]) == [
        "0.23.13",
        "0.23.17",
    ]
    only_empty = _affected(_range("ECOSYSTEM", ("introduced", "1.0"), ("fixed", "1.0")))
    assert _affected_versions("PyPI", only_empty, ["0.9", "1.0", "1.1", "9.0"]) == []


def test_overlapping_pairs_are_a_union_pysec_2021_114() -> None:
    # PYSEC-2021-114 (wagtail) lists [0, 2.11.6) and [2.11, 2.11.7): 2.11.6 is in the second.
    affected = _affected(
        _range("ECOSYSTEM", ("introduced", "0"), ("fixed", "2.11.6"), ("introduced", "2.11"), ("fixed", "2.11.7"))
    )
    assert _affected_versions("PyPI", affected, ["2.10", "2.11.5", "2.11.6", "2.11.7", "2.12"]) == [
        "2.10",
        "2.11.5",
        "2.11.6",
    ]


def test_introduced_and_last_affected_at_one_version_covers_that_version_only() -> None:
    affected = _affected(_range("ECOSYSTEM", ("introduced", "2.0"), ("last_affected", "2.0")))
    assert _affected_versions("PyPI", affected, ["1.9", "2.0", "2.0.1"]) == ["2.0"]


# --- Ecosystems without a version order ----------------------------------------------


def test_an_ecosystem_without_a_version_order_matches_its_listed_versions_only() -> None:
    affected = _affected(_range("ECOSYSTEM", ("introduced", "0"), ("fixed", "2.0")), versions=("1.0", "1.5-beta"))
    assert _affected_versions("SomeFutureEcosystem", affected, ["0.5", "1.0", "1.0.0", "1.5-beta", "1.9"]) == [
        "1.0",
        "1.5-beta",
    ]
    # A SEMVER range is ordered by its type, whatever the ecosystem.
    semver = _affected(_range("SEMVER", ("introduced", "1.0.0"), ("fixed", "1.2.0")))
    assert _affected_versions("SomeFutureEcosystem", semver, ["0.9.0", "1.1.0", "1.2.0"]) == ["1.1.0"]


# --- Fixed versions ---------------------------------------------------------------------


def test_the_nearest_fix_above_the_installed_version_comes_first() -> None:
    # CVE-2023-43804 (urllib3): fixed in 2.0.6 on the 2.x branch and in 1.26.17 on 1.26.x.
    affected = _affected(
        _range("ECOSYSTEM", ("introduced", "2.0.0"), ("fixed", "2.0.6")),
        _range("ECOSYSTEM", ("introduced", "0"), ("fixed", "1.26.17")),
    )
    assert fixed_versions(affected, "PyPI", "1.24.1") == ("1.26.17", "2.0.6")
    assert fixed_versions(affected, "PyPI", "2.0.3") == ("2.0.6", "1.26.17")
    assert fixed_versions(affected) == ("2.0.6", "1.26.17")


# --- The optimised evaluation agrees with the spec's pseudocode ----------------------


_TIE = {"fixed": 0, "introduced": 1, "last_affected": 2, "limit": 3}


def _kind(event: Event) -> str:
    kind_and_version = event.kind_and_version
    assert kind_and_version is not None
    return kind_and_version[0]


def _spec_is_affected(ecosystem: str, version: str, affected: AffectedRanges) -> bool:
    """A literal transcription of the OSV schema's IsVulnerable pseudocode."""

    def cmp(a: str, b: str) -> int:
        return compare_versions("npm" if ecosystem == "SEMVER" else ecosystem, a, b)

    if any(cmp(version, listed) == 0 for listed in affected.versions):
        return True
    for rng in affected.ranges:
        limits = [event.limit for event in rng.events if event.limit is not None]
        if limits and not any(limit == "*" or cmp(version, limit) < 0 for limit in limits):
            continue

        # SecAPI's rule 1: events that are pairs in record order are a union of intervals.
        bounds = [event for event in rng.events if event.limit is None]
        starts, ends = bounds[0::2], bounds[1::2]
        if (
            bounds
            and all(event.introduced is not None for event in starts)
            and all(event.fixed is not None or event.last_affected is not None for event in ends)
            and all(
                start.introduced == "0" or cmp(start.introduced or "", end.fixed or end.last_affected or "") <= 0
                for start, end in zip(starts, ends, strict=False)
            )
        ):
            for n, start in enumerate(starts):
                above = start.introduced == "0" or cmp(version, start.introduced or "") >= 0
                if n == len(ends):
                    below = True
                elif ends[n].fixed is not None:
                    below = cmp(version, ends[n].fixed or "") < 0
                else:
                    below = cmp(version, ends[n].last_affected or "") <= 0
                if above and below:
                    return True
            continue

        def event_version(event: Event) -> str:
            kind_and_version = event.kind_and_version
            assert kind_and_version is not None
            return kind_and_version[1]

        def by_version(a: Event, b: Event) -> int:
            a_zero, b_zero = a.introduced == "0", b.introduced == "0"
            if a_zero or b_zero:
                return int(b_zero) - int(a_zero)
            # SecAPI's rule 2 at a tie: fixed < introduced < last_affected.
            return cmp(event_version(a), event_version(b)) or _TIE[_kind(a)] - _TIE[_kind(b)]

        # ... and an `introduced X` directly followed by `fixed X` is an empty interval.
        events = list(rng.events)
        kept: list[Event] = []
        while events:
            event = events.pop(0)
            if (
                event.introduced is not None
                and events
                and events[0].fixed is not None
                and cmp(event.introduced, events[0].fixed) == 0
            ):
                events.pop(0)
                continue
            kept.append(event)
        vulnerable = False
        for event in sorted(kept, key=functools.cmp_to_key(by_version)):
            if event.introduced is not None and (event.introduced == "0" or cmp(version, event.introduced) >= 0):
                vulnerable = True
            elif (event.fixed is not None and cmp(version, event.fixed) >= 0) or (
                event.last_affected is not None and cmp(version, event.last_affected) > 0
            ):
                vulnerable = False
        if vulnerable:
            return True
    return False


_UNIVERSE = ["0.1.0", "0.9.0", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "2.0.0-alpha", "2.0.0", "2.5.0", "3.0.0"]
_event = st.one_of(
    st.builds(Event, introduced=st.sampled_from(["0", *_UNIVERSE])),
    st.builds(Event, fixed=st.sampled_from(_UNIVERSE)),
    st.builds(Event, last_affected=st.sampled_from(_UNIVERSE)),
    st.builds(Event, limit=st.sampled_from([*_UNIVERSE, "*"])),
)
_affected_strategy = st.builds(
    AffectedRanges,
    versions=st.lists(st.sampled_from(_UNIVERSE), max_size=2).map(tuple),
    ranges=st.lists(
        st.builds(Range, type=st.sampled_from(["ECOSYSTEM", "SEMVER"]), events=st.lists(_event, max_size=5).map(tuple)),
        max_size=2,
    ).map(tuple),
)


@given(_affected_strategy, st.sampled_from(_UNIVERSE))
def test_evaluation_matches_the_spec_pseudocode(affected: AffectedRanges, version: str) -> None:
    assert is_affected("npm", version, affected) == _spec_is_affected("npm", version, affected)


# --- Names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ecosystem", "name", "expected"),
    [
        ("PyPI", "Django_REST.framework", "django-rest-framework"),
        ("PyPI", "zope.interface", "zope-interface"),
        ("npm", "JSONStream", "JSONStream"),
        ("npm", "@Scope/Pkg", "@Scope/Pkg"),
        ("Go", "github.com/BurntSushi/toml", "github.com/BurntSushi/toml"),
        ("crates.io", "serde_json", "serde_json"),
        ("Maven", "org.apache.logging.log4j:log4j-core", "org.apache.logging.log4j:log4j-core"),
        ("RubyGems", "RedCloth", "RedCloth"),
        ("Debian:12", "OpenSSL", "openssl"),
        ("Ubuntu:22.04:LTS", "Linux", "linux"),
        ("Alpine:v3.18", "Py3-Jinja2", "py3-jinja2"),
        ("Packagist", "Symfony/HTTP-Kernel", "symfony/http-kernel"),
        ("NuGet", "Newtonsoft.Json", "newtonsoft.json"),
        ("PyPI", "  requests ", "requests"),
    ],
)
def test_package_names_normalise_per_ecosystem(ecosystem: str, name: str, expected: str) -> None:
    assert normalize_package_name(ecosystem, name) == expected


# --- Speed ------------------------------------------------------------------------------


def test_a_thousand_mixed_packages_against_several_ranges_evaluate() -> None:
    rng = random.Random(3)
    packages = [
        (ecosystem, f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 30)}{suffix}")
        for ecosystem, suffix in [("npm", ""), ("PyPI", ""), ("Debian:12", "-1"), ("Maven", "")] * 250
    ]
    advisories = [
        _affected(
            _range("ECOSYSTEM", ("introduced", "0"), ("fixed", f"{major}.{minor}.0")),
            _range("ECOSYSTEM", ("introduced", f"{major + 1}.0.0"), ("last_affected", f"{major + 1}.{minor}.9")),
        )
        for major, minor in [(rng.randint(0, 9), rng.randint(0, 30)) for _ in range(5)]
    ]
    # Speed is measured by benchmarks/matching.py; here the mixed workload must simply evaluate.
    hits = sum(is_affected(eco, version, advisory) for eco, version in packages for advisory in advisories)
    assert 0 < hits < len(packages) * len(advisories)
