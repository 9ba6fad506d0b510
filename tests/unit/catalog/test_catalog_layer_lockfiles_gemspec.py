"""Installed gems' specifications read without running Ruby, and hostile lockfiles in layers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secapi.adapters.catalog import catalog_layer
from secapi.adapters.catalog.lockfiles import app_file_cap, read_app_file
from secapi.adapters.catalog.rules import is_candidate
from secapi.adapters.lockfiles.gemspec import GemspecParser
from secapi.domain.inventory import LayerRejected, merge_layers
from secapi.domain.lockfiles import MalformedLockfile
from secapi.domain.packages import Package, UnscannableEntry

from conftest import LayerBuilder

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
FIXTURES = Path(__file__).parent / "fixtures" / "app-lockfiles"
REAL_GEMSPECS = sorted((FIXTURES / "gems").glob("*.gemspec"))
REXML = (FIXTURES / "gems" / "rexml-3.2.5.gemspec").read_text(encoding="utf-8")
SPECS = "usr/local/lib/ruby/gems/3.1.0/specifications"


def parse(filename: str, content: str) -> tuple[tuple[Package, ...], tuple[UnscannableEntry, ...]]:
    parsed = GemspecParser(filename).parse(content)
    return parsed.packages, parsed.unscannable


@pytest.mark.parametrize("path", REAL_GEMSPECS, ids=lambda p: p.name)
def test_every_real_installed_gemspec_names_its_gem(path: Path) -> None:
    packages, unscannable = parse(path.name, path.read_text(encoding="utf-8"))
    [package] = packages
    assert not unscannable
    assert f"{package.name}-{package.version}.gemspec" == path.name
    assert package.ecosystem == "RubyGems"
    assert package.purl == f"pkg:gem/{package.name}@{package.version}"


def test_a_platform_gem_is_named_by_its_file_with_the_platform_suffix() -> None:
    # RubyGems writes `s.platform` for a platform gem, and names the file `<name>-<version>-<platform>`.
    content = REXML.replace('s.version = "3.2.5"', 's.version = "3.2.5"\n  s.platform = "x86_64-linux".freeze')
    [package], _ = parse("rexml-3.2.5-x86_64-linux.gemspec", content)
    assert (package.name, package.version) == ("rexml", "3.2.5")
    _, [entry] = parse("rexml-3.2.5.gemspec", content)
    assert "file name says 'rexml-3.2.5'" in entry.reason


def test_a_specification_that_disagrees_with_its_file_name_is_unscannable() -> None:
    packages, [entry] = parse("rexml-3.3.9.gemspec", REXML)
    assert not packages
    assert entry.name == "rexml"
    assert entry.reason == "the file name says 'rexml-3.3.9' but the specification says 'rexml-3.2.5'"


@pytest.mark.parametrize(
    "version_line",
    [
        "s.version = Rexml::VERSION",
        's.version = "#{major}.2.5"',
        "s.version = ENV.fetch('V')",
        's.version = "3.2.5" + suffix',
    ],
)
def test_a_computed_version_is_unscannable_never_evaluated(version_line: str) -> None:
    packages, [entry] = parse("rexml-3.2.5.gemspec", REXML.replace('s.version = "3.2.5"', version_line))
    assert not packages
    assert entry.reason.startswith("the version is not a string literal")


def test_string_escapes_and_single_quotes_are_read_as_ruby_reads_them() -> None:
    content = "Gem::Specification.new do |spec|\n  spec.name = 'a\\'b'\n  spec.version = \"1.0\\#x\"\nend\n"
    [package], _ = parse("a'b-1.0#x.gemspec", content)
    assert (package.name, package.version) == ("a'b", "1.0#x")


def test_only_the_specification_blocks_own_variable_counts() -> None:
    content = 'other.name = "evil"\nGem::Specification.new do |s|\n  t.name = "evil"\n  s.name = "ok".freeze\n'
    content += '  s.name = "second"\n  s.version = "1.0"\n  s.name == "x"\nend\n'
    [package], _ = parse("ok-1.0.gemspec", content)
    assert package.name == "ok"


@pytest.mark.parametrize(
    "content",
    [
        "",
        "puts 'hello'\n",
        's.name = "x"\ns.version = "1"\n',
        'Gem::Specification.new do |s|\n  s.version = "1"\nend\n',
    ],
)
def test_a_file_without_a_literal_name_in_a_specification_block_is_malformed(content: str) -> None:
    with pytest.raises(MalformedLockfile):
        GemspecParser("x-1.gemspec").parse(content)


_GEMSPEC_WORDS = st.sampled_from(
    [
        "Gem::Specification.new do |s|",
        "s.name = ",
        "s.version = ",
        "s.platform = ",
        '"rexml"',
        '"3.2.5"',
        ".freeze",
        "#{",
        "\\",
        '"',
        "'",
        "=",
        "end",
        "\n",
        "\x00",
        "\u2028",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_GEMSPEC_WORDS | st.text(max_size=8), max_size=40).map("".join))
def test_random_gemspec_text_is_read_or_refused_never_crashes(content: str) -> None:
    try:
        parsed = GemspecParser("rexml-3.2.5.gemspec").parse(content)
    except MalformedLockfile:
        return
    assert len(parsed.packages) + len(parsed.unscannable) <= 1


_NAMES = st.sampled_from(
    [
        "app/package-lock.json",
        "app/node_modules/.package-lock.json",
        "app/vendor/composer/installed.json",
        "app/Gemfile.lock",
        "app/yarn.lock",
        "app/pnpm-lock.yaml",
        "app/Cargo.lock",
        "app/poetry.lock",
        "app/App.deps.json",
        f"{SPECS}/rexml-3.2.5.gemspec",
    ]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_NAMES, st.binary(max_size=200) | _JSON.map(lambda d: json.dumps(d).encode()))
def test_hostile_lockfile_bytes_are_read_or_refused_with_a_value_error(path: str, data: bytes) -> None:
    try:
        read = read_app_file(path, data)
    except ValueError as exc:
        refusal = str(exc)
        assert refusal  # a reason the skipped file is listed with
        return
    assert all(r.name and r.ecosystem for r in read.records)


def test_deeply_nested_lockfile_in_a_layer_is_skipped_not_a_crash(build_layer: LayerBuilder) -> None:
    nested = b'{"packages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    members = [("app/vendor/composer/installed.json", nested), ("app/package-lock.json", b"[" * 200_000)]
    try:
        inventory = catalog_layer(build_layer(members), GZIP, "sha256:aa")
    except LayerRejected:  # refusing the layer is as acceptable as skipping the file
        return
    image = merge_layers([inventory])
    assert not image.packages
    assert {i.kind for i in image.unscanned} == {"skipped-file"}


_PATH_PARTS = st.sampled_from(
    [
        *("node_modules", ".package-lock.json", "vendor", "composer", "installed.json", "specifications"),
        *("default", "test", "gems", "x.gemspec", ".deps.json", "a.deps.json", "package-lock.json"),
        *("pkg", "mod", "", ".", ".."),
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PATH_PARTS | st.text(max_size=5), max_size=8).map("/".join))
def test_any_member_path_gets_a_cap_or_none_and_never_raises(path: str) -> None:
    cap = app_file_cap(path)
    assert cap is None or 0 <= cap <= 16 * 1024 * 1024
    if cap is not None:
        assert is_candidate(path)
