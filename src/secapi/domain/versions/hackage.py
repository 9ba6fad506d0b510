"""Haskell version order (Hackage packages and GHC): the Package Versioning Policy's.

A version is dot-separated non-negative integers, compared as lists of
integers as Cabal's `Version` does: left to right, and a version that is a
prefix of another is smaller (`1.0 < 1.0.0 < 1.0.1`). Leading zeros are read
as numbers and surrounding whitespace is dropped. Any other string, and one
with a number of more than 18 digits (past Cabal's 64-bit `Int`), sorts
before every valid version, by the generic order.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from secapi.domain.versions.generic import generic_key

_VERSION = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,18})*")


@lru_cache(maxsize=65536)
def pvp_key(version: str) -> tuple[Any, ...]:
    """Sort key of a Haskell package version; other strings sort first, generically."""
    text = version.strip()
    if _VERSION.fullmatch(text) is None:
        return (0, generic_key(version))
    return (1, tuple(int(part) for part in text.split(".")))
