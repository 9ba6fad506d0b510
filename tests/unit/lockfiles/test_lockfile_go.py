"""go.mod: require, replace and the Go toolchain."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
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
    ]


def test_purl_keeps_the_go_version_spelling() -> None:
    purls = {p.name: p.purl for p in _parse().packages}
    assert purls["github.com/BurntSushi/toml"] == "pkg:golang/github.com/burntsushi/toml@v1.3.2"
    assert purls["github.com/docker/docker"] == "pkg:golang/github.com/docker/docker@v24.0.7%2Bincompatible"


def test_local_replacement_and_toolchain_are_unscannable() -> None:
    shared, stdlib = _parse().unscannable
    assert (shared.name, shared.location) == ("github.com/acme/shared", "line 10")
    assert "../shared" in shared.reason
    assert (stdlib.name, stdlib.location) == ("stdlib", "line 5")
    assert "go 1.21.0, toolchain go1.21.5" in stdlib.reason


def test_versioned_replace_applies_only_to_that_version() -> None:
    content = "module m\n\nrequire a.example/x v1.0.0\n\nreplace a.example/x v0.9.0 => b.example/x v0.9.1\n"
    [package] = parse_lockfile("go.mod", content).packages
    assert (package.name, package.version) == ("a.example/x", "1.0.0")


def test_quoted_paths_and_a_file_without_go_line() -> None:
    parsed = parse_lockfile("go.mod", 'module "m"\nrequire (\n\t"a.example/x" v1.2.3\n)\n')
    assert [(p.name, p.version) for p in parsed.packages] == [("a.example/x", "1.2.3")]
    assert parsed.unscannable == ()


@pytest.mark.parametrize(
    ("content", "location"),
    [
        ("module m\nrequire a.example/x 1.0.0\n", "line 2"),
        ("module m\nrequire a.example/x\n", "line 2"),
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
