"""Rust: `Cargo.lock` packages from crates.io."""

from __future__ import annotations

from collections.abc import Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    TomlPackagesParser,
    field,
    optional_field,
    redact,
)
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import cargo_purl

ECOSYSTEM = "crates.io"
CRATES_IO_SOURCES = frozenset(
    {"registry+https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io/"}
)


class CargoLockParser(TomlPackagesParser):
    """Reads `Cargo.lock`; crates without a `source` (workspace members, path crates) are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "Cargo.lock"

    @staticmethod
    def _entry(table: Mapping[str, object], where: str) -> Entry:
        name, version = field(table, "name", where), field(table, "version", where)
        source = optional_field(table, "source", where)
        if source is None:
            # Cargo.lock records the workspace's own crates and path dependencies alike, so the
            # root crate cannot be told apart: all are reported, none dropped.
            reason = "local code (a workspace member or path dependency, maybe the project itself), not on crates.io"
        elif source in CRATES_IO_SOURCES:
            return Package(
                name=name, version=version, ecosystem=ECOSYSTEM, purl=cargo_purl(name, version), location=where
            )
        elif source.startswith("git+"):
            reason = f"installed from git ({redact(source)}), not a release published on crates.io"
        else:
            reason = f"installed from another registry ({redact(source)}); crates.io advisories may not apply"
        return UnscannableEntry(name=name, reason=reason, location=where)
