"""R package version order (CRAN, Bioconductor): R's `package_version`.

A version is non-negative integers separated by `.` or `-`, so `1.2-3 ==
1.2.3`, compared as lists of integers: left to right, and a version that is
a prefix of another is smaller (`1.0 < 1.0.0`). Leading zeros are read as
numbers and surrounding whitespace is dropped. Any other string, and one
with a number of more than 18 digits (R's are 32-bit integers), sorts before
every valid version, by the generic order.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from secapi.domain.versions.generic import generic_key

_VERSION = re.compile(r"[0-9]{1,18}(?:[.-][0-9]{1,18})*")
_SEPARATOR = re.compile(r"[.-]")


@lru_cache(maxsize=65536)
def cran_key(version: str) -> tuple[Any, ...]:
    """Sort key of an R package version; other strings sort first, generically."""
    text = version.strip()
    if _VERSION.fullmatch(text) is None:
        return (0, generic_key(version))
    return (1, tuple(int(part) for part in _SEPARATOR.split(text)))
