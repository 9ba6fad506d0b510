"""Alpine (apk) version order, as apk-tools' version.c defines it, as a sort key.

Grammar: `digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}`. Versions are
compared token by token; where the token kinds differ, a pre-release suffix
(`_alpha`, `_beta`, `_pre`, `_rc`) loses to anything, and otherwise the token
kind that comes earlier in the grammar wins (so `1.2.3_p1 > 1.2.3-r9 > 1.2.3`).
Where one version becomes invalid, its invalid token loses and comparison
stops, as in apk.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_DIGITS = re.compile(r"[0-9]+")
_SUFFIX_NAME = re.compile(r"[a-z]*")
_HEX = re.compile(r"[0-9a-f]*")

# Token kinds in grammar order; the rank of a token (higher wins when two
# versions differ in kind at the same position) is derived from it.
_INITIAL, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _HASH, _REVISION, _END, _INVALID = range(9)
_PRE_RELEASE_RANK = -1

_SUFFIXES = {
    "alpha": 1,
    "beta": 2,
    "pre": 3,
    "rc": 4,
    "cvs": 6,
    "svn": 7,
    "git": 8,
    "hg": 9,
    "p": 10,
}
_FIRST_POST_RELEASE = 5


def _rank(kind: int) -> int:
    return _INVALID - kind


def _digit_value(digits: str) -> tuple[int, Any]:
    # apk compares two digit groups as strings when either has a leading
    # zero, numerically otherwise; every zero-led string then sorts first.
    if digits[0] == "0":
        return (0, digits)
    return (1, int(digits))


@lru_cache(maxsize=65536)
def apk_key(version: str) -> tuple[Any, ...]:
    """Sort key of an apk version; malformed tails sort like apk's invalid token."""
    text = version.strip()
    first = _DIGITS.match(text)
    if first is None:
        return ((_rank(_INVALID), 0),)
    tokens: list[tuple[int, Any]] = [(_rank(_INITIAL), int(first.group()))]
    kind, pos, size = _INITIAL, first.end(), len(text)
    while True:
        if pos == size:
            tokens.append((_rank(_END), 0))
            return tuple(tokens)
        char = text[pos]
        token: tuple[int, Any] | None = None
        if "a" <= char <= "z" and kind <= _DIGIT:
            kind, pos = _LETTER, pos + 1
            token = (_rank(_LETTER), ord(char))
        elif char == "." and kind <= _DIGIT:
            digits = _DIGITS.match(text, pos + 1)
            if digits is not None:
                kind, pos = _DIGIT, digits.end()
                token = (_rank(_DIGIT), _digit_value(digits.group()))
        elif "0" <= char <= "9" and kind == _SUFFIX:
            digits = _DIGITS.match(text, pos)
            if digits is not None:
                kind, pos = _SUFFIX_NO, digits.end()
                token = (_rank(_SUFFIX_NO), int(digits.group()))
        elif char == "_" and kind <= _SUFFIX_NO:
            name = _SUFFIX_NAME.match(text, pos + 1)
            value = _SUFFIXES.get(name.group()) if name is not None else None
            if name is not None and value is not None:
                kind, pos = _SUFFIX, name.end()
                rank = _PRE_RELEASE_RANK if value < _FIRST_POST_RELEASE else _rank(_SUFFIX)
                token = (rank, value)
        elif char == "~" and kind < _HASH:
            commit = _HEX.match(text, pos + 1)
            if commit is not None and commit.group():
                kind, pos = _HASH, commit.end()
                token = (_rank(_HASH), commit.group())
        elif char == "-" and kind < _REVISION and text.startswith("-r", pos):
            digits = _DIGITS.match(text, pos + 2)
            if digits is not None:
                kind, pos = _REVISION, digits.end()
                token = (_rank(_REVISION), int(digits.group()))
        if token is None:
            tokens.append((_rank(_INVALID), 0))
            return tuple(tokens)
        tokens.append(token)
