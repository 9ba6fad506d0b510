"""Choosing a parser by file name, and the purls the parsers build."""

from __future__ import annotations

import pytest

from secapi.adapters.lockfiles import SUPPORTED_LOCKFILES, parse_lockfile, parser_for
from secapi.adapters.lockfiles._common import translate_errors
from secapi.adapters.lockfiles.cargo import CargoLockParser
from secapi.adapters.lockfiles.npm import PackageLockParser
from secapi.adapters.lockfiles.requirements import RequirementsTxtParser
from secapi.adapters.lockfiles.yarn import YarnLockParser
from secapi.domain.lockfiles import MalformedLockfile, UnsupportedLockfile
from secapi.domain.purl import composer_purl, gem_purl, golang_purl, npm_purl, pypi_purl


@pytest.mark.parametrize(
    ("filename", "parser_type"),
    [
        ("Cargo.lock", CargoLockParser),
        ("package-lock.json", PackageLockParser),
        ("npm-shrinkwrap.json", PackageLockParser),
        ("frontend/yarn.lock", YarnLockParser),
        ("C:\\src\\shop\\yarn.lock", YarnLockParser),
        ("requirements.txt", RequirementsTxtParser),
        ("requirements-dev.txt", RequirementsTxtParser),
        ("requirements_test.txt", RequirementsTxtParser),
        ("dev-requirements.txt", RequirementsTxtParser),
        ("prod.requirements.txt", RequirementsTxtParser),
    ],
)
def test_parser_is_chosen_by_base_name(filename: str, parser_type: type) -> None:
    assert isinstance(parser_for(filename), parser_type)


@pytest.mark.parametrize(
    "filename",
    ["cargo.lock", "Package-Lock.json", "package.json", "Pipfile", "requirements.in", "pyproject.toml", ""],
)
def test_unknown_or_differently_cased_names_are_unsupported(filename: str) -> None:
    with pytest.raises(UnsupportedLockfile) as raised:
        parser_for(filename)
    assert raised.value.filename == filename
    assert raised.value.supported == SUPPORTED_LOCKFILES
    assert "package-lock.json" in str(raised.value)


def test_every_exact_supported_name_has_a_parser() -> None:
    for name in SUPPORTED_LOCKFILES:
        if "*" not in name:
            parser_for(name)


def test_parse_lockfile_reports_the_base_name_in_errors() -> None:
    with pytest.raises(MalformedLockfile) as raised:
        parse_lockfile("web/app/package-lock.json", "{")
    assert raised.value.filename == "package-lock.json"
    assert raised.value.location == "line 1, column 2"


def test_purls_follow_the_spec_for_each_ecosystem() -> None:
    assert npm_purl("@babel/core", "7.23.0") == "pkg:npm/%40babel/core@7.23.0"
    assert npm_purl("lodash", "4.17.21") == "pkg:npm/lodash@4.17.21"
    assert pypi_purl("Typing_Extensions", "4.8.0") == "pkg:pypi/typing-extensions@4.8.0"
    assert pypi_purl("torch", "2.1.0+cpu") == "pkg:pypi/torch@2.1.0%2Bcpu"
    assert golang_purl("github.com/BurntSushi/toml", "v1.3.2") == "pkg:golang/github.com/burntsushi/toml@v1.3.2"
    assert gem_purl("nokogiri", "1.15.4") == "pkg:gem/nokogiri@1.15.4"
    assert composer_purl("Symfony/Console", "6.3.4") == "pkg:composer/symfony/console@6.3.4"


def test_an_unexpected_parser_error_still_surfaces_as_malformed() -> None:
    with pytest.raises(MalformedLockfile) as raised, translate_errors("x.lock"):
        raise KeyError("packages")
    assert raised.value.filename == "x.lock"
    assert raised.value.location is None
    assert "KeyError" in raised.value.reason


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("package-lock.json", '\ufeff{"packages": {"node_modules/a": {"version": "1.0.0"}}}'),
        ("requirements.txt", "\ufeffa==1.0.0\r\n"),
        ("pnpm-lock.yaml", "\ufefflockfileVersion: '9.0'\npackages:\n  a@1.0.0: {}\n"),
        (
            "Cargo.lock",
            '\ufeff[[package]]\nname = "a"\nversion = "1.0.0"\nsource = "sparse+https://index.crates.io/"\n',
        ),
    ],
)
def test_a_byte_order_mark_is_ignored(filename: str, content: str) -> None:
    [package] = parse_lockfile(filename, content).packages
    assert (package.name, package.version) == ("a", "1.0.0")
