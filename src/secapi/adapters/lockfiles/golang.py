"""Go modules: the `require` and `replace` directives of `go.mod`."""

from __future__ import annotations

import json
import re

from secapi.adapters.lockfiles._common import StructureError, line, lines, translate_errors
from secapi.adapters.lockfiles.purl import golang_purl
from secapi.domain.lockfiles import ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry

ECOSYSTEM = "Go"
_IGNORED = frozenset({"module", "exclude", "retract", "godebug", "tool", "ignore"})
# A quoted string, a raw string, `=>`, a parenthesis, or a bare word (which stops before `=>`).
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|=>|[()]|(?:(?!=>)[^\s()"`])+')

Module = tuple[str, str | None]


def _tokens(text: str, where: str) -> list[str]:
    """Split one go.mod line into tokens: bare words, quoted strings, `(`, `)` and `=>`."""
    tokens: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        _expect_blank(text[position : match.start()], where)
        token = match[0]
        if token.startswith('"'):
            try:
                token = str(json.loads(token))
            except json.JSONDecodeError as exc:
                raise StructureError(where, f"invalid quoted string {token}: {exc.msg}") from exc
        elif token.startswith("`"):
            token = token[1:-1]
        tokens.append(token)
        position = match.end()
    _expect_blank(text[position:], where)
    return tokens


def _expect_blank(gap: str, where: str) -> None:
    if gap.strip():
        raise StructureError(where, f"unexpected text {gap.strip()!r} (an unterminated string?)")


def _version(raw: str, where: str) -> str:
    if not raw.startswith("v") or len(raw) < 2:
        raise StructureError(where, f"module version {raw!r} must look like v1.2.3")
    return raw


class GoModParser:
    """Reads `go.mod`: required modules with `replace` applied; the `go` line is not a package."""

    def __init__(self, filename: str = "go.mod") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse the directives of a go.mod file into Go module packages."""
        with translate_errors(self._filename):
            return _GoModReader().read(content)


class _GoModReader:
    """The state of one go.mod parse, so a parser instance can be shared."""

    def __init__(self) -> None:
        self._requires: list[tuple[str, str, str]] = []
        self._replaces: dict[Module, tuple[str, str | None]] = {}
        self._toolchain: list[tuple[str, str]] = []

    def read(self, content: str) -> ParsedLockfile:
        block: str | None = None
        for number, raw in lines(content):
            where = line(number)
            tokens = _tokens(raw.split("//", 1)[0], where)
            if not tokens:
                continue
            if block is not None:
                if tokens == [")"]:
                    block = None
                else:
                    self._directive(block, tokens, where)
            elif tokens[1:] == ["("]:
                block = tokens[0]
            elif tokens[1:] != ["(", ")"]:
                self._directive(tokens[0], tokens[1:], where)
        if block is not None:
            raise StructureError("end of file", f"the {block} block is never closed with ')'")
        return self._result()

    def _directive(self, verb: str, args: list[str], where: str) -> None:
        if verb in ("go", "toolchain") and len(args) == 1:
            self._toolchain.append((f"{verb} {args[0]}", where))
        elif verb == "require" and len(args) == 2:
            self._requires.append((args[0], _version(args[1], where), where))
        elif verb == "replace" and "=>" in args:
            arrow = args.index("=>")
            old, new = args[:arrow], args[arrow + 1 :]
            if len(old) not in (1, 2) or len(new) not in (1, 2):
                raise StructureError(where, "expected `replace old [version] => new [version]`")
            old_version = _version(old[1], where) if len(old) == 2 else None
            new_version = _version(new[1], where) if len(new) == 2 else None
            self._replaces[(old[0], old_version)] = (new[0], new_version)
        elif verb not in _IGNORED:
            raise StructureError(where, f"unknown or incomplete directive {' '.join([verb, *args])!r}")

    def _result(self) -> ParsedLockfile:
        packages: list[Package] = []
        unscannable: list[UnscannableEntry] = []
        for path, version, where in self._requires:
            target = self._replaces.get((path, version)) or self._replaces.get((path, None))
            if target is not None and target[1] is None:
                reason = f"replaced by the local directory {target[0]}, which is not a published module"
                unscannable.append(UnscannableEntry(name=path, reason=reason, location=where))
                continue
            name, raw = (target[0], target[1] or version) if target else (path, version)
            # OSV's Go ranges are SEMVER without the `v`; the purl keeps Go's spelling.
            packages.append(
                Package(name=name, version=raw[1:], ecosystem=ECOSYSTEM, purl=golang_purl(name, raw), location=where)
            )
        if self._toolchain:
            named = ", ".join(text for text, _ in self._toolchain)
            reason = (
                f"go.mod only names the minimum Go release ({named}); the toolchain that builds the program, "
                "and so its standard library version, is not known"
            )
            unscannable.append(UnscannableEntry(name="stdlib", reason=reason, location=self._toolchain[-1][1]))
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)
