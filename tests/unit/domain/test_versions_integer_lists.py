"""Haskell (Hackage, GHC) and R (CRAN, Bioconductor) versions: integer lists, a prefix first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secapi.domain.versions import compare_versions


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0.0", -1),  # a prefix is smaller (PVP, unlike the generic order)
        ("1.0.0", "1.0.1", -1),
        ("1.10", "1.9", 1),
        ("0.2.0.1", "0.2", 1),
        ("2", "1.99.99", 1),
        ("1.02", "1.2", 0),
        ("1.0-rc1", "0.0.1", -1),  # not a version: sorts before every version
    ],
)
@pytest.mark.parametrize("ecosystem", ["Hackage", "GHC"])
def test_haskell_versions_compare_as_integer_lists(ecosystem: str, a: str, b: str, expected: int) -> None:
    assert compare_versions(ecosystem, a, b) == expected
    assert compare_versions(ecosystem, b, a) == -expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.2-3", "1.2.3", 0),
        ("1.2-3", "1.2.4", -1),
        ("1.2-3", "1.2.3.0", -1),
        ("1.0", "1.0.0", -1),  # a prefix is smaller, as in R's package_version
        ("1.0", "1.0-0", -1),
        ("1.2-10", "1.2-9", 1),
        ("0.9.12", "0.10", -1),
        ("3.6.3.1", "3.6.3-1", 0),
        ("1.0.beta", "0.1", -1),  # R refuses it: sorts before every version
    ],
)
@pytest.mark.parametrize("ecosystem", ["CRAN", "Bioconductor"])
def test_r_versions_compare_as_integer_lists(ecosystem: str, a: str, b: str, expected: int) -> None:
    assert compare_versions(ecosystem, a, b) == expected
    assert compare_versions(ecosystem, b, a) == -expected


_numbers = st.lists(st.integers(0, 20), min_size=1, max_size=4)


@given(_numbers, _numbers, st.sampled_from(["Hackage", "CRAN"]))
def test_order_is_the_order_of_the_integer_lists(left: list[int], right: list[int], ecosystem: str) -> None:
    a, b = ".".join(map(str, left)), ".".join(map(str, right))
    assert compare_versions(ecosystem, a, b) == (left > right) - (left < right)


@given(_numbers, st.lists(st.sampled_from([".", "-"]), min_size=3, max_size=3))
def test_r_reads_dots_and_hyphens_alike(numbers: list[int], separators: list[str]) -> None:
    spelled = str(numbers[0]) + "".join(sep + str(n) for sep, n in zip(separators, numbers[1:], strict=False))
    assert compare_versions("CRAN", spelled, ".".join(map(str, numbers))) == 0
