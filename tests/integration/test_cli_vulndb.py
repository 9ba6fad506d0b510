"""`secapi vulndb import` on PostgreSQL: zips, directories, rejections, and the version step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from secapi.adapters.osv.reader import SAMPLE_DIR
from secapi.config import Settings

SECAPI = str(Path(sys.executable).parent / "secapi")


def _import(settings: Settings, *paths: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SECAPI_DATABASE_URL": settings.database_url, "SECAPI_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [SECAPI, "vulndb", "import", *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_reports_added_updated_unchanged_and_rejected(settings: Settings, tmp_path: Path) -> None:
    dump = tmp_path / "all.zip"
    with zipfile.ZipFile(dump, "w") as archive:
        archive.writestr(
            "PYSEC-X-1.json",
            json.dumps({"id": "PYSEC-X-1", "modified": "2024-01-01T00:00:00Z", "affected": []}),
        )
        archive.writestr("PYSEC-X-2.json", json.dumps({"id": "PYSEC-X-2", "modified": 20240101}))
        archive.writestr("PYSEC-X-3.json", "{not json")

    first = _import(settings, SAMPLE_DIR, dump)
    assert first.returncode == 0, first.stderr
    assert "added 51, updated 0, unchanged 0" in first.stdout
    assert "rejected 2" in first.stdout
    assert "rejected PYSEC-X-2 (all.zip:PYSEC-X-2.json): not an OSV record: Expected `str`, got `int`" in first.stdout
    assert "rejected <no id> (all.zip:PYSEC-X-3.json): not valid JSON" in first.stdout
    assert "vulnerability database version 1" in first.stdout

    again = _import(settings, dump)
    assert "added 0, updated 0, unchanged 1" in again.stdout
    assert "vulnerability database version 1" in again.stdout  # nothing changed, no new version

    newer = tmp_path / "PYSEC-X-1.json"
    newer.write_text(json.dumps({"id": "PYSEC-X-1", "modified": "2024-05-01T00:00:00Z", "summary": "updated"}))
    third = _import(settings, newer)
    assert "added 0, updated 1, unchanged 0" in third.stdout
    assert "vulnerability database version 2" in third.stdout


def test_missing_path_is_a_clean_error(settings: Settings, tmp_path: Path) -> None:
    done = _import(settings, tmp_path / "nope.zip")
    assert done.returncode == 1
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
