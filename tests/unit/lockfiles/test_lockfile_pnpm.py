"""pnpm-lock.yaml, lockfile versions 5.x, 6.x and 9.x."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.adapters.lockfiles.pnpm import split_key
from secapi.domain.lockfiles import EmptyLockfile, MalformedLockfile, ParsedLockfile

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


def test_v9_reads_packages_and_reports_workspace_links_from_importers() -> None:
    parsed = _parse("pnpm-v9")
    expected = [("@tanstack/query-core", "5.8.3"), ("@tanstack/react-query", "5.8.4"), ("typescript", "5.2.2")]
    assert _pairs(parsed) == sorted([*expected, *REACT_APP])
    link, git = parsed.unscannable
    assert (link.name, link.location) == ("@shop/utils", "line 27")
    assert "local directory ../utils" in link.reason
    assert git.name == "left-pad"


@pytest.mark.parametrize(
    ("key", "major", "expected"),
    [
        ("/foo/1.0.0", 5, ("foo", "1.0.0")),
        ("/@scope/name/1.2.3", 5, ("@scope/name", "1.2.3")),
        ("/foo/1.0.0_react@18.2.0", 5, ("foo", "1.0.0")),
        ("/foo/1.0.0_react@18.2.0+react-dom@18.2.0", 5, ("foo", "1.0.0")),
        ("/styled-jsx/5.1.1_@babel+core@7.23.0+react@18.2.0", 5, ("styled-jsx", "5.1.1")),
        ("/foo/1.0.0_3hb2wiwmr4ihsvcxuiwlbwmowi", 5, ("foo", "1.0.0")),
        ("/foo/1.0.0(react@18.2.0)(react-dom@18.2.0)", 5, ("foo", "1.0.0")),
        ("registry.example.org/name/1.2.3", 5, ("name", "1.2.3")),
        ("registry.example.org/@scope/name/1.2.3_react@18.2.0", 5, ("@scope/name", "1.2.3")),
        ("localhost:4873/name/1.2.3", 5, ("name", "1.2.3")),
        ("/foo@1.0.0", 6, ("foo", "1.0.0")),
        ("/@scope/name@1.2.3-beta.1", 6, ("@scope/name", "1.2.3-beta.1")),
        ("/foo@1.0.0(react@18.2.0)(react-dom@18.2.0)", 6, ("foo", "1.0.0")),
        ("/foo@1.0.0(@types/react@18.2.0)", 6, ("foo", "1.0.0")),
        ("registry.example.org/name@1.2.3(react@18.2.0)", 6, ("name", "1.2.3")),
        ("name@1.2.3(peer@1.0.0)", 9, ("name", "1.2.3")),
        ("@scope/name@1.2.3(patch_hash=abc)", 9, ("@scope/name", "1.2.3")),
        ("github.com/acme/left-pad/5ab0c3e5f0b8c0a6a8cc9a1c2e0b1c6d1f2e3a4b", 5, None),
        ("file:vendor/private-lib-2.0.0.tgz", 6, None),
        ("left-pad@https://codeload.github.com/acme/left-pad/tar.gz/5ab0c3e", 9, None),
        ("local@file:../local", 9, None),
    ],
)
def test_keys_give_name_and_version_without_peer_suffixes(
    key: str, major: int, expected: tuple[str, str] | None
) -> None:
    assert split_key(key, major) == expected


def test_a_mirror_registry_key_is_scanned_as_npm() -> None:
    content = (
        "lockfileVersion: 5.4\npackages:\n  registry.npmmirror.com/react/18.2.0:\n    resolution: {integrity: x}\n"
    )
    [package] = parse_lockfile("pnpm-lock.yaml", content).packages
    assert (package.name, package.version, package.purl) == ("react", "18.2.0", "pkg:npm/react@18.2.0")


def test_v5_single_project_link_dependency_is_reported() -> None:
    content = "lockfileVersion: 5.4\ndependencies:\n  shared: link:../shared\n  react: 18.2.0\npackages: {}\n"
    [link] = parse_lockfile("pnpm-lock.yaml", content).unscannable
    assert (link.name, link.location) == ("shared", "line 3")


def test_an_unreadable_entry_is_unscannable_and_the_rest_is_read() -> None:
    content = "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: tarball\n  b@2.0.0: {}\n"
    parsed = parse_lockfile("pnpm-lock.yaml", content)
    assert _pairs(parsed) == [("b", "2.0.0")]
    [entry] = parsed.unscannable
    assert (entry.name, entry.location) == ("a", "line 3")
    assert "expected an object" in entry.reason


def test_empty_packages_section_is_an_empty_result() -> None:
    assert parse_lockfile("pnpm-lock.yaml", "lockfileVersion: '9.0'\n\npackages: {}\n").packages == ()
    assert parse_lockfile("pnpm-lock.yaml", "lockfileVersion: '6.0'\n").packages == ()
    with pytest.raises(EmptyLockfile):  # no content at all is not an empty lockfile but no lockfile
        parse_lockfile("pnpm-lock.yaml", "")


@pytest.mark.parametrize(
    ("content", "location", "reason"),
    [
        ("packages:\n  /a/1.0.0: {}\n", "lockfileVersion", "missing"),
        ("lockfileVersion: next\npackages:\n  a@1.0.0: {}\n", "lockfileVersion", "not a lockfile version"),
        ("lockfileVersion: '9.0'\npackages:\n  a@1.0.0: [1, 2]\n", "line 3", "expected a mapping"),
        ("lockfileVersion: '9.0'\npackages:\n  a@1.0.0: {resolution: {integrity: x}\n", "line 4, column 1", "YAML"),
        ("- just\n- a list\n", "line 1", "expected a mapping"),
    ],
)
def test_malformed_pnpm_lock_names_the_line(content: str, location: str, reason: str) -> None:
    with pytest.raises(MalformedLockfile) as raised:
        parse_lockfile("pnpm-lock.yaml", content)
    assert raised.value.location == location
    assert reason in raised.value.reason
