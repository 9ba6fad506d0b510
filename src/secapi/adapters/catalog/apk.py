"""apk database: `lib/apk/db/installed` (blank-line separated records of `X:value` lines)."""

from __future__ import annotations

from secapi.domain.inventory import APK, PackageRecord

_WANTED = ("P:", "V:", "A:", "o:")


def _record(fields: dict[str, str]) -> PackageRecord | None:
    name, version = fields.get("P"), fields.get("V")
    if not name or not version:
        return None
    origin = fields.get("o") or None
    # Alpine advisories are filed under the origin (source) package, which shares the binary's version.
    return PackageRecord(
        kind=APK,
        name=name,
        version=version,
        source_name=origin,
        source_version=version if origin else None,
        arch=fields.get("A") or None,
    )


def parse_apk_installed(data: bytes) -> tuple[PackageRecord, ...]:
    """The packages of an apk `installed` database."""
    records = []
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").split("\n"):
        line = line.rstrip("\r")
        if not line:
            record = _record(fields) if fields else None
            if record:
                records.append(record)
            fields = {}
        elif line.startswith(_WANTED):  # most lines are file lists (F:, R:, Z:, a:): skipped unsplit
            fields[line[0]] = line[2:].strip()
    record = _record(fields) if fields else None
    if record:
        records.append(record)
    return tuple(records)
