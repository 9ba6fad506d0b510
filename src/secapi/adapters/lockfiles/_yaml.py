"""Streaming YAML reading for large lockfiles: libyaml events, built into values only where asked."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any

import yaml

from secapi.adapters.lockfiles._common import StructureError, line

# The base loader resolves no implicit types: every scalar stays the string the file spells
# (so `version: 1.10` is "1.10", not the float 1.1), and no Python objects can be constructed.
_LOADER: Callable[[str], Any] = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_OPENERS = frozenset({yaml.MappingStartEvent, yaml.SequenceStartEvent})
_CLOSERS = frozenset({yaml.MappingEndEvent, yaml.SequenceEndEvent})
_LEAVES = frozenset({yaml.ScalarEvent, yaml.AliasEvent})


class YamlReader:
    """Walks one YAML document event by event; callers read or skip each value they are offered."""

    def __init__(self, content: str) -> None:
        parser = _LOADER(content.removeprefix("\ufeff"))
        # libyaml raises yaml.MarkedYAMLError on bad syntax; `translate_errors` names its line.
        self._next: Callable[[], yaml.Event] = parser.get_event
        self._peek: Callable[[], yaml.Event] = parser.peek_event

    def document(self) -> Iterator[tuple[str, str]]:
        """Yield (key, location) for each top-level key; an empty document has none."""
        self._next()  # StreamStartEvent
        if isinstance(self._peek(), yaml.StreamEndEvent):
            return
        self._next()  # DocumentStartEvent
        yield from self.mapping("document")

    def mapping(self, where: str) -> Iterator[tuple[str, str]]:
        """Yield (key, location) for each key of the mapping that comes next; null counts as empty."""
        for key in self._keys(where):
            yield key.value, _at(key, where)

    def _keys(self, where: str) -> Iterator[yaml.ScalarEvent]:
        start = self._next()
        if isinstance(start, yaml.ScalarEvent) and start.value in _NULLS and not start.style:
            return
        if not isinstance(start, yaml.MappingStartEvent):
            raise StructureError(_at(start, where), f"expected a mapping, found {_describe(start)}")
        peek, read = self._peek, self._next
        while type(peek()) is not yaml.MappingEndEvent:
            key = read()
            if type(key) is not yaml.ScalarEvent:
                raise StructureError(_at(key, where), f"expected a plain key, found {_describe(key)}")
            yield key
        read()

    def scalar(self, where: str) -> str:
        """The scalar that comes next, as written."""
        event = self._next()
        if not isinstance(event, yaml.ScalarEvent):
            raise StructureError(_at(event, where), f"expected a single value, found {_describe(event)}")
        return str(event.value)

    def fields(self, wanted: Collection[str], where: str) -> dict[str, object]:
        """Read the mapping that comes next, building only the `wanted` keys' values."""
        found: dict[str, object] = {}
        for key in self._keys(where):
            if key.value in wanted:
                found[key.value] = self.value(where)
            elif type(self._peek()) is yaml.ScalarEvent:
                self._next()  # the common case, skipped without a call to `skip`
            else:
                self.skip()
        return found

    def value(self, where: str) -> object:
        """Build the next value: strings, lists and dicts of them."""
        event = self._peek()
        if isinstance(event, yaml.MappingStartEvent):
            return {key: self.value(where) for key, _ in self.mapping(where)}
        if isinstance(event, yaml.SequenceStartEvent):
            self._next()
            items: list[object] = []
            while not isinstance(self._peek(), yaml.SequenceEndEvent):
                items.append(self.value(where))
            self._next()
            return items
        return self.scalar(where)

    def skip(self) -> None:
        """Skip the next value, however deep."""
        read = self._next
        depth = 0
        while True:
            event = read()
            kind = type(event)
            if kind in _OPENERS:
                depth += 1
            elif kind in _CLOSERS:
                depth -= 1
            elif kind not in _LEAVES:
                raise StructureError(_at(event, "document"), f"unexpected {_describe(event)}")
            if depth == 0:
                return


def _at(event: yaml.Event, fallback: str) -> str:
    mark = event.start_mark
    return fallback if mark is None else line(mark.line + 1)


def _describe(event: yaml.Event) -> str:
    names = {
        yaml.MappingStartEvent: "a mapping",
        yaml.SequenceStartEvent: "a list",
        yaml.ScalarEvent: "a single value",
        yaml.AliasEvent: "an alias (*name), which lockfiles do not use",
    }
    return names.get(type(event), "the end of the document")
