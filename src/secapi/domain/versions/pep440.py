"""PyPI version order: PEP 440 through `packaging`, with a defined place for legacy strings.

A string `packaging` rejects (`2004d`, `1.0-SNAPSHOT-final`, `dev`) sorts
before every valid version, and legacy strings order among themselves by the
key setuptools' old `LegacyVersion` used: numbers zero-padded to eight
digits, words starred, `pre`/`preview`/`rc` read as `c`, `dev` as `@`, and a
closing `*final` so that alpha/beta/candidate words sort before a release.

A string with a run of more than 640 digits (`digits.INT_SAFE_DIGITS`) is
read as a legacy string too, even if PEP 440 would accept it: `packaging`
reads numbers with `int()`, which refuses such runs under some interpreter
settings (over 4,300 digits by default), and a fixed bound keeps the order
the same under all of them. The legacy key keeps digits as text, so any
length is safe there.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from packaging.version import InvalidVersion, Version

from secapi.domain.versions.digits import INT_SAFE_DIGITS

_LEGACY_PART = re.compile(r"(\d+|[a-z]+|\.|-)")
_LEGACY_SUBSTITUTES = {"pre": "c", "preview": "c", "-": "final-", "rc": "c", "dev": "@"}
_LONG_DIGIT_RUN = re.compile(f"[0-9]{{{INT_SAFE_DIGITS + 1}}}")


def _legacy_parts(version: str) -> list[str]:
    parts: list[str] = []
    for raw in _LEGACY_PART.split(version.lower()):
        part = _LEGACY_SUBSTITUTES.get(raw, raw)
        if not part or part == ".":
            continue
        parts.append(part.zfill(8) if part[0] in "0123456789" else "*" + part)
    parts.append("*final")
    return parts


def _legacy_key(version: str) -> tuple[str, ...]:
    key: list[str] = []
    for part in _legacy_parts(version):
        if part.startswith("*"):
            # A pre-release word drops the "-" before it, and every word
            # drops the zeros that end the number run before it ("1.0a" == "1a").
            if part < "*final":
                while key and key[-1] == "*final-":
                    key.pop()
            while key and key[-1] == "00000000":
                key.pop()
        key.append(part)
    return tuple(key)


@lru_cache(maxsize=65536)
def pypi_key(version: str) -> tuple[Any, ...]:
    """Sort key of a PyPI version: PEP 440 when valid, legacy order before it otherwise."""
    if len(version) > INT_SAFE_DIGITS and _LONG_DIGIT_RUN.search(version) is not None:
        return (0, _legacy_key(version))
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, _legacy_key(version))
