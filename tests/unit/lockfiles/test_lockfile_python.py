"""Python lockfiles: requirements files, poetry.lock, uv.lock and Pipfile.lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile

FIXTURES = Path(__file__).parent / "fixtures"


def _parse(case: str, name: str) -> ParsedLockfile:
    return parse_lockfile(name, (FIXTURES / case / name).read_text())


def test_requirements_keeps_only_exact_pins_with_names_as_written() -> None:
    parsed = _parse("requirements", "requirements.txt")
    assert parsed.ecosystem == "PyPI"
    assert [(p.name, p.version, p.purl, p.location) for p in parsed.packages] == [
        ("Django", "4.2.7", "pkg:pypi/django@4.2.7", "line 19"),
        ("certifi", "2023.7.22", "pkg:pypi/certifi@2023.7.22", "line 12"),
        ("charset-normalizer", "3.3.2", "pkg:pypi/charset-normalizer@3.3.2", "line 16"),
        ("requests", "2.31.0", "pkg:pypi/requests@2.31.0", "line 20"),
        ("typing_extensions", "4.8.0", "pkg:pypi/typing-extensions@4.8.0", "line 22"),
        ("zope.interface", "6.1", "pkg:pypi/zope-interface@6.1", "line 23"),
    ]


def test_requirements_reports_includes_urls_and_unpinned_lines_never_guessing() -> None:
    parsed = _parse("requirements", "requirements.txt")
    assert [(e.name, e.location) for e in parsed.unscannable] == [
        ("requirements-base.txt", "line 9"),
        ("constraints.txt", "line 10"),
        (".", "line 24"),
        ("shop-utils", "line 25"),
        ("payments", "line 26"),
        ("https://files.acme.example/wheels/internal_tool-0.3.0-py3-none-any.whl", "line 27"),
        ("mylib", "line 28"),
        ("./vendor/localpkg", "line 29"),
        ("flask", "line 30"),
        ("gunicorn", "line 31"),
        ("numpy", "line 32"),
    ]
    flask = parsed.unscannable[8]
    assert ">=2.0" in flask.reason


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("--requirement=base.txt", ("base.txt", "includes another requirements file")),
        ("-rbase.txt", ("base.txt", "includes another requirements file")),
        ("-e git+https://user:token@git.acme.example/lib.git", ("https://***@git.acme.example/lib.git", "VCS")),
        ("lib @ git+https://github.com/acme/lib.git@v1", ("lib", "URL")),
        ("pkg==${PKG_VERSION}", ("pkg==${PKG_VERSION}", "environment variable")),
        ("pkg>=1,<2", ("pkg", "not pinned")),
        ("pkg==1.0,==2.0", ("pkg", "not pinned")),
    ],
)
def test_requirements_unscannable_lines(line: str, expected: tuple[str, str]) -> None:
    [entry] = parse_lockfile("requirements.txt", line).unscannable
    name, reason = expected
    assert entry.name.endswith(name)
    assert reason in entry.reason
    assert "token" not in entry.name


def test_requirements_pin_with_other_constraints_and_comment_after_continuation() -> None:
    content = "pkg>=1.0,==1.4.2 \\\n  # a comment ends the continuation\nother==2.0\n"
    parsed = parse_lockfile("requirements-dev.txt", content)
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("other", "2.0", "line 3"),
        ("pkg", "1.4.2", "line 1"),
    ]


def test_requirements_options_only_file_is_empty() -> None:
    parsed = parse_lockfile("requirements.txt", "--index-url https://pypi.org/simple\n--pre\n\n# nothing\n")
    assert parsed.packages == ()
    assert parsed.unscannable == ()


def test_poetry_lock_includes_private_index_packages_and_reports_git_and_directory() -> None:
    parsed = _parse("poetry", "poetry.lock")
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("Typing_Extensions", "4.8.0", "package[5]"),
        ("certifi", "2023.7.22", "package[0]"),
        ("internal-sdk", "2.3.0", "package[1]"),
        ("requests", "2.31.0", "package[3]"),
    ]
    assert parsed.packages[0].purl == "pkg:pypi/typing-extensions@4.8.0"
    assert [(e.name, e.location) for e in parsed.unscannable] == [
        ("payments", "package[2]"),
        ("shop-utils", "package[4]"),
    ]


def test_uv_lock_reports_editable_virtual_directory_and_git_sources() -> None:
    parsed = _parse("uv", "uv.lock")
    assert [(p.name, p.version) for p in parsed.packages] == [
        ("anyio", "4.6.2.post1"),
        ("idna", "3.10"),
        ("sniffio", "1.3.1"),
    ]
    assert [(e.name, e.location) for e in parsed.unscannable] == [
        ("localpkg", "package[2]"),
        ("payments", "package[3]"),
        ("shop", "package[4]"),
        ("shop-worker", "package[5]"),
    ]
    localpkg, payments, shop, worker = parsed.unscannable
    assert "directory source vendor/localpkg" in localpkg.reason
    assert "git" in payments.reason
    assert "the project itself or a local path" in shop.reason
    assert "virtual source packages/worker" in worker.reason


def test_uv_lock_package_without_a_source_is_scanned() -> None:
    [package] = parse_lockfile("uv.lock", '[[package]]\nname = "a"\nversion = "1.0"\n').packages
    assert (package.name, package.version, package.location) == ("a", "1.0", "package[0]")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ('{ editable = "." }', "editable source .: the project itself or a local path"),
        ('{ virtual = "." }', "virtual source ."),
        ('{ path = "wheels/a-1.0-py3-none-any.whl" }', "path source wheels/a-1.0-py3-none-any.whl"),
        ('{ directory = "../a" }', "directory source ../a"),
        ('{ git = "https://github.com/acme/a?rev=v1#0123abcd" }', "git source"),
        ('{ url = "https://example.org/a-1.0.tar.gz" }', "url source"),
    ],
)
def test_uv_lock_non_registry_sources_are_unscannable(source: str, reason: str) -> None:
    parsed = parse_lockfile("uv.lock", f'[[package]]\nname = "a"\nversion = "1.0"\nsource = {source}\n')
    [entry] = parsed.unscannable
    assert (entry.name, entry.location) == ("a", "package[0]")
    assert reason in entry.reason
    assert parsed.packages == ()


def test_pipfile_lock_reads_default_and_develop() -> None:
    parsed = _parse("pipenv", "Pipfile.lock")
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("certifi", "2023.7.22", 'default["certifi"]'),
        ("pytest", "7.4.3", 'develop["pytest"]'),
        ("requests", "2.31.0", 'default["requests"]'),
    ]
    assert [(e.name, e.location) for e in parsed.unscannable] == [
        ("payments", 'default["payments"]'),
        ("shop", 'default["shop"]'),
    ]
    assert "editable install of local code" in parsed.unscannable[1].reason


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("poetry.lock", '[[package]]\nname = "a"\n', ("a", "package[0]", "missing required field 'version'")),
        ("poetry.lock", '[[package]]\nname = "a"\nversion = 1\n', ("a", "package[0]", "package[0].version")),
        ("poetry.lock", '[[package]]\nversion = "1"\n', ("(an entry without a name)", "package[0]", "'name'")),
        ("uv.lock", '[[package]]\nname = "a"\nsource = { registry = "x" }\n', ("a", "package[0]", "no version")),
        ("Pipfile.lock", '{"default": {"a": {"version": ["==1"]}}}', ("a", 'default["a"]', "expected a string")),
        ("Pipfile.lock", '{"default": {"a": 3}}', ("a", 'default["a"]', "expected an object")),
    ],
)
def test_one_bad_entry_is_unscannable_and_the_rest_is_read(name: str, content: str, expected: tuple[str, ...]) -> None:
    parsed = parse_lockfile(name, content)
    [entry] = parsed.unscannable
    assert (entry.name, entry.location) == expected[:2]
    assert expected[2] in entry.reason


@pytest.mark.parametrize(
    ("name", "content", "location"),
    [
        ("poetry.lock", "package = 3\n", "package"),
        ("poetry.lock", '[[package]]\nname = "a\n', "line 2, column 10"),
        ("uv.lock", "package = [1]\n", "package[0]"),
        ("Pipfile.lock", '{"default": []}', "default"),
        ("Pipfile.lock", "[]", "document"),
    ],
)
def test_malformed_python_locks_name_the_path_or_line(name: str, content: str, location: str) -> None:
    with pytest.raises(MalformedLockfile) as raised:
        parse_lockfile(name, content)
    assert raised.value.location == location
