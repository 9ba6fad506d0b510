"""SemVer 2.0 precedence (npm, crates.io, Go, Hex, OSV SEMVER ranges) and NuGet's variant.

Leniency, because real data needs it: a leading `v` is dropped (Go's
`v1.2.3`), the numeric core may have any number of parts and missing parts
count as zero (`1.2 == 1.2.0`, NuGet's `1.2.3.4`), leading zeros are read as
numbers. Build metadata (`+incompatible`, `+build.5`) never affects order.
Numbers of any length compare numerically: a run too long for `int()` gets
the place its value gives it (`digits.py`), after every shorter number.
Strings that are not versions at all sort before every version.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from secapi.domain.versions.digits import digit_run_key
from secapi.domain.versions.generic import generic_key

_VERSION = re.compile(
    r"""
    [vV]?=?
    (?P<core>[0-9]+(?:\.[0-9]+)*)
    (?:-(?P<pre>[0-9A-Za-z.-]*))?
    (?:\+[0-9A-Za-z.+-]*)?
    """,
    re.VERBOSE,
)
_RELEASE = (1,)


def _key(version: str, fold_case: bool) -> tuple[Any, ...]:
    match = _VERSION.fullmatch(version.strip())
    if match is None:
        return (0, generic_key(version))
    core = [digit_run_key(part) for part in match.group("core").split(".")]
    while core and core[-1] == 0:
        core.pop()
    pre = match.group("pre")
    if pre is None:
        return (1, tuple(core), _RELEASE)
    identifiers: list[tuple[int, int, str]] = []
    for identifier in pre.split("."):
        if identifier.isdigit():
            identifiers.append((0, digit_run_key(identifier), ""))
        else:
            identifiers.append((1, 0, identifier.upper() if fold_case else identifier))
    # (0, ...) sorts before the release marker (1,), and a longer identifier
    # list wins over its own prefix, both as SemVer section 11 requires.
    return (1, tuple(core), (0, *identifiers))


@lru_cache(maxsize=65536)
def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key by SemVer 2.0 precedence; identifiers compare in ASCII order."""
    return _key(version, fold_case=False)


@lru_cache(maxsize=65536)
def nuget_key(version: str) -> tuple[Any, ...]:
    """Sort key by NuGet rules: SemVer with 4-part cores and case-blind pre-release labels."""
    # NuGet compares labels with OrdinalIgnoreCase, i.e. on upper-cased text.
    return _key(version, fold_case=True)
