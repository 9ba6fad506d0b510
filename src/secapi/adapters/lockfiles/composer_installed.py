"""PHP: `vendor/composer/installed.json`, what Composer actually installed into `vendor/`.

Composer 1 writes a bare array of packages; Composer 2 an object whose `packages` holds them (with
`dev` and `dev-package-names` saying which are development packages: installed all the same, so scanned).
Each package has the shape of a `composer.lock` entry, and is read the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

from secapi.adapters.lockfiles._common import Entry, as_list, as_mapping, load_json
from secapi.adapters.lockfiles.composer import ComposerLockParser


class InstalledJsonParser(ComposerLockParser):
    """Reads both shapes of `installed.json`; path repositories and development branches are unscannable."""

    default_filename = "installed.json"

    def entries(self, content: str) -> Iterator[Entry]:
        """The installed packages, in file order."""
        document = load_json(content)
        group = "packages"
        if isinstance(document, list):  # Composer 1
            packages, group = document, ""
        else:
            packages = as_list(as_mapping(document, "").get("packages") or [], group)
        for index, raw in enumerate(packages):
            yield self._read(raw, f"{group}[{index}]")
