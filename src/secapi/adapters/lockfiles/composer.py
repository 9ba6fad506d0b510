"""PHP: Composer's `composer.lock` (`packages` and `packages-dev`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    StructureError,
    as_list,
    as_mapping,
    field,
    load_json,
    optional_field,
    section,
    unreadable,
)
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import composer_purl

ECOSYSTEM = "Packagist"


class ComposerLockParser(EntryParser):
    """Reads `composer.lock`; development branches and path repositories are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "composer.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """The locked packages, including dev-only ones."""
        document = as_mapping(load_json(content), "")
        for group in ("packages", "packages-dev"):
            for index, raw in enumerate(as_list(document.get(group) or [], group)):
                yield self._read(raw, f"{group}[{index}]")

    @classmethod
    def _read(cls, raw: object, where: str) -> Entry:
        """One package entry, or an unscannable entry saying why it could not be read."""
        try:
            return cls._entry(raw, where)
        except StructureError as error:
            return unreadable(where, raw.get("name") if isinstance(raw, dict) else None, error)

    @staticmethod
    def _entry(raw: object, where: str) -> Entry:
        entry: Mapping[str, object] = as_mapping(raw, where)
        name, version = field(entry, "name", where), field(entry, "version", where)
        dist_type = optional_field(section(entry, "dist", where), "type", f"{where}.dist")
        if dist_type == "path":
            reason = "installed from a local path repository, not a release published on Packagist"
        elif version.startswith("dev-") or version.endswith("-dev"):
            reason = f"locked to the development branch {version!r}, not a tagged release"
        else:
            # Packagist tags are often `v1.2.3`; OSV records them without the `v`.
            version = version.removeprefix("v")
            return Package(
                name=name, version=version, ecosystem=ECOSYSTEM, purl=composer_purl(name, version), location=where
            )
        return UnscannableEntry(name=name, reason=reason, location=where)
