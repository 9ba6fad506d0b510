"""Maven version order: `ComparableVersion` of maven-artifact 3.8.

A version is lower-cased and split on `.`, `-` and digit/letter transitions
into a tree: `-` and a transition open a sub-list. Numbers compare
numerically; qualifiers by `alpha < beta < milestone < rc = cr < snapshot <
"" = ga = final = release < sp < anything else (alphabetical)`; `a1`, `b1`,
`m1` mean alpha, beta, milestone. Trailing "null" items (0, "", empty lists)
are dropped, so `1 == 1.0 == 1-ga`. Between kinds: number > list > qualifier.
Numbers of any length compare numerically, as Maven's BigInteger items do:
a run too long for `int()` gets the place its value gives it (`digits.py`).

Checked against the real maven-artifact 3.8.7 jar on thousands of generated
pairs (`univers` disagrees on cases such as `1.cr == 1-rc`). Maven's order is
not transitive on odd strings, and this module reproduces Maven rather than
inventing another order. The tree is no plain tuple key, so the module
exposes a cached parse and a comparison of parsed trees.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Union

from secapi.domain.versions.digits import digit_run_key

Item = Union[int, str, "tuple[Item, ...]"]
_Node = Union[int, str, "list[_Node]"]

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT_FORMS = {"a": "alpha", "b": "beta", "m": "milestone"}
_RELEASE = str(_QUALIFIERS.index(""))
_INT_DIGITS, _LONG_DIGITS = 9, 18
_LONG_ZERO = 1_999_999_999  # just under twice the smallest 10-digit number
_BIG_ZERO = 1_999_999_999_999_999_999  # just under twice the smallest 19-digit number
_ZEROS = frozenset((0, _LONG_ZERO, _BIG_ZERO))


def _qualifier(text: str, followed_by_digit: bool) -> str:
    # Qualifiers are stored in their comparable form: a known qualifier's
    # index, or "7-name" for unknown ones, which Maven compares as strings.
    if followed_by_digit and len(text) == 1:
        text = _SHORT_FORMS.get(text, text)
    text = _ALIASES.get(text, text)
    if text in _QUALIFIERS:
        return str(_QUALIFIERS.index(text))
    return f"{len(_QUALIFIERS)}-{text}"


def _number(digits: str) -> int:
    # Maven strips leading zeros unless the number is all zeros, then sizes
    # its item by length: over 9 digits a Long, over 18 a BigInteger, and a
    # wider kind always wins. So "0000000000" is a zero that still beats
    # every 9-digit number. Numbers are stored doubled to make room for those
    # two odd zeros between the widths.
    stripped = digits.lstrip("0")
    if stripped:
        return 2 * digit_run_key(stripped)
    if len(digits) <= _INT_DIGITS:
        return 0
    return _LONG_ZERO if len(digits) <= _LONG_DIGITS else _BIG_ZERO


def _item(is_digit: bool, text: str) -> int | str:
    return _number(text) if is_digit else _qualifier(text, followed_by_digit=False)


def _is_null(item: _Node) -> bool:
    if isinstance(item, int):
        return item in _ZEROS
    if isinstance(item, str):
        return item == _RELEASE
    return not item


def _normalize(items: list[_Node]) -> None:
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if _is_null(item):
            del items[index]
        elif not isinstance(item, list):
            break


def _freeze(items: list[_Node]) -> tuple[Item, ...]:
    return tuple(_freeze(item) if isinstance(item, list) else item for item in items)


@lru_cache(maxsize=65536)
def maven_parse(version: str) -> tuple[Item, ...]:
    """Parse a Maven version into ComparableVersion's item tree; any string parses."""
    text = version.lower()
    root: list[_Node] = []
    current = root
    stack = [root]
    is_digit = False
    start = 0

    def open_sublist() -> None:
        nonlocal current
        sublist: list[_Node] = []
        current.append(sublist)
        current = sublist
        stack.append(sublist)

    for index, char in enumerate(text):
        if char in ".-":
            current.append(0 if index == start else _item(is_digit, text[start:index]))
            start = index + 1
            if char == "-":
                open_sublist()
        elif "0" <= char <= "9":
            if not is_digit and index > start:
                # A qualifier glued to a number ("rc1") gets its own sub-list.
                if current:
                    open_sublist()
                current.append(_qualifier(text[start:index], followed_by_digit=True))
                start = index
                open_sublist()
            is_digit = True
        else:
            if is_digit and index > start:
                current.append(_number(text[start:index]))
                start = index
                open_sublist()
            is_digit = False
    if len(text) > start:
        if not is_digit and current:
            # A trailing qualifier opens a sub-list, so "1.cr" == "1-rc".
            open_sublist()
        current.append(_item(is_digit, text[start:]))
    while stack:
        _normalize(stack.pop())
    return _freeze(root)


def _compare_item(left: Item, right: Item | None) -> int:
    if isinstance(left, int):
        if right is None:
            return 0 if left in _ZEROS else 1
        if isinstance(right, int):
            return (left > right) - (left < right)
        return 1
    if isinstance(left, str):
        if right is None:
            return (left > _RELEASE) - (left < _RELEASE)
        if isinstance(right, str):
            return (left > right) - (left < right)
        return -1
    if right is None:
        # Every item counts against nothing, not just the first (MNG-6964).
        for item in left:
            result = _compare_item(item, None)
            if result:
                return result
        return 0
    if isinstance(right, int):
        return -1
    if isinstance(right, str):
        return 1
    for index in range(max(len(left), len(right))):
        mine = left[index] if index < len(left) else None
        theirs = right[index] if index < len(right) else None
        if mine is None:
            result = 0 if theirs is None else -_compare_item(theirs, None)
        else:
            result = _compare_item(mine, theirs)
        if result:
            return result
    return 0


def maven_compare(left: tuple[Item, ...], right: tuple[Item, ...]) -> int:
    """Compare two parsed Maven versions: -1, 0 or 1."""
    return _compare_item(left, right)
