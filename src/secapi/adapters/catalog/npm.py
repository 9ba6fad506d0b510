"""Installed npm packages: `node_modules/<name>/package.json` and `node_modules/@scope/<name>/package.json`."""

from __future__ import annotations

import json

from secapi.domain.inventory import NPM, PackageRecord
from secapi.domain.purl import npm_purl


def parse_npm_package_json(data: bytes) -> tuple[PackageRecord, ...]:
    """The package an installed package.json describes; none for a private package without a version."""
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError) as exc:  # json.loads also rejects bad UTF-8 with a ValueError
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise ValueError("package.json is not a JSON object")
    name, version = manifest.get("name"), manifest.get("version")
    if not isinstance(version, str) or not version.strip():
        if manifest.get("private") is True:
            return ()
        raise ValueError("package.json has no version")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("package.json has no name")
    name, version = name.strip(), version.strip()
    return (PackageRecord(kind=NPM, name=name, version=version, purl=npm_purl(name, version)),)
