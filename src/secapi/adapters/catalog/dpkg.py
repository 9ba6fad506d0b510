"""dpkg databases: `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/*` (deb822 stanzas)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from secapi.domain.inventory import DPKG, PackageRecord

_STANZA_BREAK = re.compile(r"\n[ \t]*\n")
_SOURCE = re.compile(r"(\S+)(?:\s*\((.+)\))?")
# dpkg(1) package states whose files are (at least partly) on disk. The wanted state (`install`, `hold`,
# `deinstall`, `purge`, `unknown`) is only what the admin asked for: a `deinstall` package still `installed`
# is still there. half-installed means an installation started and did not finish, so some files may be
# present; a scanner should rather report it than miss it. `config-files` and `not-installed` leave no code.
ON_DISK_STATES = frozenset(
    {"installed", "half-installed", "unpacked", "half-configured", "triggers-awaited", "triggers-pending"}
)
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


def _on_disk(status: str, states: frozenset[str]) -> bool:
    words = status.split()  # `want flag state`; opkg may write comma-joined flags, still one word
    return len(words) == 3 and words[2] in states


def stanza_records(data: bytes, kind: str, states: frozenset[str], *, status_required: bool) -> Iterator[PackageRecord]:
    """The packages of a deb822-style database whose `Status:` state is in `states`.

    Without `status_required` a stanza with no Status field counts as installed (distroless status.d).
    """
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    for stanza in _STANZA_BREAK.split(text):
        fields = _fields(stanza)
        name, version, status = fields.get("Package"), fields.get("Version"), fields.get("Status")
        if not name or not version:
            continue
        if status_required if status is None else not _on_disk(status, states):
            continue
        source_name = source_version = None
        source = _SOURCE.match(fields.get("Source", ""))
        if source:
            # `Source: glibc (2.36-9+deb12u3)`; without a version the source version is the binary's.
            source_name, source_version = source[1], (source[2] or version).strip()
        yield PackageRecord(
            kind=kind,
            name=name,
            version=version,
            source_name=source_name,
            source_version=source_version,
            arch=fields.get("Architecture") or None,
        )


def parse_dpkg_status(data: bytes) -> tuple[PackageRecord, ...]:
    """The packages of a dpkg status file whose files are on disk (a stanza without Status is not)."""
    return tuple(stanza_records(data, DPKG, ON_DISK_STATES, status_required=True))


def parse_dpkg_status_d(data: bytes) -> tuple[PackageRecord, ...]:
    """The packages of one distroless status.d file: control stanzas, installed unless a Status says otherwise."""
    return tuple(stanza_records(data, DPKG, ON_DISK_STATES, status_required=False))
