"""Ruby: the `specifications/<name>-<version>[-<platform>].gemspec` RubyGems writes for each installed gem.

These files are Ruby source. Nothing is executed: only the lines RubyGems' `Gem::Specification#to_ruby`
writes for the identity of the gem are read, under this grammar (anything else in the file is ignored):

    block    := 'Gem::Specification.new do |' VAR '|'          (the first such line; VAR is an identifier)
    identity := VAR '.' ('name' | 'version' | 'platform') '=' STRING ['.freeze']   (a whole line, spaces
                aside; the first assignment of each field counts, later ones and other receivers are ignored)
    STRING   := '"' (any character but '"', '\\' or '#{' | '\\' one of '"', '\\', '#')* '"'
              | "'" (any character but "'" or '\\' | '\\' one of "'", '\\')* "'"

`to_ruby` dumps strings with `String#dump`, so an installed gem's name and version are always such literals;
a specification whose name or version is computed (`s.version = Foo::VERSION`, an interpolated string) is a
hand-written one and reported unscannable rather than guessed. The file name, `<name>-<version>.gemspec` or
`<name>-<version>-<platform>.gemspec`, is a cross-check: a specification that disagrees with its own file name
is unscannable too, since it is not the one RubyGems installed there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from secapi.adapters.lockfiles._common import Entry, EntryParser, StructureError, lines
from secapi.adapters.lockfiles.ruby import ECOSYSTEM
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import gem_purl

_BLOCK = re.compile(r"\s*Gem::Specification\.new\s+do\s+\|\s*([A-Za-z_][A-Za-z0-9_]*)\s*\|\s*")
_FIELDS = ("name", "version", "platform")
_DOUBLE = re.compile(r'"((?:[^"\\#]|#(?!\{)|\\["\\#])*)"')
_SINGLE = re.compile(r"'((?:[^'\\]|\\['\\])*)'")
_ESCAPE = re.compile(r"\\(.)")
_INSTALLED_ONLY = "only the specifications RubyGems writes when it installs a gem are read"


def _literal(value: str) -> str | None:
    """The text of a Ruby string literal as `to_ruby` writes it (`"x".freeze`), or None for anything else."""
    value = value.strip().removesuffix(".freeze")
    found = _DOUBLE.fullmatch(value) or _SINGLE.fullmatch(value)
    return None if found is None else _ESCAPE.sub(r"\1", found[1])


class GemspecParser(EntryParser):
    """Reads one installed gem's specification: one entry, the gem itself."""

    ecosystem = ECOSYSTEM
    default_filename = "unknown.gemspec"

    def entries(self, content: str) -> Iterator[Entry]:
        """The gem the specification describes (at most one entry)."""
        assigned = self._identity(content)
        name, version = assigned.get("name"), assigned.get("version")
        if name is None or not name.strip():
            raise StructureError(None, f'no string literal name (`s.name = "..."`): {_INSTALLED_ONLY}')
        where = self._filename
        if version is None or not version.strip():
            reason = f'the version is not a string literal (`s.version = "..."`): {_INSTALLED_ONLY}'
            yield UnscannableEntry(name=name, reason=reason, location=where)
            return
        expected = f"{name}-{version}"
        stem = self._filename.removesuffix(".gemspec")
        platform = assigned.get("platform")
        if platform not in (None, "ruby"):
            expected = f"{expected}-{platform}"
        if stem != expected:
            reason = f"the file name says {stem!r} but the specification says {expected!r}"
            yield UnscannableEntry(name=name, reason=reason, location=where)
            return
        yield Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=gem_purl(name, version), location=where)

    @staticmethod
    def _identity(content: str) -> dict[str, str | None]:
        """`name`, `version` and `platform` as assigned in the specification block (None: not a literal)."""
        variable: str | None = None
        assigned: dict[str, str | None] = {}
        for _, text in lines(content):
            if variable is None:
                block = _BLOCK.fullmatch(text)
                variable = None if block is None else block[1]
                continue
            receiver, dot, rest = text.strip().partition(".")
            if receiver != variable or not dot:
                continue
            field_name, equals, value = rest.partition("=")
            field_name = field_name.strip()
            if equals and field_name in _FIELDS and field_name not in assigned and not value.startswith("="):
                assigned[field_name] = _literal(value)
        if variable is None:
            raise StructureError(None, f"no `Gem::Specification.new do |s|` block: {_INSTALLED_ONLY}")
        return assigned
