"""The fallback order for unknown ecosystems and for strings a scheme cannot parse.

Case is ignored; the string is read as runs of digits and runs of letters
(anything else only separates). Runs compare left to right: numbers
numerically, words alphabetically, a number after a word; when one version
runs out, the longer is greater. Trailing zero numbers are dropped first, so
`1.0.0 == 1.0 == 1` and `1.0 < 1.0.1 < 1.0.1a`. The order is total and never
raises, which is all a fallback needs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_RUN = re.compile(r"[0-9]+|[^\W\d_]+")


@lru_cache(maxsize=65536)
def generic_key(version: str) -> tuple[Any, ...]:
    """Sort key for a version string of no known scheme."""
    runs: list[tuple[int, int, str]] = []
    for run in _RUN.findall(version.lower()):
        if "0" <= run[0] <= "9":
            # A number compares by length, then digits: no int() to outgrow.
            digits = run.lstrip("0")
            runs.append((1, len(digits), digits))
        else:
            runs.append((0, 0, run))
    while runs and runs[-1] == (1, 0, ""):
        runs.pop()
    return tuple(runs)
