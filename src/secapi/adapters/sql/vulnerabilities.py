"""The vulnerability store in SQL: bulk upserts (COPY on PostgreSQL) and one-query candidate lookup."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Row, Select, Table, delete, func, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import (
    AffectedPackageModel,
    VulnDbVersionModel,
    VulnerabilityAliasModel,
    VulnerabilityModel,
)
from secapi.adapters.sql.related import ECOSYSTEM_COUNTS, related_severities
from secapi.domain.advisories import (
    Advisory,
    AdvisorySummary,
    Candidate,
    RelatedSeverity,
    UpsertCounts,
    VulnDbVersion,
)
from secapi.domain.osv_ranges import AffectedRanges
from secapi.domain.ports import VulnerabilityStore
from secapi.domain.severity import Severity

_V: Table = VulnerabilityModel.__table__  # type: ignore[assignment]
_A: Table = AffectedPackageModel.__table__  # type: ignore[assignment]
_VERSIONS: Table = VulnDbVersionModel.__table__  # type: ignore[assignment]
_ALIASES: Table = VulnerabilityAliasModel.__table__  # type: ignore[assignment]
_ENCODE = msgspec.json.Encoder()
_RANGES = msgspec.json.Decoder(AffectedRanges)
_STRINGS = msgspec.json.Decoder(tuple[str, ...])
_COUNTS = msgspec.json.Decoder(dict[str, int])
_VULN_COLUMNS = (
    "id", "modified", "published", "withdrawn", "summary", "severity", "score", "vector", "aliases", "references",
    "informational", "record",
)  # fmt: skip
_AFFECTED_COLUMNS = ("vulnerability_id", "ecosystem", "name", "ranges")
# Large lookups are split so no statement exceeds the drivers' bind-parameter limits.
_LOOKUP_CHUNK = 2000


def _vulnerability_row(advisory: Advisory) -> tuple[Any, ...]:
    return (
        advisory.id,
        advisory.modified,
        advisory.published,
        advisory.withdrawn,
        advisory.summary,
        advisory.severity.value,
        advisory.score,
        advisory.vector,
        _ENCODE.encode(advisory.aliases).decode(),
        _ENCODE.encode(advisory.references).decode(),
        advisory.informational,
        advisory.record,
    )


def _affected_rows(advisory: Advisory) -> list[tuple[str, str, str, str]]:
    return [
        (advisory.id, entry.ecosystem, entry.name, _ENCODE.encode(entry.ranges).decode()) for entry in advisory.affected
    ]


def _alias_rows(advisory: Advisory) -> list[tuple[str, str]]:
    return [(alias[:200], advisory.id) for alias in dict.fromkeys(advisory.aliases) if alias]


# One round trip for any number of packages: the keys travel as two arrays and join
# the (ecosystem, name) index, where a long row-value IN list would defeat the planner.
_PG_CANDIDATES = text(
    """
    SELECT a.ecosystem, a.name, a.ranges, v.id, v.aliases, v.summary, v.severity, v.score, v.vector,
           v.references, v.published, v.modified, v.informational
    FROM unnest(CAST(:ecosystems AS text[]), CAST(:names AS text[])) AS k(ecosystem, name)
    JOIN affected_packages a ON a.ecosystem = k.ecosystem AND a.name = k.name
    JOIN vulnerabilities v ON v.id = a.vulnerability_id
    WHERE v.withdrawn IS NULL
    """
)


def _candidates_query(keys: list[tuple[str, str]]) -> Select[Any]:
    return (
        select(
            _A.c.ecosystem,
            _A.c.name,
            _A.c.ranges,
            _V.c.id,
            _V.c.aliases,
            _V.c.summary,
            _V.c.severity,
            _V.c.score,
            _V.c.vector,
            _V.c.references,
            _V.c.published,
            _V.c.modified,
            _V.c.informational,
        )
        .join(_V, _V.c.id == _A.c.vulnerability_id)
        .where(tuple_(_A.c.ecosystem, _A.c.name).in_(keys), _V.c.withdrawn.is_(None))
    )


def _to_candidates(rows: Iterable[Row[Any]]) -> list[Candidate]:
    out: list[Candidate] = []
    summaries: dict[str, AdvisorySummary] = {}
    for row in rows:
        summary = summaries.get(row.id)
        if summary is None:
            summary = summaries[row.id] = AdvisorySummary(
                id=row.id,
                aliases=_STRINGS.decode(row.aliases),
                summary=row.summary,
                severity=Severity(row.severity),
                score=row.score,
                vector=row.vector,
                references=_STRINGS.decode(row.references),
                published=_aware(row.published),
                modified=_aware(row.modified),
                informational=row.informational,
            )
        out.append(
            Candidate(ecosystem=row.ecosystem, name=row.name, ranges=_RANGES.decode(row.ranges), advisory=summary)
        )
    return out


def _aware(value: datetime | None) -> datetime | None:
    # Raw SQL bypasses DateTimeUTC on SQLite, which stores naive UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class SqlVulnerabilityStore(VulnerabilityStore):
    """Advisories in `vulnerabilities` / `affected_packages`; versions in `vulndb_versions`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def upsert(self, advisories: Sequence[Advisory]) -> UpsertCounts:
        """One transaction per batch: classify by `modified`, delete what is replaced, bulk-insert the rest."""
        latest: dict[str, Advisory] = {}
        for advisory in advisories:
            seen = latest.get(advisory.id)
            if seen is None or advisory.modified > seen.modified:
                latest[advisory.id] = advisory
        counts = UpsertCounts(unchanged=len(advisories) - len(latest))
        if not latest:
            return counts
        async with translate_db_errors(), self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # An import is idempotent and re-runnable: not waiting for each batch's WAL flush
                # risks only the last batches on a crash (never consistency) and doubles throughput.
                await connection.execute(text("SET LOCAL synchronous_commit = off"))
            existing = await self._modified_of(connection, list(latest))
            fresh: list[Advisory] = []
            replaced: list[str] = []
            for advisory in latest.values():
                stored = existing.get(advisory.id)
                if stored is None:
                    counts.added += 1
                elif advisory.modified > stored:
                    counts.updated += 1
                    replaced.append(advisory.id)
                else:
                    counts.unchanged += 1
                    continue
                if advisory.withdrawn is not None:
                    counts.withdrawn += 1
                fresh.append(advisory)
                counts.changed_keys.update((entry.ecosystem, entry.name) for entry in advisory.affected)
            counts.changed_keys |= await self._affected_keys_of(connection, replaced)
            for start in range(0, len(replaced), _LOOKUP_CHUNK):
                await connection.execute(delete(_V).where(_V.c.id.in_(replaced[start : start + _LOOKUP_CHUNK])))
            await self._insert(connection, fresh)
        return counts

    async def _modified_of(self, connection: AsyncConnection, ids: list[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            rows = await connection.execute(
                select(_V.c.id, _V.c.modified).where(_V.c.id.in_(ids[start : start + _LOOKUP_CHUNK]))
            )
            found.update({row.id: row.modified for row in rows})
        return found

    async def _affected_keys_of(self, connection: AsyncConnection, ids: list[str]) -> set[tuple[str, str]]:
        # The entries a replaced record had: a package it no longer names must be re-matched too.
        keys: set[tuple[str, str]] = set()
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            rows = await connection.execute(
                select(_A.c.ecosystem, _A.c.name)
                .where(_A.c.vulnerability_id.in_(ids[start : start + _LOOKUP_CHUNK]))
                .distinct()
            )
            keys.update((row.ecosystem, row.name) for row in rows)
        return keys

    async def _insert(self, connection: AsyncConnection, advisories: list[Advisory]) -> None:
        if not advisories:
            return
        vulnerabilities = [_vulnerability_row(a) for a in advisories]
        affected = [row for a in advisories for row in _affected_rows(a)]
        aliases = [row for a in advisories for row in _alias_rows(a)]
        if connection.dialect.name == "postgresql":
            await self._copy(connection, vulnerabilities, affected, aliases)
            return
        rows = [dict(zip(_VULN_COLUMNS, row, strict=True)) for row in vulnerabilities]
        for row in rows:
            row["record"] = msgspec.json.decode(row["record"])
        await connection.execute(insert(_V), rows)
        if affected:
            await connection.execute(insert(_A), [dict(zip(_AFFECTED_COLUMNS, row, strict=True)) for row in affected])
        if aliases:
            await connection.execute(insert(_ALIASES), [{"alias": a, "vulnerability_id": v} for a, v in aliases])

    @staticmethod
    async def _copy(
        connection: AsyncConnection,
        vulnerabilities: list[tuple[Any, ...]],
        affected: list[Any],
        aliases: list[tuple[str, str]],
    ) -> None:
        # COPY is PostgreSQL's bulk path: one round trip per table, no per-row statement cost.
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        encoded = [(*row[:-1], row[-1].decode()) for row in vulnerabilities]
        await raw.copy_records_to_table("vulnerabilities", records=encoded, columns=list(_VULN_COLUMNS))
        if affected:
            await raw.copy_records_to_table("affected_packages", records=affected, columns=list(_AFFECTED_COLUMNS))
        if aliases:
            await raw.copy_records_to_table(
                "vulnerability_aliases", records=aliases, columns=["alias", "vulnerability_id"]
            )

    async def candidates(self, keys: Collection[tuple[str, str]]) -> Sequence[Candidate]:
        """All affected entries for the keys, joined to their (non-withdrawn) advisory, in one query."""
        wanted = list(set(keys))
        if not wanted:
            return []
        async with translate_db_errors(), self._engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                rows = list(await connection.execute(_PG_CANDIDATES, {
                    "ecosystems": [k[0] for k in wanted], "names": [k[1] for k in wanted],
                }))  # fmt: skip
            else:
                rows = []
                for start in range(0, len(wanted), _LOOKUP_CHUNK):
                    chunk = wanted[start : start + _LOOKUP_CHUNK]
                    rows.extend(await connection.execute(_candidates_query(chunk)))
        return _to_candidates(rows)

    async def related_severities(self, identifiers: Collection[str]) -> Sequence[RelatedSeverity]:
        """Records named by, or aliased to, any of `identifiers` (see `secapi.adapters.sql.related`)."""
        async with translate_db_errors(), self._engine.connect() as connection:
            return await related_severities(connection, identifiers)

    async def current_version(self) -> VulnDbVersion:
        """The newest version row, or version 0."""
        async with translate_db_errors(), self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(_VERSIONS.c.id, _VERSIONS.c.created_at, _VERSIONS.c.advisories, _VERSIONS.c.ecosystems)
                    .order_by(_VERSIONS.c.id.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return VulnDbVersion(version=0, updated_at=None, advisories=0)
        ecosystems = None if row.ecosystems is None else _COUNTS.decode(row.ecosystems)
        return VulnDbVersion(
            version=row.id, updated_at=row.created_at, advisories=row.advisories, ecosystems=ecosystems
        )

    async def advance_version(self, counts: UpsertCounts, source: str) -> VulnDbVersion:
        """Insert a version row carrying the import's counts and the store's size."""
        now = datetime.now(UTC)
        async with translate_db_errors(), self._engine.begin() as connection:
            total = await connection.scalar(select(func.count()).select_from(_V).where(_V.c.withdrawn.is_(None)))
            ecosystems = {row[0]: int(row[1]) for row in await connection.execute(ECOSYSTEM_COUNTS)}
            result = await connection.execute(
                insert(_VERSIONS).values(
                    created_at=now,
                    source=source[:500],
                    added=counts.added,
                    updated=counts.updated,
                    withdrawn=counts.withdrawn,
                    advisories=int(total or 0),
                    ecosystems=_ENCODE.encode(ecosystems).decode(),
                )
            )
            (version,) = result.inserted_primary_key or (0,)
        if self._engine.dialect.name == "postgresql":
            # Fresh statistics after a bulk load keep the lookup plan on the (ecosystem, name) index.
            async with translate_db_errors(), self._engine.connect() as connection:
                await connection.execute(text("ANALYZE vulnerabilities, affected_packages"))
                await connection.commit()
        return VulnDbVersion(version=int(version), updated_at=now, advisories=int(total or 0), ecosystems=ecosystems)

    async def get_record(self, advisory_id: str) -> dict[str, Any] | None:
        """The stored OSV record."""
        async with translate_db_errors(), self._engine.connect() as connection:
            record = await connection.scalar(select(_V.c.record).where(_V.c.id == advisory_id))
        return record if isinstance(record, dict) else None

    async def get_records(self, advisory_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """The stored OSV records of those of `advisory_ids` that exist, by id (`OsvRecords`)."""
        wanted = list(dict.fromkeys(advisory_ids))
        found: dict[str, dict[str, Any]] = {}
        async with translate_db_errors(), self._engine.connect() as connection:
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                rows = await connection.execute(select(_V.c.id, _V.c.record).where(_V.c.id.in_(chunk)))
                found.update({row.id: row.record for row in rows if isinstance(row.record, dict)})
        return found
