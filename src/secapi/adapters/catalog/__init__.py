"""Package catalogers for image layers: dpkg, apk, rpm, opkg, Python and npm databases read from layer tar streams.

`catalog_layer` turns one layer blob into a `LayerInventory`; `secapi.domain.inventory.merge_layers`
stacks them. The parsers (`parse_dpkg_status`, ...) are pure functions of a file's bytes.
"""

from __future__ import annotations

from secapi.adapters.catalog.apk import parse_apk_installed
from secapi.adapters.catalog.dpkg import parse_dpkg_status, parse_dpkg_status_d
from secapi.adapters.catalog.layer import catalog_layer
from secapi.adapters.catalog.npm import parse_npm_package_json
from secapi.adapters.catalog.opkg import parse_opkg_status
from secapi.adapters.catalog.python import parse_python_metadata
from secapi.domain.inventory import LayerLimits

__all__ = [
    "LayerLimits",
    "catalog_layer",
    "parse_apk_installed",
    "parse_dpkg_status",
    "parse_dpkg_status_d",
    "parse_npm_package_json",
    "parse_opkg_status",
    "parse_python_metadata",
]
