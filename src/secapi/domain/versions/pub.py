"""Dart pub version order (`pub_semver`'s `Version.compareTo`), as a sort key.

`major.minor.patch[-pre][+build]`: numbers compare numerically, a pre-release
sorts before its release (`1.0.0-rc.1 < 1.0.0`). Unlike SemVer, build
metadata orders too, after everything else: a version without a build sorts
before the same version with one (`1.0.0 < 1.0.0+1`). Pre-release and build
identifiers compare left to right, a missing identifier first, numbers
(what Dart's `int.tryParse` reads: decimal, maybe negative, within 64 bits)
numerically and before words, words in ASCII order. A leading `v` and
surrounding whitespace are not part of the version; any other string pub
cannot parse (a core number past 64 bits included) sorts before every valid
version, by the generic order.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from secapi.domain.versions.generic import generic_key

_VERSION = re.compile(
    r"""
    [vV]?
    (?P<major>[0-9]+)\.(?P<minor>[0-9]+)\.(?P<patch>[0-9]+)
    (?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?
    (?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?
    """,
    re.VERBOSE,
)
_INT64_MAX = 2**63 - 1
_RELEASE: tuple[Any, ...] = (1,)
_NO_BUILD: tuple[Any, ...] = (0,)


def _dart_int(text: str) -> int | None:
    """What Dart's `int.tryParse` makes of an identifier: a decimal number, optionally negative, within 64 bits."""
    body = text.removeprefix("-")
    if not body or not body.isascii() or not body.isdigit():
        return None
    significant = body.lstrip("0") or "0"
    if len(significant) > len(str(_INT64_MAX)):
        return None
    value = -int(significant) if text.startswith("-") else int(significant)
    return value if -_INT64_MAX - 1 <= value <= _INT64_MAX else None


def _identifiers(text: str) -> tuple[tuple[int, int, str], ...]:
    # Numbers before words; a shorter list, being a prefix, sorts first.
    parts: list[tuple[int, int, str]] = []
    for part in text.split("."):
        number = _dart_int(part)
        parts.append((1, 0, part) if number is None else (0, number, ""))
    return tuple(parts)


@lru_cache(maxsize=65536)
def pub_key(version: str) -> tuple[Any, ...]:
    """Sort key of a pub version; unparseable strings sort first, generically."""
    match = _VERSION.fullmatch(version.strip())
    numbers = [] if match is None else [_dart_int(match.group(name)) for name in ("major", "minor", "patch")]
    if match is None or None in numbers:
        return (0, generic_key(version))
    pre, build = match.group("pre"), match.group("build")
    return (
        1,
        *numbers,
        _RELEASE if pre is None else (0, *_identifiers(pre)),
        _NO_BUILD if build is None else (1, *_identifiers(build)),
    )
