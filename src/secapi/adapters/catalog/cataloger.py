"""The `LayerCataloger` port over `catalog_layer`."""

from __future__ import annotations

from pathlib import Path

from secapi.adapters.catalog.layer import DEFAULT_LIMITS, catalog_layer
from secapi.domain.inventory import LayerInventory, LayerLimits
from secapi.domain.services.image_scan_runner import LayerCataloger


class TarLayerCataloger(LayerCataloger):
    """Streams a layer blob through the catalogers within `limits`."""

    def __init__(self, limits: LayerLimits | None = None) -> None:
        self._limits = limits or DEFAULT_LIMITS

    def catalog(self, blob: Path, media_type: str, digest: str) -> LayerInventory:
        """The layer's inventory (blocking)."""
        return catalog_layer(blob, media_type, digest, self._limits)
