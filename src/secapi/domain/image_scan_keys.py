"""What identifies a registry image scan: its canonical input and its cache key (the submitter's and the runner's)."""

from __future__ import annotations

import uuid

from secapi.domain.caching import cache_key
from secapi.domain.images import ImageReference, Platform
from secapi.domain.scan_inputs import RegistryImageInput, ScanType


def image_cache_key(reference: ImageReference, digest: str, platform: Platform, *, tenant: uuid.UUID | None) -> str:
    """The cache key of an image scan: by repository and manifest digest (not tag), platform and privacy."""
    return cache_key(
        ScanType.DOCKER.value, {"image": f"{reference.name()}@{digest}", "platform": str(platform)}, tenant=tenant
    )


def image_input(reference: ImageReference, platform: Platform) -> RegistryImageInput:
    """The canonical input of an image scan: what the scan and its cache key (its `identity()`) are about."""
    return RegistryImageInput(image=reference.canonical(), platform=str(platform))
