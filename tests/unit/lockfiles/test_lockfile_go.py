"""go.mod: require, replace, the Go standard library and go.sum as companion."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.adapters.lockfiles.reader import RegistryLockfileReader
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile

FIXTURES = Path(__file__).parent / "fixtures"


def _parse() -> ParsedLockfile:
    return parse_lockfile("go.mod", (FIXTURES / "gomod" / "go.mod").read_text())


def test_requires_with_replacements_applied() -> None:
    parsed = _parse()
    assert parsed.ecosystem == "Go"
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("github.com/BurntSushi/toml", "1.3.2", "line 8"),
        ("github.com/acme/internal-lib", "0.0.0-20231012093000-1a2b3c4d5e6f", "line 9"),
        ("github.com/acme/uuid-fork", "1.4.1-acme.1", "line 12"),
        ("github.com/bytedance/sonic", "1.9.1", "line 17"),
        ("github.com/docker/docker", "24.0.7+incompatible", "line 18"),
        ("github.com/gin-gonic/gin", "1.9.1", "line 11"),
        ("github.com/mattn/go-isatty", "0.0.19", "line 24"),
        ("github.com/pkg/errors", "0.9.1", "line 13"),
        ("golang.org/x/crypto", "0.17.0", "line 19"),
        ("golang.org/x/net", "0.17.0", "line 20"),
        ("gopkg.in/yaml.v3", "3.0.1", "line 21"),
        ("stdlib", "1.21.5", "line 5"),
    ]


def test_purl_keeps_the_go_version_spelling() -> None:
    purls = {p.name: p.purl for p in _parse().packages}
    assert purls["github.com/BurntSushi/toml"] == "pkg:golang/github.com/burntsushi/toml@v1.3.2"
    assert purls["github.com/docker/docker"] == "pkg:golang/github.com/docker/docker@v24.0.7%2Bincompatible"


def test_local_replacement_is_unscannable() -> None:
    [shared] = _parse().unscannable
    assert (shared.name, shared.location) == ("github.com/acme/shared", "line 10")
    assert "../shared" in shared.reason


def _modules(parsed: ParsedLockfile) -> list[tuple[str, str]]:
    return [(p.name, p.version) for p in parsed.packages if p.name != "stdlib"]


def test_versioned_replace_applies_only_to_that_version() -> None:
    content = "module m\n\nrequire a.example/x v1.0.0\n\nreplace a.example/x v0.9.0 => b.example/x v0.9.1\n"
    assert _modules(parse_lockfile("go.mod", content)) == [("a.example/x", "1.0.0")]


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        ("replace a.example/x => b.example/y v1.2.3", [("b.example/y", "1.2.3")]),
        ("replace a.example/x v1.0.0 => b.example/y v1.2.3", [("b.example/y", "1.2.3")]),
        ("replace (\n\ta.example/x v1.0.0 => a.example/x v1.0.1\n)", [("a.example/x", "1.0.1")]),
        ("replace a.example/x v1.0.0 => ../fork", []),
        ("replace a.example/x => ./fork", []),
    ],
)
def test_replace_changes_the_module_and_version_matched(replace: str, expected: list[tuple[str, str]]) -> None:
    parsed = parse_lockfile("go.mod", f"module m\ngo 1.21\nrequire a.example/x v1.0.0\n{replace}\n")
    assert _modules(parsed) == expected
    if not expected:
        [local] = parsed.unscannable
        assert (local.name, local.location) == ("a.example/x", "line 3")
        assert "local directory" in local.reason


def test_quoted_paths() -> None:
    parsed = parse_lockfile("go.mod", 'module "m"\ngo 1.22\nrequire (\n\t"a.example/x" v1.2.3\n)\n')
    assert _modules(parsed) == [("a.example/x", "1.2.3")]


@pytest.mark.parametrize(
    ("directives", "version", "location"),
    [
        ("go 1.21\ntoolchain go1.22.1", "1.22.1", "line 3"),
        ("toolchain go1.22.1\ngo 1.21", "1.22.1", "line 2"),
        ("go 1.21", "1.21.0", "line 2"),
        ("go 1.22.3", "1.22.3", "line 2"),
        ("go 1.21rc2", "1.21.0-rc.2", "line 2"),
        ("go 1.21.0\ntoolchain go1.23rc1", "1.23.0-rc.1", "line 3"),
    ],
)
def test_the_toolchain_or_go_line_adds_the_standard_library(directives: str, version: str, location: str) -> None:
    parsed = parse_lockfile("go.mod", f"module m\n{directives}\n")
    [stdlib] = parsed.packages
    assert (stdlib.name, stdlib.version, stdlib.ecosystem, stdlib.location) == ("stdlib", version, "Go", location)
    assert stdlib.purl == f"pkg:golang/stdlib@v{version}"
    assert parsed.unscannable == ()


@pytest.mark.parametrize(
    ("directives", "reason"),
    [
        ("go 1.20", "language version"),
        ("go 1.16", "language version"),
        ("", "no go directive"),
        ("go 1.21\ntoolchain default", "not a Go release"),
    ],
)
def test_a_standard_library_version_that_is_not_known_is_unscannable_never_invented(
    directives: str, reason: str
) -> None:
    parsed = parse_lockfile("go.mod", f"module m\n{directives}\nrequire a.example/x v1.0.0\n")
    assert _modules(parsed) == [("a.example/x", "1.0.0")]
    assert [p.name for p in parsed.packages] == ["a.example/x"]
    [stdlib] = parsed.unscannable
    assert stdlib.name == "stdlib"
    assert reason in stdlib.reason


GO_116 = "module m\n\ngo 1.16\n\nrequire (\n\ta.example/direct v1.2.0\n\tc.example/old v1.0.0\n)\n"
GO_SUM = (
    "a.example/direct v1.2.0 h1:aaa=\n"
    "a.example/direct v1.2.0/go.mod h1:bbb=\n"
    "b.example/transitive v0.3.0 h1:ccc=\n"
    "b.example/transitive v0.3.0/go.mod h1:ddd=\n"
    "b.example/transitive v0.10.1 h1:eee=\n"
    "b.example/transitive v0.10.1/go.mod h1:fff=\n"
    "c.example/old v1.1.0 h1:ggg=\n"
    "d.example/graph-only v2.0.0+incompatible/go.mod h1:hhh=\n"
)


def test_pre_117_go_mod_with_go_sum_scans_every_built_module_at_its_highest_version() -> None:
    parsed = parse_lockfile("go.mod", GO_116, {"go.sum": GO_SUM})
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("a.example/direct", "1.2.0", "line 6"),
        ("b.example/transitive", "0.10.1", "go.sum line 5"),
        ("c.example/old", "1.1.0", "go.sum line 7"),
    ]
    assert parsed.unscanned == ()
    [stdlib] = parsed.unscannable
    assert stdlib.name == "stdlib"


def test_go_sum_modules_are_replaced_too() -> None:
    content = GO_116 + "replace b.example/transitive => b.example/fork v0.10.2\n"
    parsed = parse_lockfile("go.mod", content, {"go.sum": GO_SUM})
    assert ("b.example/fork", "0.10.2") in _modules(parsed)


def test_an_unreadable_go_sum_line_is_unscannable() -> None:
    parsed = parse_lockfile("go.mod", GO_116, {"go.sum": "a.example/direct v1.2.0 h1:aaa=\ngarbage\n"})
    assert [(e.name, e.location) for e in parsed.unscannable if e.name != "stdlib"] == [("garbage", "go.sum line 2")]


@pytest.mark.parametrize("go_line", ["go 1.16\n", "go 1.11\n", ""])
def test_pre_117_go_mod_without_go_sum_says_transitive_modules_were_not_scanned(go_line: str) -> None:
    parsed = parse_lockfile("go.mod", f"module m\n{go_line}require a.example/x v1.0.0\n")
    [item] = parsed.unscanned
    assert (item.path, item.kind) == ("go.mod", "go-transitive")
    assert "go.sum" in item.reason


def test_go_117_and_later_lists_every_module_so_go_sum_is_not_needed_or_used() -> None:
    content = "module m\ngo 1.17\nrequire a.example/direct v1.2.0\n"
    assert parse_lockfile("go.mod", content).unscanned == ()
    assert _modules(parse_lockfile("go.mod", content, {"go.sum": GO_SUM})) == [("a.example/direct", "1.2.0")]


def test_the_reader_port_passes_companions_by_base_name() -> None:
    parsed = RegistryLockfileReader().parse("svc/go.mod", GO_116, {"svc/go.sum": GO_SUM})
    assert ("b.example/transitive", "0.10.1") in _modules(parsed)
    alone = RegistryLockfileReader().parse("svc/go.mod", GO_116)
    assert [item.kind for item in alone.unscanned] == ["go-transitive"]


@pytest.mark.parametrize(
    ("require", "reason"),
    [("a.example/x 1.0.0", "module version"), ("a.example/x", "module version")],
)
def test_a_require_without_a_module_version_is_unscannable(require: str, reason: str) -> None:
    parsed = parse_lockfile("go.mod", f"module m\ngo 1.21\nrequire {require}\nrequire b.example/y v1.0.0\n")
    assert _modules(parsed) == [("b.example/y", "1.0.0")]
    [entry] = parsed.unscannable
    assert (entry.name, entry.location) == ("a.example/x", "line 3")
    assert reason in entry.reason


@pytest.mark.parametrize(
    ("content", "location"),
    [
        ("module m\nrequire (\n\ta.example/x v1.0.0\n", "end of file"),
        ("module m\nreplace a.example/x => \n", "line 2"),
        ("module m\nfrobnicate a.example/x v1.0.0\n", "line 2"),
        ('module m\nrequire "a.example/x v1.0.0\n', "line 2"),
    ],
)
def test_malformed_go_mod_names_the_line(content: str, location: str) -> None:
    with pytest.raises(MalformedLockfile) as raised:
        parse_lockfile("go.mod", content)
    assert raised.value.location == location
