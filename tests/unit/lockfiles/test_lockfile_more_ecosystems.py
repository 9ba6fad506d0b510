"""pubspec.lock (Dart), and further ecosystems' lockfiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile

FIXTURES = Path(__file__).parent / "fixtures"


def _parse(case: str, name: str) -> ParsedLockfile:
    return parse_lockfile(name, (FIXTURES / case / name).read_text())


def test_pubspec_lock_reads_pub_dev_packages_with_purls() -> None:
    parsed = _parse("pub", "pubspec.lock")
    assert parsed.ecosystem == "Pub"
    assert [(p.name, p.version, p.purl, p.location) for p in parsed.packages] == [
        ("async", "2.11.0", "pkg:pub/async@2.11.0", "line 4"),
        ("collection", "1.18.0", "pkg:pub/collection@1.18.0", "line 12"),
        ("http", "1.1.0", "pkg:pub/http@1.1.0", "line 25"),
    ]


def test_pubspec_lock_reports_sdk_path_git_and_private_server_packages() -> None:
    parsed = _parse("pub", "pubspec.lock")
    by_name = {entry.name: entry for entry in parsed.unscannable}
    assert list(by_name) == ["flutter", "internal_auth", "shared_widgets", "yaml_edit"]
    assert "flutter SDK" in by_name["flutter"].reason
    assert "another package server (https://***@pub.acme.example)" in by_name["internal_auth"].reason
    assert "s3cret" not in by_name["internal_auth"].reason
    assert "../shared_widgets" in by_name["shared_widgets"].reason
    assert "git (https://github.com/dart-lang/yaml_edit.git)" in by_name["yaml_edit"].reason
    assert by_name["yaml_edit"].location == "line 48"


def test_pubspec_lock_entry_without_a_version_does_not_void_the_file() -> None:
    parsed = _parse("edge-cases/pub", "pubspec.lock")
    assert len(parsed.packages) == 3
    broken = {entry.name: entry.reason for entry in parsed.unscannable}
    assert "missing required field 'version'" in broken["no_version"]
    assert "expected an object" in broken["just_a_string"]
    assert "unknown source 'mirror'" in broken["odd_source"]


def test_pubspec_lock_that_is_not_yaml_is_malformed() -> None:
    with pytest.raises(MalformedLockfile) as caught:
        parse_lockfile("pubspec.lock", "packages:\n  a: [\n")
    assert caught.value.filename == "pubspec.lock"
