"""opkg databases (OpenWrt, embedded images): `usr/lib/opkg/status` or `var/lib/opkg/status`, dpkg's stanza format."""

from __future__ import annotations

from secapi.adapters.catalog.dpkg import ON_DISK_STATES, stanza_records
from secapi.domain.inventory import OPKG, PackageRecord

# opkg adds two states of its own after dpkg's; in both the package's files are still on disk.
_ON_DISK = ON_DISK_STATES | {"post-inst-failed", "removal-failed"}


def parse_opkg_status(data: bytes) -> tuple[PackageRecord, ...]:
    """The packages of an opkg status file whose files are on disk (opkg always writes a Status)."""
    return tuple(stanza_records(data, OPKG, _ON_DISK, status_required=True))
