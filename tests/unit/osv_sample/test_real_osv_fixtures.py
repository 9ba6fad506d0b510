"""The real advisory records under tests/fixtures/osv/ parse, and carry their licence notices.

The records are copied from public advisory databases (see the README and
each directory's NOTICE.md); behaviour tests elsewhere use them as evidence.
This only guards the fixtures themselves: each one is an OSV record our
parser accepts, named after its id, and each source directory says where its
records come from and under which licence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.domain.osv_records import parse_osv_record

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "osv"
SOURCES = sorted(path for path in FIXTURES.iterdir() if path.is_dir())
RECORDS = sorted(FIXTURES.glob("*/*.json"))


def test_every_source_directory_holds_records() -> None:
    assert {path.name for path in SOURCES} == {"almalinux", "ghsa", "govulndb", "pypa", "rustsec"}
    assert all(any(source.glob("*.json")) for source in SOURCES)


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_source_directory_has_a_licence_notice(source: Path) -> None:
    notice = (source / "NOTICE.md").read_text(encoding="utf-8")
    assert "Licence:" in notice
    assert "commit" in notice
    assert all(record.name in notice for record in source.glob("*.json"))


@pytest.mark.parametrize("path", RECORDS, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_real_record_parses_under_its_own_id(path: Path) -> None:
    advisory = parse_osv_record(path.read_bytes())
    assert advisory.id == path.stem
    assert advisory.affected


def test_readme_lists_every_record() -> None:
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    missing = [f"{path.parent.name}/{path.name}" for path in RECORDS if f"{path.parent.name}/{path.name}" not in readme]
    assert not missing
