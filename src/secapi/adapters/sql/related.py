"""Queries over the whole vulnerability store: records related by alias, and advisories per ecosystem."""

from __future__ import annotations

from collections.abc import Collection

import msgspec
from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from secapi.domain.advisories import RelatedSeverity
from secapi.domain.severity import Severity

ECOSYSTEM_COUNTS: TextClause = text(
    "SELECT a.ecosystem, count(DISTINCT a.vulnerability_id) FROM affected_packages a "
    "JOIN vulnerabilities v ON v.id = a.vulnerability_id WHERE v.withdrawn IS NULL GROUP BY a.ecosystem"
)
"""Non-withdrawn advisories per stored ecosystem, computed once per database version."""

# A record is related to a finding when its id is one of the finding's identifiers, or it
# lists one of them as an alias; both halves use an index (primary key, alias key).
_RELATED = text(
    """
    SELECT v.id, v.aliases, v.severity, v.score, v.vector FROM vulnerabilities v
    WHERE v.withdrawn IS NULL AND v.id IN :ids
    UNION
    SELECT v.id, v.aliases, v.severity, v.score, v.vector FROM vulnerability_aliases a
    JOIN vulnerabilities v ON v.id = a.vulnerability_id
    WHERE v.withdrawn IS NULL AND a.alias IN :ids
    """
).bindparams(bindparam("ids", expanding=True))
_STRINGS = msgspec.json.Decoder(tuple[str, ...])
# Large lookups are split so no statement exceeds the drivers' bind-parameter limits.
_CHUNK = 2000


async def related_severities(connection: AsyncConnection, identifiers: Collection[str]) -> list[RelatedSeverity]:
    """Records whose id, or one of whose aliases, is in `identifiers`, each once."""
    wanted = sorted(set(identifiers))
    found: dict[str, RelatedSeverity] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = await connection.execute(_RELATED, {"ids": wanted[start : start + _CHUNK]})
        for row in rows:
            found.setdefault(
                row.id,
                RelatedSeverity(
                    id=row.id,
                    aliases=_STRINGS.decode(row.aliases),
                    severity=Severity(row.severity),
                    score=row.score,
                    vector=row.vector,
                ),
            )
    return list(found.values())
