"""Packagist version order: Composer's normalisation, then PHP's `version_compare`.

Composer normalises `v1.2`, `1.2.0` and `1.2.0.0` to `1.2.0.0` and spells
stabilities out (`1.0-b2` -> `1.0.0.0-beta2`, `-p1`/`-pl1` -> `-patch1`), then
compares with `version_compare`: the string splits into numbers and words,
numbers compare numerically, words by `dev < alpha = a < beta = b < RC = rc <
(number) < pl = p`, any other word below `dev`. When one version runs out,
a following number or `pl` makes the longer one greater, a word makes it
smaller (`1.0.0.0-RC1 < 1.0.0.0`). Strings Composer cannot normalise
(branches such as `dev-main`) are compared with `version_compare` as they are.
Numbers of any length compare numerically: a run too long for `int()` gets
the place its value gives it (`digits.py`), after every shorter number
(where PHP's `strtol` would clamp every number past 64 bits to one value).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from secapi.domain.versions.digits import digit_run_key

_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_CLASSICAL = re.compile(r"v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?" + _MODIFIER, re.IGNORECASE)
_DATE = re.compile(r"v?(\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3}){0,2})" + _MODIFIER, re.IGNORECASE)
_NUMBERED_BRANCH = re.compile(
    r"v?(\d+|[xX*])(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?[.-]?dev", re.IGNORECASE
)
_ALIAS = re.compile(r"\s+as\s+.*$", re.IGNORECASE)
_STABILITY_FLAG = re.compile(r"@(?:stable|RC|beta|alpha|dev)$", re.IGNORECASE)
_BUILD_METADATA = re.compile(r"\+\S*$")
_STABILITY = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}
_PART = re.compile(r"[0-9]+|[^\W\d_]+")
_SPECIAL_FORMS = (
    ("dev", 0),
    ("alpha", 1),
    ("a", 1),
    ("beta", 2),
    ("b", 2),
    ("RC", 3),
    ("rc", 3),
    ("#", 4),
    ("pl", 5),
    ("p", 5),
)
_NUMBER_WEIGHT = 4
_UNKNOWN_WEIGHT = -1
# version_compare lets a longer version win when its next part is a number
# or outweighs "#", and lose otherwise: the same as an end part weighing
# just under a number.
_END = (_NUMBER_WEIGHT, -1)


def _with_modifiers(version: str, match: re.Match[str], first_modifier: int) -> str:
    stability, number, dev = (match.group(first_modifier + i) for i in range(3))
    if stability:
        stability = stability.lower()
        if stability == "stable":
            return version
        version += "-" + _STABILITY.get(stability, stability) + (number or "").lstrip(".-")
    if dev:
        version += "-dev"
    return version


def normalize_composer_version(version: str) -> str | None:
    """Composer's normalised form of a version, or None for branches and other non-versions."""
    text = _ALIAS.sub("", version.strip())
    text = _STABILITY_FLAG.sub("", text)
    text = _BUILD_METADATA.sub("", text)
    match = _CLASSICAL.fullmatch(text)
    if match is not None:
        parts = [match.group(1)] + [match.group(i) or ".0" for i in (2, 3, 4)]
        return _with_modifiers("".join(parts), match, first_modifier=5)
    match = _DATE.fullmatch(text)
    if match is not None:
        return _with_modifiers(re.sub(r"\D", ".", match.group(1)), match, first_modifier=2)
    match = _NUMBERED_BRANCH.fullmatch(text)
    if match is not None:
        # "2.x-dev": the newest dev build of a branch, after all its releases.
        parts = [match.group(i) or ".x" for i in (1, 2, 3, 4)]
        return re.sub(r"[xX*]", "9999999", "".join(parts)) + "-dev"
    return None


def _special_weight(word: str) -> int:
    for prefix, weight in _SPECIAL_FORMS:
        if word.startswith(prefix):
            return weight
    return _UNKNOWN_WEIGHT


@lru_cache(maxsize=65536)
def composer_key(version: str) -> tuple[Any, ...]:
    """Sort key of a Packagist version; every string gets one."""
    normalized = normalize_composer_version(version)
    text = normalized if normalized is not None else version.strip().lstrip("vV")
    parts: list[tuple[int, int]] = []
    for part in _PART.findall(text):
        if "0" <= part[0] <= "9":
            parts.append((_NUMBER_WEIGHT, digit_run_key(part)))
        else:
            parts.append((_special_weight(part), 0))
    parts.append(_END)
    return tuple(parts)
