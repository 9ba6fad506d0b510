"""yarn.lock: classic v1 and berry (v2+)."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import EmptyLockfile, MalformedLockfile, ParsedLockfile

FIXTURES = Path(__file__).parent / "fixtures"


def _parse(case: str) -> ParsedLockfile:
    return parse_lockfile("yarn.lock", (FIXTURES / case / "yarn.lock").read_text())


def test_v1_reads_every_entry_once_whatever_its_specifiers() -> None:
    parsed = _parse("yarn-v1")
    assert parsed.ecosystem == "npm"
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("@babel/code-frame", "7.22.13", "line 5"),
        ("@babel/highlight", "7.22.20", "line 13"),
        ("chalk", "2.4.2", "line 22"),
        ("chalk", "4.1.2", "line 27"),
        ("js-tokens", "4.0.0", "line 32"),
        ("lodash", "3.10.1", "line 41"),
        ("lodash", "4.17.21", "line 46"),
        ("react", "18.2.0", "line 58"),
    ]
    assert parsed.packages[0].purl == "pkg:npm/%40babel/code-frame@7.22.13"


def test_v1_git_and_local_entries_are_unscannable() -> None:
    parsed = _parse("yarn-v1")
    assert [(e.name, e.location) for e in parsed.unscannable] == [
        ("left-pad", "line 37"),
        ("my-utils", "line 51"),
        ("private-lib", "line 54"),
    ]
    reasons = [e.reason for e in parsed.unscannable]
    assert "git" in reasons[0]
    assert "local path" in reasons[1]
    assert "git" in reasons[2]


def test_v1_alias_resolves_to_the_real_package() -> None:
    content = '"string-width-cjs@npm:string-width@^4.2.0":\n  version "4.2.3"\n'
    [package] = parse_lockfile("yarn.lock", content).packages
    assert (package.name, package.version) == ("string-width", "4.2.3")


def test_v1_crlf_and_empty_file() -> None:
    with pytest.raises(EmptyLockfile):  # no content at all is not an empty lockfile but no lockfile
        parse_lockfile("yarn.lock", "")
    parsed = parse_lockfile("yarn.lock", 'ms@^2.1.1:\r\n  version "2.1.3"\r\n')
    assert [(p.name, p.version) for p in parsed.packages] == [("ms", "2.1.3")]


def test_berry_takes_names_from_resolution_and_reports_workspaces_but_the_root() -> None:
    parsed = _parse("yarn-berry")
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("@babel/code-frame", "7.22.13", "line 8"),
        ("lodash", "3.10.1", "line 18"),
        ("lodash", "4.17.21", "line 25"),
        ("resolve", "1.22.8", "line 38"),
        ("typescript", "5.2.2", "line 76"),
    ]
    git, workspace = parsed.unscannable
    assert (git.name, git.location) == ("private-lib", "line 32")
    assert (workspace.name, workspace.location) == ("ui-kit", "line 96")
    assert "workspace package (packages/ui-kit)" in workspace.reason


def test_berry_patched_package_counts_as_its_npm_release() -> None:
    content = (
        "__metadata:\n  version: 8\n\n"
        '"fsevents@patch:fsevents@npm%3A2.3.3#optional!builtin<compat/fsevents>":\n'
        "  version: 2.3.3\n"
        '  resolution: "fsevents@patch:fsevents@npm%3A2.3.3#optional!builtin<compat/fsevents>'
        '::version=2.3.3&hash=df0bf1"\n'
    )
    [package] = parse_lockfile("yarn.lock", content).packages
    assert (package.name, package.version) == ("fsevents", "2.3.3")


@pytest.mark.parametrize(
    ("content", "location"),
    [
        ('lodash@^4.17.21\n  version "4.17.21"\n', "line 1"),
        ('  version "4.17.21"\n', "line 1"),
        ('"lodash@^4.17.21:\n  version "4.17.21"\n', "line 1"),
        ('lodash@^4.17.21:\n  version "4.17.21\n', "line 2"),
        ('__metadata:\n  version: 8\n\n"lodash@npm:^4":\n  resolution: "lodash@npm:4\n', "line 6, column 1"),
    ],
)
def test_malformed_yarn_lock_names_the_line(content: str, location: str) -> None:
    with pytest.raises(MalformedLockfile) as raised:
        parse_lockfile("yarn.lock", content)
    assert raised.value.location == location


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("lodash@npm:^4:\n  version: 4.17.21\n", "missing required field 'resolution'"),
        ('"lodash@npm:^4, lodash@npm:^4.1":\n  resolution: [a, b]\n', "expected a string"),
    ],
)
def test_berry_entry_without_a_readable_resolution_is_unscannable(entry: str, reason: str) -> None:
    content = f'__metadata:\n  version: 8\n\n{entry}\n"ms@npm:^2":\n  resolution: "ms@npm:2.1.3"\n'
    parsed = parse_lockfile("yarn.lock", content)
    assert [(p.name, p.version) for p in parsed.packages] == [("ms", "2.1.3")]
    [unreadable] = parsed.unscannable
    assert (unreadable.name, unreadable.location) == ("lodash", "line 4")
    assert reason in unreadable.reason
