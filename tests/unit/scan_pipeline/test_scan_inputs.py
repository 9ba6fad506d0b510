"""Scan inputs are typed in the domain and read and written as the JSON the scans table has always held."""

from __future__ import annotations

from typing import Any

import pytest

from secapi.domain.model import ScanType
from secapi.domain.scan_inputs import (
    ArchiveImageInput,
    LockfileCompanion,
    LockfileScanInput,
    RegistryImageInput,
    decode_scan_input,
    encode_scan_input,
)

# Rows as the releases before the typed inputs wrote them (image_input(...), the archive upload, a lockfile).
LEGACY_ROWS: list[tuple[ScanType, dict[str, Any], type]] = [
    (ScanType.DEPENDENCIES, {"filename": "poetry.lock", "sha256": "ab" * 32, "size": 120}, LockfileScanInput),
    (
        ScanType.DEPENDENCIES,
        {
            "filename": "go.mod",
            "sha256": "cd" * 32,
            "size": 80,
            "companions": [{"filename": "go.sum", "sha256": "ef" * 32}],
        },
        LockfileScanInput,
    ),
    (ScanType.DOCKER, {"image": "docker.io/library/nginx:1.25", "platform": "linux/amd64"}, RegistryImageInput),
    (
        ScanType.DOCKER,
        {"image": "docker.io/library/nginx:1.25", "platform": "linux/arm64", "cache": "bypass"},
        RegistryImageInput,
    ),
    (
        ScanType.DOCKER,
        {
            "image": "archive.invalid/upload:latest",
            "platform": "linux/amd64",
            "archive": "app.tar",
            "archive_sha256": "01" * 32,
            "archive_size": "4096",
            "cache": "bypass",
        },
        ArchiveImageInput,
    ),
    (ScanType.DOCKER, {"image": "registry.test/app:1"}, RegistryImageInput),  # the first releases kept no platform
]


@pytest.mark.parametrize(("scan_type", "row", "kind"), LEGACY_ROWS)
def test_rows_written_before_the_types_decode_to_their_kind_and_encode_back_unchanged(
    scan_type: ScanType, row: dict[str, Any], kind: type
) -> None:
    decoded = decode_scan_input(scan_type, row)

    assert type(decoded) is kind
    assert encode_scan_input(decoded) == row


def test_the_kind_decides_cache_bypass_and_label() -> None:
    upload = decode_scan_input(ScanType.DOCKER, LEGACY_ROWS[4][1])
    pulled = decode_scan_input(ScanType.DOCKER, LEGACY_ROWS[2][1])
    lockfile = decode_scan_input(ScanType.DEPENDENCIES, LEGACY_ROWS[1][1])

    assert upload.bypasses_cache
    assert not pulled.bypasses_cache
    assert not lockfile.bypasses_cache
    assert (upload.label, pulled.label, lockfile.label) == (
        "archive.invalid/upload:latest",
        "docker.io/library/nginx:1.25",
        "go.mod",
    )
    assert isinstance(lockfile, LockfileScanInput)
    assert lockfile.companions == (LockfileCompanion(filename="go.sum", sha256="ef" * 32),)


def test_an_upload_is_identified_by_its_bytes_and_a_pulled_image_by_its_reference() -> None:
    upload = decode_scan_input(ScanType.DOCKER, LEGACY_ROWS[4][1])
    pulled = decode_scan_input(ScanType.DOCKER, LEGACY_ROWS[3][1])

    assert isinstance(upload, ArchiveImageInput)
    assert isinstance(pulled, RegistryImageInput)
    assert upload.identity() == {"archive_sha256": "01" * 32, "platform": "linux/amd64"}
    assert pulled.identity() == {"image": "docker.io/library/nginx:1.25", "platform": "linux/arm64"}
