"""package-lock.json (v1, v2, v3) and npm-shrinkwrap.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile

FIXTURES = Path(__file__).parent / "fixtures"


def _parse(case: str, name: str = "package-lock.json") -> ParsedLockfile:
    return parse_lockfile(name, (FIXTURES / case / name).read_text())


def test_v3_lists_every_installed_copy_and_skips_root_workspaces_and_links() -> None:
    parsed = _parse("npm-v3")
    assert parsed.ecosystem == "npm"
    assert [(p.name, p.version) for p in parsed.packages] == [
        ("@babel/runtime", "7.23.2"),
        ("clsx", "2.0.0"),
        ("debug", "2.6.9"),
        ("debug", "4.3.4"),
        ("express", "4.18.2"),
        ("lodash", "3.10.1"),
        ("ms", "2.0.0"),
        ("ms", "2.1.2"),
        ("ms", "2.1.3"),
        ("regenerator-runtime", "0.14.0"),
        ("send", "0.18.0"),
        ("typescript", "5.2.2"),
    ]


def test_v3_alias_is_reported_under_the_real_package_name() -> None:
    lodash = next(p for p in _parse("npm-v3").packages if p.name == "lodash")
    assert lodash.location == 'packages["node_modules/lodash-legacy"]'
    assert lodash.purl == "pkg:npm/lodash@3.10.1"


def test_v3_scoped_package_has_an_encoded_purl() -> None:
    babel = next(p for p in _parse("npm-v3").packages if p.name == "@babel/runtime")
    assert babel.purl == "pkg:npm/%40babel/runtime@7.23.2"


def test_v3_duplicate_copies_keep_the_first_location() -> None:
    debug = next(p for p in _parse("npm-v3").packages if (p.name, p.version) == ("debug", "2.6.9"))
    assert debug.location == 'packages["node_modules/express/node_modules/debug"]'


def test_v3_git_dependency_is_unscannable_not_guessed() -> None:
    [entry] = [e for e in _parse("npm-v3").unscannable if e.name == "left-pad"]
    assert entry.location == 'packages["node_modules/left-pad"]'
    assert "git" in entry.reason


def test_v3_workspace_package_and_its_link_are_reported_not_skipped() -> None:
    entries = [(e.name, e.location) for e in _parse("npm-v3").unscannable if e.name == "@shop/ui"]
    assert entries == [("@shop/ui", 'packages["node_modules/@shop/ui"]'), ("@shop/ui", 'packages["packages/ui"]')]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"packages": {"node_modules/a": {"version": 7}}}', ("a", 'packages["node_modules/a"]', "expected a string")),
        ('{"packages": {"node_modules/a": []}}', ("a", 'packages["node_modules/a"]', "expected an object")),
        (
            '{"dependencies": {"a": {"version": "1.0.0", "dependencies": {"b": 1}}}}',
            ("b", 'dependencies["a"].dependencies["b"]', "object"),
        ),
        ('{"packages": {"node_modules/a": {}}}', ("a", 'packages["node_modules/a"]', "no version")),
    ],
)
def test_an_unreadable_entry_is_unscannable_not_a_void_file(content: str, expected: tuple[str, str, str]) -> None:
    [entry] = parse_lockfile("package-lock.json", content).unscannable
    assert (entry.name, entry.location) == expected[:2]
    assert expected[2] in entry.reason


def test_v1_walks_the_nested_dependency_tree() -> None:
    parsed = _parse("npm-v1")
    assert {(p.name, p.version): p.location for p in parsed.packages} == {
        ("@types/node", "14.18.63"): 'dependencies["@types/node"]',
        ("body-parser", "1.19.0"): 'dependencies["body-parser"]',
        ("debug", "2.6.9"): 'dependencies["debug"]',
        ("lodash", "3.10.1"): 'dependencies["lodash-legacy"]',
        ("ms", "2.0.0"): 'dependencies["ms"]',
        ("qs", "6.11.0"): 'dependencies["qs"]',
        ("qs", "6.7.0"): 'dependencies["body-parser"].dependencies["qs"]',
    }
    assert [(e.name, e.location) for e in parsed.unscannable] == [
        ("left-pad", 'dependencies["left-pad"]'),
        ("shared-utils", 'dependencies["shared-utils"]'),
    ]


def test_shrinkwrap_v2_prefers_the_packages_map() -> None:
    parsed = _parse("shrinkwrap-v2", "npm-shrinkwrap.json")
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("commander", "11.1.0", 'packages["node_modules/commander"]')
    ]


def test_a_pathologically_deep_document_is_malformed_not_a_crash() -> None:
    depth = 5000
    document = (
        '{"dependencies": {"a": ' + '{"version": "1.0.0", "dependencies": {"a": ' * depth + "{}" + "}}" * depth + "}}"
    )
    with pytest.raises(MalformedLockfile) as raised:
        parse_lockfile("package-lock.json", document)
    assert "deeply" in raised.value.reason


def test_a_deep_v1_tree_is_walked_without_recursion() -> None:
    depth = 300
    document = (
        '{"dependencies": {"a": ' + '{"version": "1.0.0", "dependencies": {"a": ' * depth + '{"version": "2.0.0"}'
    )
    document += "}}" * depth + "}}"
    parsed = parse_lockfile("package-lock.json", document)
    assert [(p.name, p.version) for p in parsed.packages] == [("a", "1.0.0"), ("a", "2.0.0")]
    assert parsed.packages[0].location == 'dependencies["a"]'


@pytest.mark.parametrize(
    ("content", "location", "reason"),
    [
        ('{"packages": []}', "packages", "expected an object"),
        ("[1, 2]", "document", "expected an object"),
        ('{\n  "packages": {\n    "node_modules/a": {"version": "1.0.0",}\n  }\n}', "line 3, column 43", "JSON"),
    ],
)
def test_malformed_lockfile_names_the_path_or_line(content: str, location: str, reason: str) -> None:
    with pytest.raises(MalformedLockfile) as raised:
        parse_lockfile("package-lock.json", content)
    assert raised.value.location == location
    assert reason in raised.value.reason
