"""Whatever a client uploads, parsing ends in a result or `MalformedLockfile`, never another error."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secapi.adapters.lockfiles import SUPPORTED_LOCKFILES, parse_lockfile
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile

FILENAMES = [name for name in SUPPORTED_LOCKFILES if "*" not in name] + ["requirements-dev.txt", "App.deps.json"]
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Words the parsers look for, so generated documents reach past the first type check.
KEYS = [
    "packages", "dependencies", "default", "develop", "packages-dev", "package", "version", "name", "resolved",
    "pins", "object", "identity", "location", "kind", "state", "repositoryURL",
    "Packages", "Package", "Version", "Source", "Repository", "Repositories", "R", "Name", "URL",
    "requires", "build_requires", "graph_lock", "nodes", "ref",
    "link", "resolution", "source", "lockfileVersion", "__metadata", "dist", "type", "url", "editable", "virtual",
    "registry", "git", "path", "tarball", "", "node_modules/a", "node_modules/@s/b", "/a/1.0.0", "/a@1.0.0(b@2.0.0)",
    "a@1.0.0", "a@npm:^1", "a@workspace:.", "a@patch:a@npm%3A1.0.0#x", "description", "sdks",
]  # fmt: skip
WORDS = [
    "1.0.0", "==1.2", "v1.2.3", "npm:b@1.0.0", "git+https://x/y.git#abc", "file:../x", "link:../x", "dev-main",
    "a@npm:1.0.0", "5.4", "6.0", "9.0", "https://codeload.github.com/a/b", "directory", "path", "git",
    "registry+https://github.com/rust-lang/crates.io-index", "Project", "Direct", "Transitive", "net8.0",
    "project", "runtimepack", "reference", "A/1.0.0",
    "hosted", "sdk", "https://pub.dev", ":hex", ":git", "hexpm",
    "remoteSourceControl", "localSourceControl", "https://github.com/apple/swift-nio.git",
    "CRAN", "Bioconductor", "GitHub", "RSPM", "a@workspace:b", "a@github:u/r#c", "a@1.0.0",
    "any.a ==1.0", "installed", "a-1.0@sha256:ab,1", "lts-21.13", "zlib/1.2.13#ab%1.5", "a/1@u/c",
]  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.sampled_from(WORDS) | st.text()
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(), inner, max_size=5),
    max_leaves=30,
)
# Lockfile-shaped documents: the right top-level sections holding entries of nearly the right shape.
ENTRY = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(WORDS) | JSON_VALUES, max_size=6)
ENTRIES = st.dictionaries(st.sampled_from(KEYS) | st.sampled_from(WORDS) | st.text(), ENTRY | JSON_VALUES, max_size=6)
SECTIONS = ENTRIES | st.lists(ENTRY | JSON_VALUES, max_size=4)
SHAPED = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(
        ("packages", "dependencies", "default", "develop", "packages-dev", "package", "__metadata", "pins", "object"),
        SECTIONS,
    )
    | dict.fromkeys(("Packages", "R", "requires", "build_requires", "graph_lock"), SECTIONS)
    | {"lockfileVersion": st.sampled_from(WORDS) | SCALARS, "version": st.sampled_from([1, 2, 3]) | SCALARS},
)
LINE_FRAGMENTS = [
    "", "  ", "    ", "      ", "\t", "#", "//", "\\", ":", ",", '"', "`", "(", ")", "=>", "==", "===", ">=", "@",
    "-r", "-e", "--hash=sha256:ab", "; python_version<'3'", "[extra]", "git+https://h/r.git#egg=x", "a", "b.c",
    "@s/b", "1.0.0", "v1.0.0", "require", "replace", "module", "go", "toolchain", "GEM", "GIT", "PATH", "specs:",
    "remote:", "version", '"1.0.0"', "resolved", "a@^1", "a@npm:b@^1", "(1.0.0-x86_64-linux)", "__metadata:",
    "%{", ":hex", "\"a\":", "[a: :b]", "constraints:", "any.a ==1.0,", "+flag", "- completed:", "hackage:",
    "lockfileVersion:", "packages:", "[[package]]", 'name = "a"', 'version = "1"', "{", "}", "[", "]", "\x00",
    "<packages>", "</packages>", "<package", 'id="A"', 'version="1.0"', "/>", ">", "<!DOCTYPE x>",
    "<project>", "</project>", "<dependencies>", "<dependency>", "<groupId>g</groupId>", "<version>${a}</version>",
    "empty=", "=", "g:a:1.0", "g:a", "=compileClasspath,runtimeClasspath",
]  # fmt: skip
LINES = st.lists(st.lists(st.sampled_from(LINE_FRAGMENTS), max_size=6).map(" ".join), max_size=12).map("\n".join)


def _outcome(filename: str, content: str) -> ParsedLockfile | MalformedLockfile:
    try:
        return parse_lockfile(filename, content)
    except MalformedLockfile as error:
        return error


def _check(filename: str, content: str) -> None:
    outcome = _outcome(filename, content)
    if isinstance(outcome, MalformedLockfile):
        assert outcome.filename == filename
        assert str(outcome)
        # The catch-all in `translate_errors` is a safety net; reaching it means a parser missed a check.
        assert "unexpected structure" not in outcome.reason, outcome.__cause__
        return
    keys = [(p.name, p.version) for p in outcome.packages]
    assert keys == sorted(set(keys))
    assert all(p.ecosystem == outcome.ecosystem for p in outcome.packages)


@pytest.mark.parametrize("filename", FILENAMES)
@FUZZ
@given(content=st.text())
def test_random_text(filename: str, content: str) -> None:
    _check(filename, content)


@pytest.mark.parametrize("filename", FILENAMES)
@FUZZ
@given(document=JSON_VALUES | SHAPED)
def test_random_json(filename: str, document: object) -> None:
    _check(filename, json.dumps(document))
    _check(filename, json.dumps(document, indent=2))  # block layout: also YAML-like for the YAML formats


@pytest.mark.parametrize("filename", FILENAMES)
@FUZZ
@given(content=LINES)
def test_random_lines_of_lockfile_words(filename: str, content: str) -> None:
    _check(filename, content)


@pytest.mark.parametrize("filename", ["poetry.lock", "uv.lock", "Cargo.lock"])
@FUZZ
@given(tables=st.lists(ENTRY, max_size=4))
def test_random_toml_package_tables(filename: str, tables: list[dict[str, object]]) -> None:
    def toml_value(value: object) -> str:
        if isinstance(value, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(toml_value(v) for v in value) + "]"
        if value is None:
            return '""'
        return json.dumps(value)

    content = "\n".join(
        "[[package]]\n" + "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()) for table in tables
    )
    _check(filename, content)


@pytest.mark.parametrize("filename", ["pnpm-lock.yaml", "yarn.lock", "pubspec.lock", "stack.yaml.lock"])
@FUZZ
@given(
    version=st.sampled_from(["5.4", "'6.0'", "'9.0'", "x"]),
    packages=ENTRIES,
)
def test_random_yaml_lockfile_shapes(filename: str, version: str, packages: dict[str, object]) -> None:
    body = "\n".join(f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in packages.items())
    _check(filename, f"__metadata:\n  version: 8\n\nlockfileVersion: {version}\npackages:\n{body}\n")
