"""RubyGems version order (`Gem::Version#<=>`) as a sort key.

A `-` means `.pre.`; the version splits into numbers and letter runs; the
numeric release part and the pre-release part (from the first letter run)
each lose trailing zeros. Segments then compare pairwise, a missing one
counting as 0, and a letter run is below any number (so `1.0.a < 1.0`).
Strings that are not gem versions sort before every valid one. Numbers of
any length compare numerically, as Ruby's Integer does: a run too long for
`int()` gets the place its value gives it (`digits.py`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from secapi.domain.versions.digits import digit_run_key
from secapi.domain.versions.generic import generic_key

_CORRECT = re.compile(r"\s*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?\s*")
_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+")

# Pairwise comparison against an implicit tail of zeros is turned into a
# plain tuple order by folding each run of zeros into the segment after it:
# a letter run preceded by z zeros is (0, z, text), a number preceded by z
# zeros is (2, -z, number), and the endless zero tail is (1,): above every
# letter run, below every number.
_ZERO_TAIL = (1,)


def _canonical(version: str) -> list[int | str]:
    text = version.strip() or "0"
    segments: list[int | str] = [
        digit_run_key(s) if s[0].isdigit() else s for s in _SEGMENT.findall(text.replace("-", ".pre."))
    ]
    first_text = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    release, pre = segments[:first_text], segments[first_text:]
    for part in (release, pre):
        while part and part[-1] == 0:
            part.pop()
    return release + pre


@lru_cache(maxsize=65536)
def rubygems_key(version: str) -> tuple[Any, ...]:
    """Sort key of a RubyGems version; malformed strings sort first, generically."""
    if _CORRECT.fullmatch(version) is None:
        return (0, generic_key(version))
    folded: list[tuple[Any, ...]] = []
    zeros = 0
    for segment in _canonical(version):
        if segment == 0:
            zeros += 1
        elif isinstance(segment, str):
            folded.append((0, zeros, segment))
            zeros = 0
        else:
            folded.append((2, -zeros, segment))
            zeros = 0
    folded.append(_ZERO_TAIL)
    return (1, tuple(folded))
