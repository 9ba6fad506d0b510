"""`secapi --help` and commands that need no database start fast: no web framework, ORM or queue imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("litestar", "sqlalchemy", "saq", "granian", "prometheus_client", "redis", "dishka", "alembic", "httpx")


@pytest.mark.parametrize("args", [["--help"], ["users", "create", "--help"], ["vulndb", "import", "--help"]])
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "secapi.entrypoints.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage:" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))


def test_importing_the_cli_module_leaves_the_heavy_modules_unloaded() -> None:
    probe = "import sys, secapi.entrypoints.cli as cli; print(sorted(m for m in sys.modules if m.split('.')[0] in %r))"
    done = subprocess.run(
        [sys.executable, "-c", probe % (HEAVY,)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
