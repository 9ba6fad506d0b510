"""PHP: Composer's `composer.lock` (`packages` and `packages-dev`)."""

from __future__ import annotations

from secapi.adapters.lockfiles._common import (
    as_list,
    as_mapping,
    field,
    load_json,
    optional_field,
    section,
    translate_errors,
)
from secapi.adapters.lockfiles.purl import composer_purl
from secapi.domain.lockfiles import ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry

ECOSYSTEM = "Packagist"


class ComposerLockParser:
    """Reads `composer.lock`; development branches and path repositories are unscannable."""

    def __init__(self, filename: str = "composer.lock") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse the locked packages, including dev-only ones."""
        packages: list[Package] = []
        unscannable: list[UnscannableEntry] = []
        with translate_errors(self._filename):
            document = as_mapping(load_json(content), "")
            for group in ("packages", "packages-dev"):
                for index, raw in enumerate(as_list(document.get(group) or [], group)):
                    where = f"{group}[{index}]"
                    entry = as_mapping(raw, where)
                    name, version = field(entry, "name", where), field(entry, "version", where)
                    dist_type = optional_field(section(entry, "dist", where), "type", f"{where}.dist")
                    if dist_type == "path":
                        reason = "installed from a local path repository, not a release published on Packagist"
                    elif version.startswith("dev-") or version.endswith("-dev"):
                        reason = f"locked to the development branch {version!r}, not a tagged release"
                    else:
                        # Packagist tags are often `v1.2.3`; OSV records them without the `v`.
                        version = version.removeprefix("v")
                        purl = composer_purl(name, version)
                        packages.append(
                            Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=purl, location=where)
                        )
                        continue
                    unscannable.append(UnscannableEntry(name=name, reason=reason, location=where))
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)
