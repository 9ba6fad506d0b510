"""Reading OSV records (ossf/osv-schema) into advisories.

The JSON is decoded straight into typed structs holding only the fields
matching needs (msgspec skips the rest in C); the original bytes are kept
as the record. A malformed record raises `OsvRecordError` with its id and
the reason, so an import rejects it and goes on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from secapi.domain.advisories import Advisory, AffectedEntry, OsvRecordError, normalize_ecosystem
from secapi.domain.osv_ranges import AffectedRanges, Event, Range, normalize_package_name
from secapi.domain.severity import score_severity

MAX_REFERENCES = 20
_EVENT_KINDS = frozenset({"introduced", "fixed", "last_affected", "limit"})


class _Package(msgspec.Struct):
    ecosystem: str = ""
    name: str = ""


class _Range(msgspec.Struct):
    type: str
    events: list[dict[str, str]]
    repo: str | None = None


class _Affected(msgspec.Struct):
    package: _Package | None = None
    ranges: list[_Range] = []
    versions: list[str] = []
    severity: list[dict[str, Any]] = []
    ecosystem_specific: dict[str, Any] | None = None
    database_specific: dict[str, Any] | None = None


class _Reference(msgspec.Struct):
    url: str = ""


class _Record(msgspec.Struct):
    id: str
    modified: str
    published: str | None = None
    withdrawn: str | None = None
    aliases: list[str] | None = None
    summary: str | None = None
    details: str | None = None
    severity: list[dict[str, Any]] | None = None
    affected: list[_Affected] | None = None
    references: list[_Reference] | None = None
    database_specific: dict[str, Any] | None = None


class _IdOnly(msgspec.Struct):
    id: Any = None


_DECODER = msgspec.json.Decoder(_Record)
_ID_DECODER = msgspec.json.Decoder(_IdOnly)


def _timestamp(record_id: str, key: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise OsvRecordError(record_id, f"'{key}' is not an RFC 3339 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise OsvRecordError(record_id, f"'{key}' has no time zone: {value!r}")
    return parsed


def _ranges(record_id: str, where: str, ranges: list[_Range]) -> tuple[Range, ...]:
    out = []
    for n, item in enumerate(ranges):
        if not item.events:
            raise OsvRecordError(record_id, f"{where}.ranges[{n}].events must be a non-empty list")
        events = []
        for m, event in enumerate(item.events):
            if len(event) != 1:
                raise OsvRecordError(record_id, f"{where}.ranges[{n}].events[{m}] must have exactly one key")
            ((kind, value),) = event.items()
            if kind not in _EVENT_KINDS:
                raise OsvRecordError(record_id, f"{where}.ranges[{n}].events[{m}] has unknown event {kind!r}")
            events.append(Event(**{kind: value}))
        out.append(Range(type=item.type, events=tuple(events), repo=item.repo))
    return tuple(out)


def _affected(record_id: str, affected: list[_Affected]) -> tuple[AffectedEntry, ...]:
    entries = []
    for n, item in enumerate(affected):
        if item.package is None:
            continue  # git-only entries name a repository, not a package: nothing to match by version
        if not item.package.ecosystem or not item.package.name:
            raise OsvRecordError(record_id, f"affected[{n}].package needs 'ecosystem' and 'name'")
        ecosystem = normalize_ecosystem(item.package.ecosystem)
        entries.append(
            AffectedEntry(
                ecosystem=ecosystem,
                name=normalize_package_name(ecosystem, item.package.name),
                ranges=AffectedRanges(
                    versions=tuple(item.versions), ranges=_ranges(record_id, f"affected[{n}]", item.ranges)
                ),
            )
        )
    return tuple(entries)


def _informational(record: _Record) -> str | None:
    # RustSec puts `informational` in the affected entry's database_specific (and some exports at the top).
    blocks = [record.database_specific, *(item.database_specific for item in record.affected or ())]
    for block in blocks:
        kind = block.get("informational") if isinstance(block, dict) else None
        if isinstance(kind, str) and kind.strip():
            return kind.strip().lower()[:32]
    return None


def _references(record: _Record) -> tuple[str, ...]:
    # Records list the same URL under several types (ADVISORY, WEB, ...); a finding shows it once.
    unique = dict.fromkeys(url for ref in record.references or () if (url := ref.url.strip()))
    return tuple(unique)[:MAX_REFERENCES]


def _decode(data: bytes) -> _Record:
    try:
        return _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        try:
            found = _ID_DECODER.decode(data).id
        except msgspec.DecodeError:
            found = None
        record_id = found if isinstance(found, str) and found.strip() else None
        raise OsvRecordError(record_id, f"not an OSV record: {exc}") from None
    except msgspec.DecodeError as exc:
        raise OsvRecordError(None, f"not valid JSON: {exc}") from None


def parse_osv_record(data: bytes | dict[str, Any]) -> Advisory:
    """The advisory in one OSV record (JSON bytes, or an already decoded object)."""
    raw = msgspec.json.encode(data) if isinstance(data, dict) else data
    if not isinstance(raw, bytes):
        raise OsvRecordError(None, "a record must be a JSON object")
    record = _decode(raw)
    record_id = record.id.strip()
    if not record_id:
        raise OsvRecordError(None, "'id' is required and must not be empty")
    modified = _timestamp(record_id, "modified", record.modified)
    assert modified is not None
    affected = record.affected or []
    severity_entries = record.severity or next((a.severity for a in affected if a.severity), [])
    level, score, vector = score_severity(
        severity_entries,
        record.database_specific,
        next((a.ecosystem_specific for a in affected if a.ecosystem_specific), None),
    )
    summary = (record.summary or record.details or "").strip()
    return Advisory(
        id=record_id,
        modified=modified,
        published=_timestamp(record_id, "published", record.published),
        withdrawn=_timestamp(record_id, "withdrawn", record.withdrawn),
        aliases=tuple(record.aliases or ()),
        summary=summary.splitlines()[0][:500] if summary else "",
        severity=level,
        score=score,
        vector=vector,
        references=_references(record),
        affected=_affected(record_id, affected),
        informational=_informational(record),
        record=raw,
    )
