"""docs/ci.md's workflow works as written: valid YAML, a `secapi scan` step whose options the command accepts,
and an upload of the very file that step writes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml

from secapi.entrypoints.cli import main

CI_DOC = Path(__file__).resolve().parents[3] / "docs" / "ci.md"


def _workflow() -> dict[Any, Any]:
    (block,) = re.findall(r"```yaml\n(.*?)```", CI_DOC.read_text(), flags=re.S)
    workflow = yaml.safe_load(block)
    assert isinstance(workflow, dict)
    return workflow


def _parse_scan(line: str) -> dict[str, Any]:
    words = shlex.split(line.split("#", 1)[0])
    assert words[:2] == ["secapi", "scan"]
    command = main.commands["scan"]
    with command.make_context("scan", words[2:]) as context:
        return dict(context.params)


def test_the_workflow_scans_and_uploads_the_sarif_file_it_wrote() -> None:
    workflow = _workflow()
    assert workflow["permissions"]["security-events"] == "write"
    steps = workflow["jobs"]["scan"]["steps"]
    (scan,) = [step for step in steps if str(step.get("run", "")).startswith("secapi scan")]
    assert set(scan["env"]) == {"SECAPI_URL", "SECAPI_API_KEY"}
    params = _parse_scan(scan["run"])
    assert params["fail_on"] == "high"
    assert params["output_format"] == "sarif"
    (upload,) = [step for step in steps if str(step.get("uses", "")).startswith("github/codeql-action/upload-sarif@")]
    assert Path(upload["with"]["sarif_file"]) == params["output"]
    assert "!cancelled()" in upload["if"]  # runs after a failing scan step too


def test_every_secapi_scan_line_in_the_doc_parses() -> None:
    lines = [m.group(1) for m in re.finditer(r"(?m)(?:^|: |`)(secapi scan [^`\n]*)", CI_DOC.read_text())]
    assert len(lines) >= 3
    for line in lines:
        try:
            _parse_scan(line)
        except click.UsageError as exc:
            raise AssertionError(f"{line!r}: {exc}") from exc
