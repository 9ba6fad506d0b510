"""Dart pub version order: pub_semver's `Version.compareTo`, build metadata included."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secapi.domain.versions import compare_versions

PUB_ASCENDING = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0-rc.1+1",
    "1.0.0",
    "1.0.0+0",
    "1.0.0+1",
    "1.0.0+2",
    "1.0.0+10",
    "1.0.0+build",
    "1.0.0+build.1",
    "1.0.1",
    "1.10.0",
    "2.0.0-dev.1",
    "2.0.0",
]


def test_pub_orders_like_pub_semver() -> None:
    shuffled = PUB_ASCENDING[::-1]
    ordered = sorted(shuffled, key=functools.cmp_to_key(functools.partial(compare_versions, "Pub")))
    assert ordered == PUB_ASCENDING


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0.0-rc.1", "1.0.0", -1),
        ("1.0.0", "1.0.0+1", -1),  # unlike SemVer, a build sorts after no build
        ("1.0.0+1", "1.0.0+2", -1),
        ("1.0.0+2", "1.0.0+a", -1),  # numbers before words
        ("1.0.0-rc.1+99", "1.0.0", -1),  # the pre-release decides before the build
        ("v1.2.3", "1.2.3", 0),
        ("v1.2.3+4", "1.2.3+4", 0),
        ("01.02.03-01", "1.2.3-1", 0),  # pub reads numbers, leading zeros and all
        ("1.0.0-Beta", "1.0.0-beta", -1),  # words compare in ASCII order
        ("1.0", "0.0.1", -1),  # not a pub version: sorts before every version
        ("not-a-version", "1.0", -1),
    ],
)
def test_pub_edge_cases(a: str, b: str, expected: int) -> None:
    assert compare_versions("Pub", a, b) == expected
    assert compare_versions("Pub", b, a) == -expected


# --- against pub_semver's algorithm, written out as a comparison ----------------------


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _compare_identifier_lists(left: list[int | str], right: list[int | str]) -> int:
    for a, b in zip(left, right, strict=False):
        if a == b:
            continue
        if isinstance(a, int) and isinstance(b, int):
            return _sign(a - b)
        if isinstance(a, int) != isinstance(b, int):
            return -1 if isinstance(a, int) else 1
        return -1 if str(a) < str(b) else 1
    return _sign(len(left) - len(right))


def _parts(text: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in text.split(".")] if text else []


def _pub_compare(a: str, b: str) -> int:
    """pub_semver's compareTo, step by step, for versions known to parse."""
    (core_a, _, build_a), (core_b, _, build_b) = a.partition("+"), b.partition("+")
    (release_a, _, pre_a), (release_b, _, pre_b) = core_a.partition("-"), core_b.partition("-")
    numbers = _compare_identifier_lists(_parts(release_a), _parts(release_b))
    if numbers:
        return numbers
    if bool(pre_a) != bool(pre_b):
        return 1 if not pre_a else -1
    pre = _compare_identifier_lists(_parts(pre_a), _parts(pre_b))
    if pre:
        return pre
    if bool(build_a) != bool(build_b):
        return -1 if not build_a else 1
    return _compare_identifier_lists(_parts(build_a), _parts(build_b))


_identifiers = st.lists(st.sampled_from(["0", "1", "2", "10", "alpha", "beta", "rc", "Beta", "x-y", "1a"]), max_size=3)
_pub_version = st.builds(
    lambda core, pre, build: core + ("-" + ".".join(pre) if pre else "") + ("+" + ".".join(build) if build else ""),
    st.lists(st.integers(0, 11), min_size=3, max_size=3).map(lambda parts: ".".join(map(str, parts))),
    _identifiers,
    _identifiers,
)


@given(_pub_version, _pub_version)
def test_pub_key_agrees_with_pub_semver_comparison(a: str, b: str) -> None:
    assert compare_versions("Pub", a, b) == _pub_compare(a, b)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0.0-a.-1", "1.0.0-a.0", -1),  # Dart's int.tryParse reads "-1" as a number
        ("1.0.0-a.9223372036854775807", "1.0.0-a.b", -1),
        ("1.0.0-a.9223372036854775808", "1.0.0-a.b", -1),  # past 64 bits: a word, and "9" < "b"
        ("1.0.0-a.9223372036854775808", "1.0.0-a.1", 1),  # a word sorts after every number
        ("9223372036854775808.0.0", "0.0.0", -1),  # pub cannot parse the core: sorts first
    ],
)
def test_pub_numbers_are_what_dart_reads_as_int(a: str, b: str, expected: int) -> None:
    assert compare_versions("Pub", a, b) == expected
    assert compare_versions("Pub", b, a) == -expected


@pytest.mark.parametrize("ecosystem", ["Pub", "Hackage", "CRAN", "SomethingNew"])
def test_a_number_longer_than_int_allows_still_compares(ecosystem: str) -> None:
    huge = "1.0.0-" + "9" * 5000
    assert compare_versions(ecosystem, huge, huge) == 0
    assert compare_versions(ecosystem, "1." + "9" * 5000, "1." + "9" * 4999) == 1
