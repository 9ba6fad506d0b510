"""Shared plumbing for the lockfile parsers: decoding, typed access and error translation."""

from __future__ import annotations

import datetime
import json
import re
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import yaml

from secapi.domain.lockfiles import LockfileParser, MalformedLockfile, ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class StructureError(Exception):
    """Raised inside a parser; `translate_errors` adds the file name and re-raises it as domain error."""

    def __init__(self, location: str | None, reason: str) -> None:
        super().__init__(location, reason)
        self.location = location
        self.reason = reason


@contextmanager
def translate_errors(filename: str) -> Iterator[None]:
    """Turn anything a parser raises into `MalformedLockfile`, the one error the port promises."""
    try:
        yield
    except MalformedLockfile:
        raise
    except StructureError as exc:
        raise MalformedLockfile(filename, exc.location, exc.reason) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        location = None if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"
        raise MalformedLockfile(filename, location, f"invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:  # e.g. a control character the YAML reader refuses
        raise MalformedLockfile(filename, None, f"invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise MalformedLockfile(filename, None, "the document is nested too deeply") from exc
    except Exception as exc:  # a parser bug must still surface as a 4xx, never a 500
        raise MalformedLockfile(filename, None, f"unexpected structure ({type(exc).__name__}: {exc})") from exc


def line(number: int) -> str:
    """The location text for a 1-based line number."""
    return f"line {number}"


def lines(content: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based number, text) for each line, without line terminators or a BOM."""
    for index, text in enumerate(content.removeprefix("\ufeff").split("\n"), start=1):
        yield index, text.removesuffix("\r")


def load_json(content: str) -> object:
    """Decode JSON, naming the line and column of a syntax error."""
    try:
        return json.loads(content.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise StructureError(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}") from exc


def load_toml(content: str) -> dict[str, Any]:
    """Decode TOML, naming the line and column of a syntax error."""
    try:
        return tomllib.loads(content.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        if found is None:
            raise StructureError(None, f"invalid TOML: {message}") from exc
        location = f"line {found[1]}, column {found[2]}"
        raise StructureError(location, f"invalid TOML: {message[: found.start()]}") from exc


def redact(url: str) -> str:
    """Hide credentials (anything but the conventional `git@` user) in a URL echoed back in a report."""
    scheme, sep, rest = url.partition("://")
    authority = rest.split("/", 1)[0]
    if not sep or "@" not in authority or authority.split("@", 1)[0] == "git":
        return url
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def child(parent: str, key: str | int) -> str:
    """The path of `key` under `parent`, e.g. `packages["node_modules/a"].version`."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if parent.startswith("line "):  # a YAML entry located by line: `line 12 (resolution)`
        return f"{parent} ({key})"
    if _IDENTIFIER.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{json.dumps(key)}]"


def keyed(parent: str, key: str) -> str:
    """The path of a map entry keyed by a package name or path, always bracketed: `default["six"]`."""
    return f"{parent}[{json.dumps(key)}]"


_KINDS: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
    datetime.datetime: "a date and time",
    datetime.date: "a date",
    datetime.time: "a time of day",
}


def _kind(value: object) -> str:
    """What a JSON, TOML or YAML value is, as a sentence says it (`found a number`, never `found a int`)."""
    return _KINDS.get(type(value), f"a value of type {type(value).__name__}")


def as_mapping(value: object, where: str) -> Mapping[str, object]:
    """`value` as a mapping with string keys, or a `StructureError` naming `where`."""
    if not isinstance(value, dict):
        raise StructureError(where or "document", f"expected an object, found {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise StructureError(where or "document", f"expected string keys, found {key!r}")
    return value


def as_list(value: object, where: str) -> list[object]:
    """`value` as a list, or a `StructureError` naming `where`."""
    if not isinstance(value, list):
        raise StructureError(where or "document", f"expected an array, found {_kind(value)}")
    return value


def as_str(value: object, where: str) -> str:
    """`value` as a string, or a `StructureError` naming `where`."""
    if not isinstance(value, str):
        raise StructureError(where, f"expected a string, found {_kind(value)}")
    return value


def field(mapping: Mapping[str, object], key: str, where: str) -> str:
    """The required string field `key` of `mapping` at `where`."""
    if key not in mapping:
        raise StructureError(where or "document", f"missing required field {key!r}")
    return as_str(mapping[key], child(where, key))


def optional_field(mapping: Mapping[str, object], key: str, where: str) -> str | None:
    """The string field `key` of `mapping`, or None when it is absent or null."""
    value = mapping.get(key)
    return None if value is None else as_str(value, child(where, key))


def section(mapping: Mapping[str, object], key: str, where: str = "") -> Mapping[str, object]:
    """The object under `key`, or an empty mapping when it is absent or null."""
    value = mapping.get(key)
    return {} if value is None else as_mapping(value, child(where, key))


def toml_packages(content: str) -> list[tuple[str, Mapping[str, object]]]:
    """The `[[package]]` tables of a TOML lockfile, each with its path (`package[3]`)."""
    tables = as_list(load_toml(content).get("package", []), "package")
    return [(child("package", index), as_mapping(table, child("package", index))) for index, table in enumerate(tables)]


Entry = Package | UnscannableEntry | None
"""What one lockfile entry is: a scannable package, something named but unscannable, or nothing to report."""


def unreadable(where: str, name: object, error: StructureError) -> UnscannableEntry:
    """The unscannable entry for one entry that could not be read: it never voids the whole file."""
    inside = "" if error.location in (None, where) else f" at {error.location}"
    label = name if isinstance(name, str) and name else "(an entry without a name)"
    return UnscannableEntry(name=label, reason=f"this entry could not be read{inside}: {error.reason}", location=where)


class EntryParser(LockfileParser, ABC):
    """A lockfile parser that yields one `Entry` per lockfile entry; this class collects them.

    Subclasses set `ecosystem` and `default_filename` and write `entries`; any structural error
    they raise becomes a `MalformedLockfile` naming the file and the place.
    """

    ecosystem: ClassVar[str]
    default_filename: ClassVar[str]

    def __init__(self, filename: str | None = None) -> None:
        self._filename = filename or self.default_filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse `content` into packages and unscannable entries."""
        packages: list[Package] = []
        unscannable: list[UnscannableEntry] = []
        with translate_errors(self._filename):
            for found in self.entries(content):
                if isinstance(found, Package):
                    packages.append(found)
                elif found is not None:
                    unscannable.append(found)
        return ParsedLockfile.of(self.ecosystem, packages, unscannable)

    @abstractmethod
    def entries(self, content: str) -> Iterator[Entry]:
        """Each entry of the lockfile, in order."""


class TomlPackagesParser(EntryParser):
    """An `EntryParser` over the `[[package]]` tables of a TOML lockfile (Cargo, Poetry, uv).

    Subclasses write `_entry` for one table; a table that cannot be read is an unscannable entry.
    """

    def entries(self, content: str) -> Iterator[Entry]:
        """The `[[package]]` tables, each as an entry."""
        for where, table in toml_packages(content):
            try:
                yield self._entry(table, where)
            except StructureError as error:
                yield unreadable(where, table.get("name"), error)

    @staticmethod
    @abstractmethod
    def _entry(table: Mapping[str, object], where: str) -> Entry:
        """The entry of one `[[package]]` table at `where` (`package[3]`)."""
