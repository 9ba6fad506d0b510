"""Cargo.lock, Gemfile.lock and composer.lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile

FIXTURES = Path(__file__).parent / "fixtures"


def _parse(case: str, name: str) -> ParsedLockfile:
    return parse_lockfile(name, (FIXTURES / case / name).read_text())


def test_cargo_lock_reads_crates_io_and_reports_workspace_members() -> None:
    parsed = _parse("cargo", "Cargo.lock")
    assert parsed.ecosystem == "crates.io"
    assert [(p.name, p.version, p.purl) for p in parsed.packages] == [
        ("autocfg", "1.1.0", "pkg:cargo/autocfg@1.1.0"),
        ("proc-macro2", "1.0.69", "pkg:cargo/proc-macro2@1.0.69"),
        ("serde", "1.0.190", "pkg:cargo/serde@1.0.190"),
        ("serde_derive", "1.0.190", "pkg:cargo/serde_derive@1.0.190"),
        ("syn", "1.0.109", "pkg:cargo/syn@1.0.109"),
        ("syn", "2.0.38", "pkg:cargo/syn@2.0.38"),
        ("tokio", "1.33.0", "pkg:cargo/tokio@1.33.0"),
    ]
    git, other_registry, cli, core = parsed.unscannable
    assert (git.name, git.location) == ("acme-proto", "package[0]")
    assert "git" in git.reason
    assert (other_registry.name, other_registry.location) == ("internal-metrics", "package[2]")
    assert [(cli.name, cli.location), (core.name, core.location)] == [
        ("shop-cli", "package[6]"),
        ("shop-core", "package[7]"),
    ]
    assert "workspace member or path dependency" in core.reason


def test_gemfile_lock_reads_gem_specs_and_strips_platforms() -> None:
    parsed = _parse("bundler", "Gemfile.lock")
    assert parsed.ecosystem == "RubyGems"
    assert [(p.name, p.version) for p in parsed.packages] == [
        ("actionpack", "7.1.1"),
        ("actionview", "7.1.1"),
        ("activesupport", "7.1.1"),
        ("concurrent-ruby", "1.2.2"),
        ("ffi", "1.16.3"),
        ("fugit", "1.9.0"),
        ("nokogiri", "1.15.4"),
        ("racc", "1.7.3"),
        ("rack", "3.0.8"),
        ("rails", "7.1.1"),
        ("sidekiq", "7.2.0"),
    ]
    nokogiri = next(p for p in parsed.packages if p.name == "nokogiri")
    assert (nokogiri.location, nokogiri.purl) == ("line 37", "pkg:gem/nokogiri@1.15.4")


def test_gemfile_lock_git_and_local_path_gems_and_the_app_itself_are_unscannable() -> None:
    parsed = _parse("bundler", "Gemfile.lock")
    assert [(e.name, e.location) for e in parsed.unscannable] == [
        ("sidekiq-cron", "line 6"),
        ("shop", "line 13"),
        ("billing", "line 19"),
    ]
    git, app, billing = parsed.unscannable
    assert "5ab0c3e5f0b8c0a6a8cc9a1c2e0b1c6d1f2e3a4b" in git.reason
    assert "the gem this lockfile belongs to" in app.reason
    assert "local path engines/billing" in billing.reason


def test_composer_lock_strips_the_v_prefix_and_reads_dev_packages() -> None:
    parsed = _parse("composer", "composer.lock")
    assert parsed.ecosystem == "Packagist"
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("guzzlehttp/guzzle", "7.8.0", "packages[2]"),
        ("monolog/monolog", "3.5.0", "packages[3]"),
        ("phpunit/phpunit", "10.4.2", "packages-dev[0]"),
        ("symfony/http-foundation", "6.3.7", "packages[4]"),
    ]
    assert parsed.packages[3].purl == "pkg:composer/symfony/http-foundation@6.3.7"
    assert [(e.name, e.location) for e in parsed.unscannable] == [
        ("acme/legacy-bridge", "packages[0]"),
        ("acme/shared", "packages[1]"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "location"),
    [
        ("Cargo.lock", '[[package]]\nname = "a"\nversion = "1"\nversion = "2"\n', "line 4, column 14"),
        ("composer.lock", '{"packages": {"name": "a/b"}}', "packages"),
        ("composer.lock", "[]", "document"),
    ],
)
def test_malformed_locks_name_the_path_or_line(name: str, content: str, location: str) -> None:
    with pytest.raises(MalformedLockfile) as raised:
        parse_lockfile(name, content)
    assert raised.value.location == location


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "Cargo.lock",
            '[[package]]\nname = "a"\nversion = "1"\nsource = 7\n',
            ("a", "package[0]", "package[0].source"),
        ),
        (
            "Gemfile.lock",
            "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack 3.0.8\n",
            ("rack", "line 4", "spec"),
        ),
        ("composer.lock", '{"packages": [{"name": "a/b"}]}', ("a/b", "packages[0]", "'version'")),
        (
            "composer.lock",
            '{"packages-dev": [{"name": "a/b", "version": null}]}',
            ("a/b", "packages-dev[0]", "packages-dev[0].version: expected a string"),
        ),
    ],
)
def test_one_bad_entry_is_unscannable_not_a_void_file(name: str, content: str, expected: tuple[str, str, str]) -> None:
    [entry] = parse_lockfile(name, content).unscannable
    assert (entry.name, entry.location) == expected[:2]
    assert expected[2] in entry.reason
