"""Elixir: Mix's `mix.lock`, an Elixir map literal of Hex packages and git checkouts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from secapi.adapters.lockfiles._common import Entry, EntryParser, StructureError, line, redact, unreadable
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import hex_purl

ECOSYSTEM = "Hex"
_HEXPM = "hexpm"
_MAX_DEPTH = 64

# mix.lock is Elixir source, written by `Mix.Dep.Lock` with `inspect`. No Python library reads Elixir
# terms, and evaluating the file is out of the question, so this reads the small subset `inspect`
# produces (maps, tuples, lists, keyword lists, strings, atoms, numbers) and refuses anything else.
# Tokens are plain strings classified by their first character, and `findall` cuts them in one C call:
# a token per Python step was most of the parse time. Newlines are tokens so entries know their line;
# any other character no rule matches becomes a one-character term that the reader refuses.
_TOKEN = re.compile(
    r"""
    [ \t\r]*(?:\#[^\n]*)?
    (
        \n
        |"[^"\\]*(?:\\.[^"\\]*)*"(?::(?=\s))?   # a string, or a quoted keyword key `"cowboy": `
        |:"[^"\\]*(?:\\.[^"\\]*)*"               # a quoted atom
        |:?[A-Za-z_][A-Za-z0-9_@.]*[?!]?(?::(?=\s))?  # an atom, a word (true, nil) or a keyword key
        |-?\d[\d_]*(?:\.\d[\d_]*)?
        |%\{|=>|[{}\[\],]
        |.
    )
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_PUNCTUATION = frozenset({"%{", "=>", "{", "}", "[", "]", ","})


@dataclass(frozen=True, slots=True)
class Atom:
    """An Elixir atom (`:hex`), kept apart from a string ("hex")."""

    name: str


def _unquote(text: str) -> str:
    inner = text[1:-1]
    return _ESCAPE.sub(lambda found: _ESCAPES.get(found[1], found[1]), inner) if "\\" in inner else inner


def _is_key(term: str) -> bool:
    """`cowboy:` or `"cowboy":`: a keyword key (a string or atom ending a term never ends in a colon)."""
    return term[-1] == ":" and term[0] != ":"


class _TermReader:
    """Builds Python values from the tokens: maps as dicts, tuples, lists, `Atom`s and strings."""

    def __init__(self, content: str) -> None:
        self._tokens: list[str] = _TOKEN.findall(content)
        self._index = 0
        self.line = 1

    def _next(self) -> str:
        tokens, index = self._tokens, self._index
        while index < len(tokens) and tokens[index] == "\n":
            self.line += 1
            index += 1
        if index >= len(tokens):
            raise StructureError(line(self.line), "the file ends inside a term")
        self._index = index + 1
        return tokens[index]

    def _at_end(self) -> bool:
        return all(term == "\n" for term in self._tokens[self._index :])

    def _error(self, reason: str) -> StructureError:
        return StructureError(line(self.line), reason)

    def document(self) -> list[tuple[str, object, int]]:
        """The top-level map as (key, value, line of the key) in file order."""
        if self._at_end():
            return []
        if self._next() != "%{":
            raise self._error("expected the map `%{` that starts a mix.lock")
        entries = self._map_entries(1)
        if not self._at_end():
            raise self._error(f"unexpected {self._next()!r} after the lock map")
        return entries

    def _map_entries(self, depth: int) -> list[tuple[str, object, int]]:
        entries: list[tuple[str, object, int]] = []
        for term in self._items("}", depth):
            number = self.line
            if _is_key(term):
                key: object = _unquote(term[:-1]) if term[0] == '"' else term[:-1]
            else:
                key = self._value(term, depth)
                if self._next() != "=>":
                    raise self._error("expected '=>' between a map key and its value")
            entries.append((key if isinstance(key, str) else repr(key), self._value(self._next(), depth), number))
        return entries

    def _items(self, closer: str, depth: int) -> Iterator[str]:
        """The first term of each comma-separated item up to `closer` (a trailing comma is allowed)."""
        if depth > _MAX_DEPTH:
            raise self._error("the term is nested too deeply")
        while True:
            term = self._next()
            if term == closer:
                return
            yield term
            after = self._next()
            if after == closer:
                return
            if after != ",":
                raise self._error(f"expected ',' or {closer!r}, found {after!r}")

    def _value(self, term: str, depth: int) -> object:
        first = term[0]
        if first == '"' and term[-1] == '"' and len(term) > 1:
            return _unquote(term)
        if term in _PUNCTUATION:
            if term == "{":
                return tuple([self._value(item, depth + 1) for item in self._items("}", depth + 1)])
            if term == "[":
                return [self._list_item(item, depth + 1) for item in self._items("]", depth + 1)]
            if term == "%{":
                return {key: value for key, value, _ in self._map_entries(depth + 1)}
        elif _is_key(term):
            pass  # a key where a value belongs
        elif first == ":" and len(term) > 1:
            return Atom(_unquote(term[1:]) if term[1] == '"' else term[1:])
        elif first.isalpha() or first == "_":
            return Atom(term)
        elif first.isdigit() or (first == "-" and len(term) > 1):
            return term
        raise self._error(f"unexpected {term!r}")

    def _list_item(self, term: str, depth: int) -> object:
        if _is_key(term):  # keyword list: `[hex: :cowlib, repo: "hexpm"]`
            return (Atom(term[:-1].strip('"')), self._value(self._next(), depth))
        return self._value(term, depth)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _entry(key: str, value: object, where: str) -> Entry:
    if not isinstance(value, tuple) or not value or not isinstance(value[0], Atom):
        raise StructureError(where, 'expected a tuple such as {:hex, :name, "1.0.0", ...}')
    kind = value[0].name
    if kind == "hex":
        if len(value) < 3 or not isinstance(value[1], Atom) or _text(value[2]) is None:
            raise StructureError(where, 'expected {:hex, :package, "version", ...}')
        name, version = value[1].name, str(value[2])
        repo = _text(value[6]) if len(value) > 6 else _HEXPM
        if repo == _HEXPM:
            return Package(
                name=name, version=version, ecosystem=ECOSYSTEM, purl=hex_purl(name, version), location=where
            )
        reason = f"installed from the Hex repository {repo!r}, not the public hex.pm; its advisories may not apply"
        return UnscannableEntry(name=name, reason=reason, location=where)
    if kind == "git":
        url = _text(value[1]) if len(value) > 1 else None
        target = redact(url) if url else "a git repository"
        return UnscannableEntry(
            name=key, reason=f"installed from git ({target}), not a release on hex.pm", location=where
        )
    return UnscannableEntry(
        name=key, reason=f"installed from the source :{kind}, not a release on hex.pm", location=where
    )


class MixLockParser(EntryParser):
    """Reads `mix.lock`; git checkouts and packages from private Hex repositories are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "mix.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """One entry per key of the lock map, located by line."""
        for key, value, number in _TermReader(content.removeprefix("\ufeff")).document():
            where = line(number)
            try:
                yield _entry(key, value, where)
            except StructureError as error:
                yield unreadable(where, key, error)
