"""dpkg databases: `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/*` (deb822 stanzas)."""

from __future__ import annotations

import re

from secapi.domain.inventory import DPKG, PackageRecord

_STANZA_BREAK = re.compile(r"\n[ \t]*\n")
_SOURCE = re.compile(r"(\S+)(?:\s*\((.+)\))?")
# The third word of `Status:` is the package state; these mean its files are on disk and configured.
_INSTALLED_STATES = frozenset({"installed", "triggers-awaiting", "triggers-pending"})
_WANTED = frozenset({"install", "hold"})
_FIELDS = frozenset({"Package", "Version", "Source", "Architecture", "Status"})


def _fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.split("\n"):
        if not line or line[0] in " \t#":  # continuation lines (Description, Conffiles) carry nothing we need
            continue
        key, sep, value = line.partition(":")
        if sep and key in _FIELDS:
            fields[key] = value.strip()
    return fields


def _installed(status: str | None) -> bool:
    if status is None:  # distroless status.d stanzas are control files without a Status field
        return True
    words = status.split()
    return len(words) == 3 and words[0] in _WANTED and words[2] in _INSTALLED_STATES


def parse_dpkg_status(data: bytes) -> tuple[PackageRecord, ...]:
    """The installed packages of a dpkg status file (or of one status.d stanza file)."""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    records = []
    for stanza in _STANZA_BREAK.split(text):
        fields = _fields(stanza)
        name, version = fields.get("Package"), fields.get("Version")
        if not name or not version or not _installed(fields.get("Status")):
            continue
        source_name = source_version = None
        source = _SOURCE.match(fields.get("Source", ""))
        if source:
            # `Source: glibc (2.36-9+deb12u3)`; without a version the source version is the binary's.
            source_name, source_version = source[1], (source[2] or version).strip()
        records.append(
            PackageRecord(
                kind=DPKG,
                name=name,
                version=version,
                source_name=source_name,
                source_version=source_version,
                arch=fields.get("Architecture") or None,
            )
        )
    return tuple(records)
