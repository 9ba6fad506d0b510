"""The layering contract is enforced: it passes on the tree, and breaks when the domain imports a framework."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=src.parent,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_the_contract() -> None:
    result = _lint(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("framework", ["litestar", "sqlalchemy", "redis", "prometheus_client"])
def test_a_domain_module_importing_a_framework_breaks_the_build(tmp_path: Path, framework: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "secapi", src / "secapi", ignore=shutil.ignore_patterns("__pycache__"))
    (src / "secapi" / "domain" / "leaky.py").write_text(f"import {framework}\n")
    result = _lint(src)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert f"secapi.domain.leaky -> {framework}" in result.stdout
