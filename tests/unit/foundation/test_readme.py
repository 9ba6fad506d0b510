"""The README (and docs/) tell the truth: commands exist, variables are settings, settings are documented."""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

import click
import pytest

from secapi.config import Settings
from secapi.entrypoints.cli import main
from secapi.entrypoints.client import CLIENT_VARIABLES

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Variables that are not Settings fields: the test fixtures' own, and the `secapi scan` client's.
NOT_SETTINGS = {"SECAPI_TEST_DATABASE_URL", "SECAPI_TEST_REDIS_URL", "SECAPI_TEST_REDIS_CLUSTER_URL", *CLIENT_VARIABLES}


def _block_lines(text: str) -> list[str]:
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _code_lines(text: str) -> list[str]:
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return _block_lines(text) + inline


def _setting_names() -> set[str]:
    return {f"SECAPI_{field.name.upper()}" for field in dataclasses.fields(Settings)}


def _resolve(words: list[str]) -> click.Command | None:
    command: click.Command = main
    for word in words:
        if not isinstance(command, click.Group) or word.startswith("-") or word.isupper() or word.endswith("..."):
            break
        sub = command.commands.get(word)
        if sub is None:
            return None
        command = sub
    return command


def test_every_secapi_command_the_readme_shows_exists() -> None:
    shown = []
    for line in _code_lines(README):
        for match in re.finditer(r"(?:^|[\s;&(])(?:\.venv/bin/)?secapi((?: [a-z][a-z-]*)+)", line):
            shown.append(match.group(1).split())
    assert len(shown) > 10
    missing = [" ".join(words) for words in shown if _resolve(words) is None]
    assert missing == []


def test_every_make_target_the_readme_shows_exists() -> None:
    targets = set(re.findall(r"(?m)^([a-z][a-z-]*):", (ROOT / "Makefile").read_text()))
    shown = {m for line in _code_lines(README) for m in re.findall(r"\bmake ([a-z][a-z-]*)", line)}
    assert shown
    assert shown - targets == set()


def test_no_readme_command_calls_a_bare_uv() -> None:
    # uv may live outside PATH (scripts/ensure-uv.sh installs it in ~/.local/bin): commands must work as written.
    bare = [line for line in _block_lines(README) if re.match(r"^(uv|uvx) ", line)]
    assert bare == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_secapi_variable_mentioned_is_a_setting(doc: Path) -> None:
    mentioned = set(re.findall(r"\bSECAPI_[A-Z0-9_]+[A-Z0-9]", doc.read_text()))
    unknown = mentioned - _setting_names() - NOT_SETTINGS - {"SECAPI_X"}
    assert unknown == set()


def test_every_setting_is_documented() -> None:
    documented = README + (ROOT / "docs" / "configuration.md").read_text()
    undocumented = sorted(name for name in _setting_names() if f"`{name}`" not in documented)
    assert undocumented == [], "regenerate docs/configuration.md: .venv/bin/python scripts/settings_reference.py"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_point_inside_the_repository_at_files_that_exist(doc: Path) -> None:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(target)
    assert broken == []


def test_the_readme_examples_name_the_advisories_the_bundled_sample_holds() -> None:
    sample = ROOT / "src" / "secapi" / "adapters" / "osv" / "sample"
    named = set(re.findall(r"\b(?:PYSEC-\d{4}-\d+|GHSA(?:-[a-z0-9]{4}){3})\b", README))
    assert named
    held = {path.stem for path in sample.rglob("*.json")}
    assert named - held == set()


def test_shell_lines_in_the_readme_parse() -> None:
    for line in _code_lines(README):
        if line.startswith((".venv/bin/", "make ", "export ")):
            shlex.split(line.split("#", 1)[0])


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_path_the_docs_name_leaves_the_repository(doc: Path) -> None:
    # Also paths in backticks: `../shared/DESIGN.md` named a file only one machine had.
    named = re.findall(r"[`(](\.\./[^`)\s]+)", doc.read_text())
    outside = [path for path in named if not (doc.parent / path).resolve().is_relative_to(ROOT)]
    assert outside == []
