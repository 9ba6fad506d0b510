"""Rust: `Cargo.lock` packages from crates.io."""

from __future__ import annotations

from secapi.adapters.lockfiles._common import field, optional_field, redact, toml_packages, translate_errors
from secapi.adapters.lockfiles.purl import cargo_purl
from secapi.domain.lockfiles import ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry

ECOSYSTEM = "crates.io"
CRATES_IO_SOURCES = frozenset(
    {"registry+https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io/"}
)


class CargoLockParser:
    """Reads `Cargo.lock`; crates without a `source` are workspace members or path crates and are skipped."""

    def __init__(self, filename: str = "Cargo.lock") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse the `[[package]]` tables of a Cargo lockfile."""
        packages: list[Package] = []
        unscannable: list[UnscannableEntry] = []
        with translate_errors(self._filename):
            for where, table in toml_packages(content):
                name, version = field(table, "name", where), field(table, "version", where)
                source = optional_field(table, "source", where)
                if source is None:
                    continue
                if source in CRATES_IO_SOURCES:
                    purl = cargo_purl(name, version)
                    packages.append(Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=purl, location=where))
                    continue
                if source.startswith("git+"):
                    reason = f"installed from git ({redact(source)}), not a release published on crates.io"
                else:
                    reason = f"installed from another registry ({redact(source)}); crates.io advisories may not apply"
                unscannable.append(UnscannableEntry(name=name, reason=reason, location=where))
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)
