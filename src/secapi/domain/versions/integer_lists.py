"""Versions that are lists of integers: Haskell's PVP (Hackage, GHC) and R's `package_version` (CRAN, Bioconductor).

Both compare the integers left to right, and a version that is a prefix of
another is smaller (`1.0 < 1.0.0 < 1.0.1`), as Cabal's `Version` and R's
`compareVersion` do. They differ in separators: PVP has only `.`, R also
takes `-` (so `1.2-3 == 1.2.3`). Leading zeros are read as numbers and
surrounding whitespace is dropped. Any other string, and one with a number of
more than 18 digits (past Cabal's 64-bit `Int` and R's 32-bit integers),
sorts before every valid version, by the generic order.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from secapi.domain.versions.generic import generic_key

_PVP = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,18})*")
_CRAN = re.compile(r"[0-9]{1,18}(?:[.-][0-9]{1,18})*")
_CRAN_SEPARATOR = re.compile(r"[.-]")


def _integer_list_key(version: str, valid: re.Pattern[str], separator: re.Pattern[str] | str) -> tuple[Any, ...]:
    text = version.strip()
    if valid.fullmatch(text) is None:
        return (0, generic_key(version))
    parts = text.split(separator) if isinstance(separator, str) else separator.split(text)
    return (1, tuple(int(part) for part in parts))


@lru_cache(maxsize=65536)
def pvp_key(version: str) -> tuple[Any, ...]:
    """Sort key of a Haskell package version; other strings sort first, generically."""
    return _integer_list_key(version, _PVP, ".")


@lru_cache(maxsize=65536)
def cran_key(version: str) -> tuple[Any, ...]:
    """Sort key of an R package version; other strings sort first, generically."""
    return _integer_list_key(version, _CRAN, _CRAN_SEPARATOR)
