"""Debian and Ubuntu version order: dpkg's `verrevcmp` turned into a sort key.

dpkg compares `[epoch:]upstream[-revision]` part by part: the epoch as a
number, then upstream and revision each as alternating runs of non-digits
(character by character: `~` first, then the end of the run, then letters,
then everything else) and digits (numerically, at any length, as dpkg
compares them digit by digit). A digit run too long for `int()` gets the
place its value gives it (`digits.py`), after every shorter number; so does
an epoch that long, which dpkg would refuse.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from secapi.domain.versions.digits import digit_run_key

_EPOCH = re.compile(r"([0-9]+):(.+)", re.DOTALL)
_CHUNK = re.compile(r"([^0-9]*)([0-9]*)")

# A chunk is (weights of its non-digit run + 0 for "end of run", digit value).
# The end of a whole string weighs the same as an empty run followed by 0, so
# "1.0" sorts before "1.0." and after "1.0~" exactly as dpkg does.
_END_OF_STRING: tuple[tuple[int, ...], int] = ((0,), 0)


def _weight(char: str) -> int:
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _part_key(part: str) -> tuple[tuple[tuple[int, ...], int], ...]:
    chunks: list[tuple[tuple[int, ...], int]] = []
    for match in _CHUNK.finditer(part):
        text, digits = match.group(1), match.group(2)
        if not text and not digits:
            continue
        weights = (*(_weight(char) for char in text), 0)
        chunks.append((weights, digit_run_key(digits) if digits else 0))
    if not chunks:
        # "" and "0" are equal in dpkg; both become one zero chunk.
        chunks.append(_END_OF_STRING)
    chunks.append(_END_OF_STRING)
    return tuple(chunks)


@lru_cache(maxsize=65536)
def dpkg_key(version: str) -> tuple[Any, ...]:
    """Sort key of a Debian version; syntax dpkg rejects still gets a defined place."""
    text = version.strip()
    epoch = 0
    match = _EPOCH.fullmatch(text)
    if match is not None:
        epoch, text = digit_run_key(match.group(1)), match.group(2)
    # A bad epoch ("x:1") is kept in the upstream part: dpkg refuses such a
    # version, so any stable order will do, and this one never raises.
    upstream, hyphen, revision = text.rpartition("-")
    if not hyphen:
        upstream, revision = text, ""
    return (epoch, _part_key(upstream), _part_key(revision))
