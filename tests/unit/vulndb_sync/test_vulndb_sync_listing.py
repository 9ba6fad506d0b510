"""modified_id.csv parsing, ecosystem selection and the default ecosystem list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from secapi.adapters.osv.bucket import parse_modified_ids
from secapi.domain.inventory import _NO_ADVISORY_SOURCE, _OS_INDEPENDENT_ECOSYSTEMS
from secapi.domain.os_release import _BY_MAJOR
from secapi.domain.services.vulndb_sync import (
    SCANNABLE_ECOSYSTEMS,
    ModifiedId,
    SyncFailed,
    configured_ecosystems,
    select_ecosystems,
)


def test_lines_are_rfc3339_time_then_id_newest_first() -> None:
    text = "2024-08-15T10:11:12Z,PYSEC-2024-1\n\n2023-01-02T03:04:05.123456Z,GHSA-aaaa-bbbb-cccc\n"
    assert parse_modified_ids(text) == [
        ModifiedId(datetime(2024, 8, 15, 10, 11, 12, tzinfo=UTC), "PYSEC-2024-1"),
        ModifiedId(datetime(2023, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "GHSA-aaaa-bbbb-cccc"),
    ]


def test_the_top_level_form_names_the_ecosystem_directory_before_the_id() -> None:
    (entry,) = parse_modified_ids("2024-08-15T00:00:00Z,Red Hat:enterprise_linux:9/RHSA-2024:1234\n")
    assert entry.id == "RHSA-2024:1234"


def test_a_time_without_zone_is_utc() -> None:
    (entry,) = parse_modified_ids("2024-08-15T00:00:00,X-1")
    assert entry.modified.tzinfo is not None
    assert entry.modified.utcoffset() == timedelta(0)


@pytest.mark.parametrize("line", ["PYSEC-2024-1", "yesterday,PYSEC-2024-1", "2024-08-15T00:00:00Z,", ",X"])
def test_a_malformed_line_fails_the_whole_file(line: str) -> None:
    with pytest.raises(SyncFailed, match="line 2"):
        parse_modified_ids(f"2024-08-15T00:00:00Z,OK-1\n{line}\n")


def test_a_bare_name_takes_its_own_directory_when_published() -> None:
    published = ["Debian", "Debian:11", "Debian:12", "PyPI"]
    assert select_ecosystems(["Debian", "PyPI"], published) == ["Debian", "PyPI"]


def test_a_bare_name_takes_every_suffixed_directory_when_only_those_are_published() -> None:
    published = ["Alpine:v3.19", "Alpine:v3.20", "AlpineLinux", "npm"]
    assert select_ecosystems(["Alpine"], published) == ["Alpine:v3.19", "Alpine:v3.20"]


def test_a_suffixed_name_takes_exactly_that_directory_and_unpublished_names_go() -> None:
    published = ["Debian:11", "Debian:12", "Red Hat"]
    assert select_ecosystems(["Debian:12", "Hackage", "Red Hat"], published) == ["Debian:12", "Red Hat"]


def test_without_a_published_list_the_names_are_taken_as_given() -> None:
    assert select_ecosystems(["PyPI", "PyPI", "Go"], None) == ["PyPI", "Go"]


def test_an_empty_setting_means_every_scannable_ecosystem() -> None:
    assert configured_ecosystems("") == list(SCANNABLE_ECOSYSTEMS)
    assert configured_ecosystems(" PyPI , Debian:12,,PyPI ") == ["PyPI", "Debian:12"]


def test_the_default_list_covers_every_ecosystem_the_catalogers_and_os_detection_produce() -> None:
    produced = {eco for kind, eco in _OS_INDEPENDENT_ECOSYSTEMS.items() if kind not in _NO_ADVISORY_SOURCE}
    produced |= {name.partition(":")[0] for name in _BY_MAJOR.values()}
    produced |= {"Debian", "Ubuntu", "Alpine", "Photon OS", "openSUSE", "SUSE", "Wolfi", "Chainguard"}
    assert produced <= set(SCANNABLE_ECOSYSTEMS)


def test_names_that_are_not_one_path_segment_are_never_selected() -> None:
    assert select_ecosystems(["PyPI", "..", "a/b"], None) == ["PyPI"]
    assert select_ecosystems(["Debian"], ["Debian:../../etc", "Debian:12", "..", "x\\y"]) == ["Debian:12"]
