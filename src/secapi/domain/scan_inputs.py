"""What a scan keeps of its input: one frozen struct per kind (lockfile, registry image, archive image, SBOM).

A scan row keeps a summary of what was scanned (never a private lockfile itself).
Each kind is its own type, so the services switch on the type, not on which
keys a dictionary happens to hold. The structs encode to exactly the JSON
objects the scans table has always held and the API has always shown, so rows
written before these types decode unchanged (`decode_scan_input`) and rows
written now read the same in older processes.

That JSON carries no tag field (the types came after the rows), so the union is
told apart where it is decoded: by the row's scan type, and for images by the
archive's digest, which only an upload has.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal

import msgspec


class ScanType(StrEnum):
    """What a scan looks at."""

    DOCKER = "docker"
    DEPENDENCIES = "dependencies"
    SBOM = "sbom"


CacheDirective = Literal["bypass"]
"""The one directive kept with a queued scan: `"bypass"` (the client asked for a fresh result)."""


class ScanInput(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of the kinds of input a scan keeps; a new scan type adds a subclass."""

    @property
    def label(self) -> str | None:
        """What the input names, for people (an image reference, a file name); None when it names nothing."""
        return None

    @property
    def bypasses_cache(self) -> bool:
        """True when the client asked for a fresh result (only queued scans keep this)."""
        return False


class LockfileCompanion(msgspec.Struct, frozen=True, kw_only=True):
    """A file sent with a lockfile to complete it (a go.mod's go.sum), by name and digest."""

    filename: str
    sha256: str


class LockfileScanInput(ScanInput, frozen=True, kw_only=True, omit_defaults=True):
    """A scanned lockfile: its name, digest and size; the content itself is not kept (it may be private)."""

    filename: str
    sha256: str
    size: int
    companions: tuple[LockfileCompanion, ...] = ()

    @property
    def label(self) -> str | None:
        """The file name the client sent."""
        return self.filename


class RegistryImageInput(ScanInput, frozen=True, kw_only=True, omit_defaults=True):
    """An image pulled from a registry: its canonical reference and platform."""

    image: str
    platform: str | None = None
    """Always written; rows from the first releases may lack it (the default platform then applies)."""
    cache: CacheDirective | None = None

    @property
    def label(self) -> str | None:
        """The image reference."""
        return self.image

    @property
    def bypasses_cache(self) -> bool:
        """True when the client asked for a fresh result."""
        return self.cache == "bypass"

    def identity(self) -> dict[str, str]:
        """What identifies the image scan (the cache key's parts): the reference and the platform."""
        return {"image": self.image, "platform": self.platform or ""}


class ArchiveImageInput(ScanInput, frozen=True, kw_only=True, omit_defaults=True):
    """An image uploaded as an archive: private to its owner, identified by the archive's bytes."""

    image: str
    platform: str | None = None
    archive: str
    """The uploaded file's name (at most 255 characters)."""
    archive_sha256: str
    archive_size: str
    """The upload's size in bytes, as text: the API has shown it so since archives were first taken."""
    cache: CacheDirective | None = None

    @property
    def label(self) -> str | None:
        """The image reference (the archive's only image when the client named none)."""
        return self.image

    @property
    def bypasses_cache(self) -> bool:
        """True when the client asked that an identical upload's result not be reused."""
        return self.cache == "bypass"

    def identity(self) -> dict[str, str]:
        """What identifies the upload's scan (its cache key's parts, with its owner): the bytes and the platform."""
        return {"archive_sha256": self.archive_sha256, "platform": self.platform or ""}


class SbomScanInput(ScanInput, frozen=True, kw_only=True, omit_defaults=True):
    """A scanned SBOM: its format, digest and size (and the uploaded file's name); the document is not kept."""

    format: str
    """`cyclonedx-json`, `cyclonedx-xml`, `spdx-json` or `spdx-tag-value`."""
    sha256: str
    size: int
    filename: str | None = None

    @property
    def label(self) -> str | None:
        """The uploaded file's name, else the format."""
        return self.filename or self.format


ImageScanInput = RegistryImageInput | ArchiveImageInput
"""The inputs a worker's image scan runs on."""


def encode_scan_input(scan_input: ScanInput) -> dict[str, Any]:
    """The JSON object a scan row and the API hold for `scan_input` (arrays as lists, as decoded JSON has them)."""
    encoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(scan_input))
    return encoded


def decode_scan_input(scan_type: ScanType, data: Mapping[str, Any]) -> ScanInput:
    """The input kept in a scan row of `scan_type` (rows of every release decode; unknown keys are ignored)."""
    if scan_type is ScanType.DEPENDENCIES:
        return msgspec.convert(data, LockfileScanInput)
    if scan_type is ScanType.SBOM:
        return msgspec.convert(data, SbomScanInput)
    if "archive_sha256" in data:  # the decoding edge: only an upload has an archive digest
        return msgspec.convert(data, ArchiveImageInput)
    return msgspec.convert(data, RegistryImageInput)
