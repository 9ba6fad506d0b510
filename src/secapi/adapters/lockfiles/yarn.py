"""`yarn.lock`: yarn classic (v1, its own indented format) and yarn berry (v2+, YAML)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from urllib.parse import unquote

from secapi.adapters.lockfiles._common import (
    StructureError,
    field,
    line,
    lines,
    redact,
    translate_errors,
    unreadable,
)
from secapi.adapters.lockfiles._yaml import YamlReader
from secapi.adapters.lockfiles.npm import (
    ECOSYSTEM,
    GIT_PREFIXES,
    LOCAL_PREFIXES,
    classify,
    split_spec,
)
from secapi.domain.lockfiles import LockfileParser, ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import npm_purl

_BERRY_MARKER = re.compile(r"^__metadata:", re.MULTILINE)
_DECODER = json.JSONDecoder()
_CODELOAD = "https://codeload.github.com/"

Found = Package | UnscannableEntry


def _scalar(text: str, start: int, where: str, stop: str) -> tuple[str, int]:
    """Read one quoted (JSON-escaped) or bare token at `start`; a bare token ends at `stop`."""
    if text.startswith('"', start):
        try:
            value, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            raise StructureError(where, f"invalid quoted string: {exc.msg}") from exc
        return str(value), end
    end = text.find(stop, start)
    end = len(text) if end < 0 else end
    return text[start:end].strip(), end


def _specifiers(header: str, where: str) -> list[str]:
    """The comma-separated, possibly quoted specifiers of an entry header (without its `:`)."""
    specs: list[str] = []
    position = 0
    while position < len(header):
        while position < len(header) and header[position] == " ":
            position += 1
        spec, position = _scalar(header, position, where, ",")
        if not spec:
            raise StructureError(where, "empty package specifier in the entry header")
        specs.append(spec)
        rest = header[position:].lstrip(" ")
        if rest and not rest.startswith(","):
            raise StructureError(where, f"unexpected text after specifier {spec!r}: {rest!r}")
        position = len(header) - len(rest) + 1
    if not specs:
        raise StructureError(where, "the entry header names no package")
    return specs


def _v1_entries(content: str) -> Iterator[tuple[str, list[str], dict[str, str]]]:
    """Yield (location, specifiers, top-level fields) for each entry of a yarn v1 lockfile."""
    current: tuple[str, list[str], dict[str, str]] | None = None
    for number, text in lines(content):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = line(number)
        indent = len(text) - len(text.lstrip(" "))
        if indent == 0:
            if current is not None:
                yield current
            if not stripped.endswith(":"):
                raise StructureError(where, "expected an entry header ending with ':'")
            current = (where, _specifiers(stripped[:-1], where), {})
        elif current is None:
            raise StructureError(where, "indented line before the first entry header")
        elif indent == 2 and not stripped.endswith(":"):
            key, end = _scalar(stripped, 0, where, " ")
            value_text = stripped[end:].strip()
            value = _scalar(value_text, 0, where, "\n")[0] if value_text.startswith('"') else value_text
            current[2][key] = value
    if current is not None:
        yield current


def _v1_entry(where: str, specs: list[str], fields: dict[str, str]) -> Found:
    name, requested = split_spec(specs[0])
    if requested.startswith("npm:"):  # alias: `alias@npm:real@^1` installs `real`
        name = split_spec(requested[4:])[0]
        requested = ""
    resolved = fields.get("resolved")
    if requested.startswith(LOCAL_PREFIXES):
        reason = f"installed from a local path ({requested}), not a released version on the npm registry"
        return UnscannableEntry(name=name, reason=reason, location=where)
    if requested.startswith(("http://", "https://")):
        reason = f"installed from a URL ({redact(requested)}), not a released version on the npm registry"
        return UnscannableEntry(name=name, reason=reason, location=where)
    if requested.startswith(GIT_PREFIXES) or (resolved or "").startswith(_CODELOAD) or _is_shorthand(requested):
        reason = f"installed from git ({redact(resolved or requested)}), not a released version on the npm registry"
        return UnscannableEntry(name=name, reason=reason, location=where)
    return classify(name, fields.get("version"), resolved, where)


def _is_shorthand(requested: str) -> bool:
    """`user/repo` or `user/repo#ref`: yarn's GitHub shorthand."""
    return "/" in requested and ":" not in requested and not requested.startswith("@")


def _berry_name(key: str) -> str:
    """The package a berry entry key such as `"a@npm:^1.0.0, a@npm:^1.2.0"` is for."""
    return split_spec(key.split(",", 1)[0].strip())[0]


def _berry_entry(where: str, entry: Mapping[str, object]) -> Found | None:
    name, reference = split_spec(field(entry, "resolution", where))
    if reference == "workspace:.":
        return None  # the project the lockfile belongs to (its own package.json), not a dependency
    protocol, _, rest = reference.partition(":")
    if protocol == "patch":
        # `name@patch:name@npm%3A1.2.3#...`: the patched release is still that npm release.
        name, reference = split_spec(unquote(rest.split("#", 1)[0]))
        protocol, _, rest = reference.partition(":")
    if protocol == "workspace":
        reason = f"a workspace package ({rest}), local code not released on the npm registry"
        return UnscannableEntry(name=name, reason=reason, location=where)
    if protocol == "npm" and rest:
        return Package(name=name, version=rest, ecosystem=ECOSYSTEM, purl=npm_purl(name, rest), location=where)
    reason = f"resolved to {redact(reference)!r}, not a released version on the npm registry"
    return UnscannableEntry(name=name, reason=reason, location=where)


class YarnLockParser(LockfileParser):
    """Reads `yarn.lock` from yarn classic (v1) and berry (v2+, recognised by `__metadata`)."""

    def __init__(self, filename: str = "yarn.lock") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse either yarn lockfile flavour into npm packages."""
        with translate_errors(self._filename):
            if _BERRY_MARKER.search(content):
                reader = YamlReader(content)
                found: list[Package | UnscannableEntry | None] = []
                for key, where in reader.document():
                    if key == "__metadata":
                        reader.skip()
                    else:
                        fields = reader.fields(("resolution",), where)
                        try:
                            found.append(_berry_entry(where, fields))
                        except StructureError as error:
                            found.append(unreadable(where, _berry_name(key), error))
            else:
                found = [_v1_entry(*entry) for entry in _v1_entries(content)]
            packages = [item for item in found if isinstance(item, Package)]
            unscannable = [item for item in found if isinstance(item, UnscannableEntry)]
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)
