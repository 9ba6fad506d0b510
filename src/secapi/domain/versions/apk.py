"""Alpine (apk) version order as apk-tools 2.x (2.12-2.14) decides it, as a sort key.

Alpine's secdb up to 3.22 was written against apk-tools 2.x, so its order is
the one that says whether an installed package is fixed. apk 2.x reads a
version as a stream of tokens, `digit{.digit}...{letter}{_suffix{#}}...{-r#}`,
where a digit may also follow a letter (`6.6.1p1`). Two versions are compared
token by token: first the token values, then the kind of the token that
follows. Where the kinds differ, a pre-release suffix (`_alpha`, `_beta`,
`_pre`, `_rc`) loses to anything, and otherwise the kind that comes earlier
in the grammar wins (so `1.2.3_p1 > 1.2.3-r9 > 1.2.3`).

apk 2.x's quirks are kept, because the data was ordered by them: a component
with leading zeros yields an extra token of minus the extra zeros before its
number (`1.05 < 1.5`, `1.00 < 1.0`, `1.010 > 1.09`); a suffix is matched by
prefix (`_rc1x` is `_rc` then garbage); a run of 18 or more digits is
invalid. Where a version becomes invalid, its invalid token (value -1) ranks
above every other kind and comparison stops, so `1.0-x > 1.0` and two
versions invalid at the same point are equal. `~hash` (apk 3) is invalid.
Text from a NUL on is ignored (apk reads C strings); any other string, even
`abc` or ` 1.0`, gets the place apk gives it.
"""

from __future__ import annotations

from functools import lru_cache

# Token kinds, numbered as apk-tools 2.x numbers them: where two versions
# reach different kinds after equal values, the lower number wins.
_INVALID, _DIGIT_OR_ZERO, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _REVISION, _END = range(-1, 7)

_MAX_DIGITS = 18  # apk 2.14 rejects longer numbers rather than overflow int64

# Matched by prefix, in this order (so `_pre` is not `_p` + "re").
_SUFFIXES = (
    ("alpha", -4),
    ("beta", -3),
    ("pre", -2),
    ("rc", -1),
    ("cvs", 0),
    ("svn", 1),
    ("git", 2),
    ("hg", 3),
    ("p", 4),
)
_SEPARATOR_KINDS = {".": _DIGIT_OR_ZERO, "_": _SUFFIX}
# Moves back to an earlier kind that the grammar still allows.
_ALLOWED_STEPS_BACK = {(_DIGIT, _DIGIT_OR_ZERO), (_SUFFIX_NO, _SUFFIX), (_LETTER, _DIGIT)}
_PRE_RELEASE_RANK = -(_END + 1)


def _next_kind(text: str, pos: int, kind: int) -> tuple[int, int]:
    """The kind of the token at `pos` after a token of `kind`, and where its value starts."""
    char = text[pos]
    if kind in (_DIGIT, _DIGIT_OR_ZERO) and "a" <= char <= "z":
        following = _LETTER
    elif kind == _LETTER and "0" <= char <= "9":
        following = _DIGIT
    elif kind == _SUFFIX and "0" <= char <= "9":
        following = _SUFFIX_NO
    elif char == "-":
        following = _REVISION if text.startswith("-r", pos) else _INVALID
        pos += 2 if following == _REVISION else 1
    else:
        following = _SEPARATOR_KINDS.get(char, _INVALID)
        pos += 1
    if following < kind and (kind, following) not in _ALLOWED_STEPS_BACK:
        following = _INVALID
    return following, pos


def _read(text: str, pos: int, kind: int) -> tuple[int, int, int]:
    """Value of the token of `kind` at `pos`, the kind of the token after it, and its position."""
    size = len(text)
    if pos >= size:
        return 0, _END, pos
    following = None
    if kind == _DIGIT_OR_ZERO and text[pos] == "0":
        # Zeros beyond the first are one token worth minus their count; the
        # number is then read again, as a plain digit token.
        end = pos
        while end + 1 < size and text[end + 1] == "0":
            end += 1
        value, following = pos - end, _DIGIT
    elif kind in (_DIGIT_OR_ZERO, _DIGIT, _SUFFIX_NO, _REVISION):
        end = pos
        while end < size and "0" <= text[end] <= "9":
            end += 1
        if end - pos >= _MAX_DIGITS:
            return -1, _INVALID, pos
        value = int(text[pos:end] or "0")
    elif kind == _LETTER:
        value, end = ord(text[pos]), pos + 1
    else:
        match = next(((name, number) for name, number in _SUFFIXES if text.startswith(name, pos)), None)
        if match is None:
            return -1, _INVALID, pos
        value, end = match[1], pos + len(match[0])
    if end == size:
        return value, _END, end
    if following is not None:
        return value, following, end
    following, end = _next_kind(text, end, kind)
    return value, following, end


def _rank(kind: int, next_value: int) -> int:
    # A suffix whose value is negative (a pre-release, or an unknown suffix)
    # loses to every other kind; among the rest the lower kind number wins.
    if kind == _SUFFIX and next_value < 0:
        return _PRE_RELEASE_RANK
    return -kind


@lru_cache(maxsize=65536)
def apk_key(version: str) -> tuple[int, ...]:
    """Sort key of an apk version: value and rank of each token, flattened into one tuple of ints."""
    text = version.partition("\0")[0]
    values: list[int] = []
    kinds: list[int] = []
    kind, pos = _DIGIT, 0
    while kind not in (_END, _INVALID):
        value, kind, pos = _read(text, pos, kind)
        values.append(value)
        kinds.append(kind)
    key: list[int] = []
    for index, (value, kind) in enumerate(zip(values, kinds, strict=True)):
        next_value = values[index + 1] if index + 1 < len(values) else 0
        key += (value, _rank(kind, next_value))
    return tuple(key)
