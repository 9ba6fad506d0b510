"""pnpm-lock.yaml, lockfile versions 5.x, 6.x and 9.x."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile

FIXTURES = Path(__file__).parent / "fixtures"
REACT_APP = [
    ("js-tokens", "4.0.0"),
    ("loose-envify", "1.4.0"),
    ("react", "18.2.0"),
    ("react-dom", "18.2.0"),
    ("scheduler", "0.23.0"),
]


def _parse(case: str) -> ParsedLockfile:
    return parse_lockfile("pnpm-lock.yaml", (FIXTURES / case / "pnpm-lock.yaml").read_text())


def _pairs(parsed: ParsedLockfile) -> list[tuple[str, str]]:
    return [(p.name, p.version) for p in parsed.packages]


def test_v5_slash_keys_with_underscore_peer_suffixes() -> None:
    parsed = _parse("pnpm-v5")
    assert parsed.ecosystem == "npm"
    assert _pairs(parsed) == sorted([("@babel/core", "7.23.0"), ("styled-jsx", "5.1.1"), *REACT_APP])
    react_dom = next(p for p in parsed.packages if p.name == "react-dom")
    assert react_dom.location == "line 38"
    assert react_dom.purl == "pkg:npm/react-dom@18.2.0"
    [git] = parsed.unscannable
    assert (git.name, git.location) == ("left-pad", "line 72")
    assert "codeload.github.com" in git.reason


def test_v6_at_keys_with_parenthesised_peer_suffixes() -> None:
    parsed = _parse("pnpm-v6")
    expected = [("@tanstack/query-core", "5.8.3"), ("@tanstack/react-query", "5.8.4"), *REACT_APP]
    assert _pairs(parsed) == sorted(expected)
    assert [(e.name, e.location) for e in parsed.unscannable] == [("private-lib", "line 73"), ("left-pad", "line 79")]


def test_v9_reads_packages_and_ignores_snapshots_and_importers() -> None:
    parsed = _parse("pnpm-v9")
    expected = [("@tanstack/query-core", "5.8.3"), ("@tanstack/react-query", "5.8.4"), ("typescript", "5.2.2")]
    assert _pairs(parsed) == sorted([*expected, *REACT_APP])
    [git] = parsed.unscannable
    assert git.name == "left-pad"


def test_empty_packages_section_is_an_empty_result() -> None:
    assert parse_lockfile("pnpm-lock.yaml", "lockfileVersion: '9.0'\n\npackages: {}\n").packages == ()
    assert parse_lockfile("pnpm-lock.yaml", "lockfileVersion: '6.0'\n").packages == ()
    assert parse_lockfile("pnpm-lock.yaml", "").packages == ()


@pytest.mark.parametrize(
    ("content", "location", "reason"),
    [
        ("packages:\n  /a/1.0.0: {}\n", "lockfileVersion", "missing"),
        ("lockfileVersion: next\npackages:\n  a@1.0.0: {}\n", "lockfileVersion", "not a lockfile version"),
        ("lockfileVersion: '9.0'\npackages:\n  a@1.0.0: [1, 2]\n", "line 3", "expected a mapping"),
        ("lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: tarball\n", "line 3 (resolution)", "object"),
        ("lockfileVersion: '9.0'\npackages:\n  a@1.0.0: {resolution: {integrity: x}\n", "line 4, column 1", "YAML"),
        ("- just\n- a list\n", "line 1", "expected a mapping"),
    ],
)
def test_malformed_pnpm_lock_names_the_line(content: str, location: str, reason: str) -> None:
    with pytest.raises(MalformedLockfile) as raised:
        parse_lockfile("pnpm-lock.yaml", content)
    assert raised.value.location == location
    assert reason in raised.value.reason
