"""Go modules: the `require` and `replace` directives of `go.mod`, and the Go release it names."""

from __future__ import annotations

import json
import re

from secapi.adapters.lockfiles._common import StructureError, line, lines, translate_errors
from secapi.adapters.lockfiles.go_sum import read_go_sum
from secapi.domain.lockfiles import LockfileParser, ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry, UnscannedItem
from secapi.domain.purl import golang_purl
from secapi.domain.versions.semver import semver_key

ECOSYSTEM = "Go"
_IGNORED = frozenset({"module", "exclude", "retract", "godebug", "tool", "ignore"})
# A quoted string, a raw string, `=>`, a parenthesis, or a bare word (which stops before `=>`).
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|=>|[()]|(?:(?!=>)[^\s()"`])+')

_GO_RELEASE = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?(?:(?P<pre>rc|beta)(?P<pre_number>\d+))?")
_STDLIB_PURL = "pkg:golang/stdlib@v"
_TRANSITIVE = (
    "a go.mod older than go 1.17 lists only direct requirements; upload its go.sum with it to scan "
    "the modules they pull in"
)

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


def _is_module_version(raw: str) -> bool:
    return raw.startswith("v") and len(raw) > 1


def _go_release(raw: str) -> tuple[int, int, str] | None:
    """(major, minor, OSV version) of a Go release: `1.21` -> 1.21.0, `go1.22.1`, `1.21rc2` -> 1.21.0-rc.2."""
    found = _GO_RELEASE.fullmatch(raw.removeprefix("go"))
    if found is None:
        return None
    major, minor = int(found["major"]), int(found["minor"])
    version = f"{major}.{minor}.{found['patch'] or 0}"
    if found["pre"]:
        version += f"-{found['pre']}.{found['pre_number']}"
    return major, minor, version


class GoModParser(LockfileParser):
    """Reads `go.mod` with `replace` applied, plus the Go standard library as `stdlib`.

    With `go.sum` as companion, a pre-1.17 go.mod (which lists only direct requirements) is
    completed with every module whose code go.sum holds.
    """

    def __init__(self, filename: str = "go.mod", go_sum: str | None = None) -> None:
        self._filename = filename
        self._go_sum = go_sum

    def parse(self, content: str) -> ParsedLockfile:
        """Parse the directives of a go.mod file into Go module packages."""
        with translate_errors(self._filename):
            return _GoModReader().read(content, self._go_sum)


class _GoModReader:
    """The state of one go.mod parse, so a parser instance can be shared."""

    def __init__(self) -> None:
        self._requires: list[tuple[str, str, str]] = []
        self._replaces: dict[Module, tuple[str, str | None]] = {}
        self._directives: dict[str, tuple[str, str]] = {}  # `go` / `toolchain` -> (version, location)
        self._unscannable: list[UnscannableEntry] = []

    def read(self, content: str, go_sum: str | None) -> ParsedLockfile:
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
        return self._result(go_sum)

    def _directive(self, verb: str, args: list[str], where: str) -> None:
        if verb in ("go", "toolchain") and len(args) == 1:
            self._directives[verb] = (args[0], where)
        elif verb == "require" and args:
            if len(args) == 2 and _is_module_version(args[1]):
                self._requires.append((args[0], args[1], where))
            else:
                reason = f"`require {' '.join(args)}` does not give a module version like v1.2.3"
                self._unscannable.append(UnscannableEntry(name=args[0], reason=reason, location=where))
        elif verb == "replace" and "=>" in args:
            self._replace(args, where)
        elif verb not in _IGNORED:
            raise StructureError(where, f"unknown or incomplete directive {' '.join([verb, *args])!r}")

    def _replace(self, args: list[str], where: str) -> None:
        arrow = args.index("=>")
        old, new = args[:arrow], args[arrow + 1 :]
        versions = [*old[1:2], *new[1:2]]
        if len(old) not in (1, 2) or len(new) not in (1, 2) or not all(map(_is_module_version, versions)):
            raise StructureError(where, "expected `replace old [version] => new [version]`")
        self._replaces[(old[0], old[1] if len(old) == 2 else None)] = (new[0], new[1] if len(new) == 2 else None)

    def _result(self, go_sum: str | None) -> ParsedLockfile:
        packages: list[Package] = []
        unscanned: list[UnscannedItem] = []
        go = self._directives.get("go")
        release = _go_release(go[0]) if go else None
        # Before go 1.17, go.mod lists only direct requirements (no module graph pruning).
        lists_every_module = release is not None and (release[0], release[1]) >= (1, 17)
        modules = {path: (version, where) for path, version, where in self._requires}
        if go_sum is not None and not lists_every_module:
            from_sum = read_go_sum(go_sum)
            self._unscannable.extend(from_sum.unreadable)
            for path, (version, where) in from_sum.selected.items():
                listed = modules.get(path)
                if listed is None or semver_key(version) > semver_key(listed[0]):
                    modules[path] = (version, where)
        elif not lists_every_module:
            unscanned.append(UnscannedItem(path="go.mod", kind="go-transitive", reason=_TRANSITIVE))
        for path, (version, where) in modules.items():
            found = self._module(path, version, where)
            if isinstance(found, Package):
                packages.append(found)
            else:
                self._unscannable.append(found)
        packages.extend(self._stdlib())
        return ParsedLockfile.of(ECOSYSTEM, packages, self._unscannable, unscanned)

    def _module(self, path: str, version: str, where: str) -> Package | UnscannableEntry:
        target = self._replaces.get((path, version)) or self._replaces.get((path, None))
        if target is not None and target[1] is None:
            reason = f"replaced by the local directory {target[0]}, which is not a published module"
            return UnscannableEntry(name=path, reason=reason, location=where)
        name, raw = (target[0], target[1] or version) if target else (path, version)
        # OSV's Go ranges are SEMVER without the `v`; the purl keeps Go's spelling.
        return Package(name=name, version=raw[1:], ecosystem=ECOSYSTEM, purl=golang_purl(name, raw), location=where)

    def _stdlib(self) -> list[Package]:
        """The standard library, as OSV names it: `stdlib` at the release of the toolchain that builds."""
        verb = "toolchain" if "toolchain" in self._directives else "go"
        raw, where = self._directives.get(verb, ("", "go.mod"))
        release = _go_release(raw)
        if release is not None and (verb == "toolchain" or (release[0], release[1]) >= (1, 21)):
            version = release[2]
            return [
                Package(
                    name="stdlib", version=version, ecosystem=ECOSYSTEM, purl=_STDLIB_PURL + version, location=where
                )
            ]
        if not raw:
            reason = "go.mod has no go directive, so the Go release (and its standard library) is not known"
        elif release is None:
            reason = f"`{verb} {raw}` is not a Go release, so the standard library version is not known"
        else:
            # Before Go 1.21 the go line is a language version, not the toolchain that builds: any later
            # Go release may build it, so no exact standard library version can be claimed.
            reason = f"`go {raw}` is a language version, not a toolchain; the standard library version is not known"
        self._unscannable.append(UnscannableEntry(name="stdlib", reason=reason, location=where))
        return []
