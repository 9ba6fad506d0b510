"""RPM version order (Red Hat, SUSE and the other RPM distributions), as a sort key.

An EVR `[epoch:]version[-release]` compares as rpm 4.18's `rpmverCmp` does:
the epoch as a number (missing = 0, so `1:2 > 3`), then the version, then
the release, each by `rpmvercmp`. The release starts after the last `-`; a
version without one sorts before the same version with any release (`1.0 <
1.0-0`), as in rpm, rather than matching every release.

`rpmvercmp` reads ASCII letter runs and digit runs; every other character
only separates, so `1.0 == 1_0`. Runs compare left to right: numbers
numerically (leading zeros ignored) and above letters, letters by ASCII
(`Z < a`). `~` sorts before everything, even the end (`1.0~rc1 < 1.0`); `^`
sorts after the end but before any further run (`1.0 < 1.0^git1 < 1.0.1`);
where one version has runs left, it is greater. Text from a NUL on is
ignored; every other string, the empty one included, is an RPM version.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_EPOCH = re.compile(r"([0-9]*):")
_RUN = re.compile(r"[0-9]+|[A-Za-z]+|~|\^")

# What can stand at one position, lowest first.
_TILDE, _END, _CARET, _LETTERS, _NUMBER = range(5)
_NO_RELEASE: tuple[Any, ...] = (0,)


def _vercmp_key(text: str) -> tuple[tuple[Any, ...], ...]:
    """Sort key by `rpmvercmp` alone, for one of epoch, version or release."""
    runs: list[tuple[Any, ...]] = []
    for run in _RUN.findall(text):
        if run == "~":
            runs.append((_TILDE,))
        elif run == "^":
            runs.append((_CARET,))
        elif run[0] <= "9":
            # Compared by length then text, as rpm does, so that no number
            # is too long for int().
            digits = run.lstrip("0")
            runs.append((_NUMBER, len(digits), digits))
        else:
            runs.append((_LETTERS, run))
    runs.append((_END,))
    return tuple(runs)


@lru_cache(maxsize=65536)
def rpm_key(version: str) -> tuple[Any, ...]:
    """Sort key of an RPM `[epoch:]version[-release]`."""
    text = version.partition("\0")[0]
    epoch = "0"
    match = _EPOCH.match(text)
    if match is not None:
        epoch, text = match.group(1) or "0", text[match.end() :]
    upstream, hyphen, release = text.rpartition("-")
    if not hyphen:
        return (_vercmp_key(epoch), _vercmp_key(text), _NO_RELEASE)
    return (_vercmp_key(epoch), _vercmp_key(upstream), (1, _vercmp_key(release)))
