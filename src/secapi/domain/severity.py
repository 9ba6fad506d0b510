"""Severity of an OSV record: a level, a CVSS base score and the vector it came from.

Which vector wins, when a record has several: CVSS v3 (3.1 before 3.0), then
v4, then v2. v3 is what scanners, NVD and GHSA report today, so findings stay
comparable with theirs; v4 is still sparse and scores differently; v2 is the
last resort. A vector the `cvss` library rejects is skipped, never raised.

Score to level: v3 and v4 use their qualitative scale (0.1-3.9 LOW, 4.0-6.9
MEDIUM, 7.0-8.9 HIGH, 9.0-10.0 CRITICAL); v2 uses NVD's v2 scale, which has
no CRITICAL (7.0-10.0 HIGH). A 0.0 score ("None" in CVSS) is LOW: the issue
is known and scored, just negligible, and hiding it as UNKNOWN would be wrong.

Without a usable vector, labels are used in this order: OSV `Ubuntu`
severity entries, then `database_specific.severity` (GHSA: LOW, MODERATE,
HIGH, CRITICAL), then `ecosystem_specific` / `database_specific` `severity`,
`urgency` or `priority` (Debian urgency, Ubuntu priority). Labels give a level
but no score or vector.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4, CVSSError


class Severity(enum.StrEnum):
    """Qualitative severity of a vulnerability."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    UNKNOWN = "UNKNOWN"


_LABELS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unimportant": Severity.LOW,
}
_LABEL_KEYS = ("severity", "urgency", "priority")


def _v3_level(score: float) -> Severity:
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


def _v2_level(score: float) -> Severity:
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


# Real feeds reuse a few thousand distinct vectors across hundreds of thousands of
# records; scoring one costs ~100 µs in the library, so imports score each once.
@functools.lru_cache(maxsize=8192)
def _v3_score(vector: str) -> float:
    return float(CVSS3(vector).base_score)


@functools.lru_cache(maxsize=8192)
def _v4_score(vector: str) -> float:
    return float(CVSS4(vector).base_score)


@functools.lru_cache(maxsize=8192)
def _v2_score(vector: str) -> float:
    # NVD sometimes wraps v2 vectors in parentheses.
    return float(CVSS2(vector.strip("()")).base_score)


# (rank, scorer, level mapping) per vector family; a lower rank wins.
_FAMILIES: dict[str, tuple[int, Callable[[str], float], Callable[[float], Severity]]] = {
    "v3.1": (0, _v3_score, _v3_level),
    "v3.0": (1, _v3_score, _v3_level),
    "v4": (2, _v4_score, _v3_level),
    "v2": (3, _v2_score, _v2_level),
}


def _family(entry_type: str, vector: str) -> str | None:
    # The vector's own prefix is more reliable than a record's type label.
    if vector.startswith("CVSS:3.1/"):
        return "v3.1"
    if vector.startswith("CVSS:3.0/"):
        return "v3.0"
    if vector.startswith("CVSS:4.0/"):
        return "v4"
    if entry_type == "CVSS_V2" or (entry_type.startswith("CVSS") and "Au:" in vector):
        return "v2"
    return None


def _from_vectors(entries: Iterable[Mapping[str, Any]]) -> tuple[Severity, float, str] | None:
    candidates: list[tuple[int, int, str, str]] = []
    for position, entry in enumerate(entries):
        entry_type, vector = entry.get("type"), entry.get("score")
        if not isinstance(entry_type, str) or not isinstance(vector, str):
            continue
        family = _family(entry_type, vector.strip())
        if family is not None:
            candidates.append((_FAMILIES[family][0], position, family, vector.strip()))
    for _rank, _position, family, vector in sorted(candidates):
        _, scorer, level = _FAMILIES[family]
        try:
            score = scorer(vector)
        except (CVSSError, ArithmeticError, LookupError, TypeError, ValueError):
            # The library rejects malformed vectors with assorted exceptions.
            continue
        return level(score), score, vector
    return None


def _label(value: object) -> Severity | None:
    if isinstance(value, str):
        return _LABELS.get(value.strip().lower())
    return None


def _from_labels(
    entries: Iterable[Mapping[str, Any]],
    database_specific: Mapping[str, Any] | None,
    ecosystem_specific: Mapping[str, Any] | None,
) -> Severity | None:
    for entry in entries:
        if entry.get("type") == "Ubuntu" and (level := _label(entry.get("score"))) is not None:
            return level
    for block in (database_specific, ecosystem_specific):
        if not isinstance(block, Mapping):
            continue
        for key in _LABEL_KEYS:
            if (level := _label(block.get(key))) is not None:
                return level
    return None


def score_severity(
    severity_entries: list[dict[str, Any]],
    database_specific: dict[str, Any] | None,
    ecosystem_specific: dict[str, Any] | None = None,
) -> tuple[Severity, float | None, str | None]:
    """(level, CVSS base score, vector) for OSV `severity` entries, falling back to labels."""
    entries = [entry for entry in severity_entries or () if isinstance(entry, Mapping)]
    scored = _from_vectors(entries)
    if scored is not None:
        return scored
    label = _from_labels(entries, database_specific, ecosystem_specific)
    return (label if label is not None else Severity.UNKNOWN), None, None
