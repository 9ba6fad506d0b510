"""Digit runs of any length as integers that order numerically, without `int()` on a long run.

`int()` refuses a string of more than `sys.get_int_max_str_digits()` digits
(4,300 by default), because decimal conversion is quadratic. A version string
comes from a lockfile, so a scheme that reads its numbers with `int()` would
raise on a hostile one. `digit_run_key` keeps `int()` for runs no interpreter
setting can refuse (up to `sys.int_info.str_digits_check_threshold`, 640
digits), which is every real version number, and turns a longer run into an
integer by its ASCII bytes, big-endian, in linear time.

That integer is not the number's value, but it sorts exactly where the number
does. With leading zeros stripped, a run of L > 640 digits starts with a byte
from 0x31 to 0x39, so its key lies in [0x31 * 256**(L-1), 0x3A * 256**(L-1)):
above every number of at most 640 digits (256**640 > 10**640), below every
key of a longer run (0x31 * 256 > 0x3A), and, for runs of the same length,
ordered as their digits are. So schemes keep their integer keys, and their
hot path, and numbers of any length compare numerically.
"""

from __future__ import annotations

import sys

INT_SAFE_DIGITS = sys.int_info.str_digits_check_threshold
"""The longest digit run `int()` converts under every interpreter setting (the limit may be 0 or >= this)."""


def digit_run_key(digits: str) -> int:
    """An integer that sorts as the ASCII digit run `digits` does numerically; its value if the run is short."""
    if len(digits) <= INT_SAFE_DIGITS:
        return int(digits)
    significant = digits.lstrip("0")
    if len(significant) <= INT_SAFE_DIGITS:
        return int(significant or "0")
    return int.from_bytes(significant.encode("ascii"), "big")
