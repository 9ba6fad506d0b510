"""Which packages an ignore rule (or a VEX product) names: the pattern language and advisory ids.

A rule's `package` is one of:

- absent: every package;
- a package name (`lodash`, `@babel/core`, `golang.org/x/net`), compared case-insensitively, where `*`
  stands for any run of characters (`@babel/*`, `golang.org/x/*`);
- a package URL without qualifiers or subpath: `pkg:TYPE/[NAMESPACE/]NAME` names the package at every
  version, `pkg:TYPE/[NAMESPACE/]NAME@VERSION` one version; `*` may stand in the namespace, name or version
  (`pkg:npm/%40babel/*`, `pkg:pypi/django@4.2.*`). Type, namespace and name compare case-insensitively (PyPI
  names after PEP 503 normalisation); percent-escapes are decoded first, so `pkg:npm/@babel/core` and
  `pkg:npm/%40babel/core` are the same pattern. A finding matches only through its own purl.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from packaging.utils import canonicalize_name

from secapi.domain.errors import InvalidInput
from secapi.domain.findings import PackageRef

MAX_PATTERN = 300
ADVISORY_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9._:]+)+$"
ADVISORY_ID: Final = re.compile(ADVISORY_PATTERN)
"""OSV-style ids and aliases: a prefix, then dash-separated parts (CVE-2021-44228, GHSA-jfh8-c2jp-5v3q,
PYSEC-2021-142, RUSTSEC-2021-0079, DSA-5169-1, ALSA-2023:0946, openSUSE-SU-2020:0051-1)."""
_PURL_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9.+-]*")
_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f]")


def advisory_id(value: str, *, field: str = "advisory") -> str:
    """A well-formed advisory id, stripped; `InvalidInput` otherwise."""
    text = value.strip()
    if len(text) > 100 or not ADVISORY_ID.fullmatch(text):
        raise InvalidInput(
            f"{field} must be an advisory id or alias such as CVE-2021-44228 or GHSA-jfh8-c2jp-5v3q, "
            f"got {value[:60]!r}",
            field=field,
        )
    return text


@dataclass(frozen=True, slots=True)
class Purl:
    """The parts of a package URL a match looks at (qualifiers and subpath dropped), decoded."""

    type: str
    namespace: str
    name: str
    version: str | None

    @classmethod
    def parse(cls, text: str) -> Purl | None:
        """The purl's parts, or None if `text` is not `pkg:TYPE/NAME...`."""
        if not text.startswith("pkg:"):
            return None
        rest = text[4:].lstrip("/").split("#", 1)[0].split("?", 1)[0]
        kind, _, path = rest.partition("/")
        if not _PURL_TYPE.fullmatch(kind) or not path:
            return None
        version: str | None = None
        head, at, tail = path.rpartition("@")
        if at and "/" not in tail and head and not head.endswith("/"):
            path, version = head, unquote(tail)
        segments = [unquote(part) for part in path.strip("/").split("/")]
        if not segments or not segments[-1]:
            return None
        return cls(type=kind.lower(), namespace="/".join(segments[:-1]), name=segments[-1], version=version or None)

    def key(self) -> tuple[str, str, str]:
        """Type, namespace and name as compared: lower case, PyPI names PEP 503-normalised."""
        name = canonicalize_name(self.name) if self.type == "pypi" else self.name.lower()
        return self.type, self.namespace.lower(), name


def _glob(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class PackagePattern:
    """A parsed `package` pattern (see the module docstring); `matches` says whether a finding's package fits."""

    text: str
    _name: re.Pattern[str] | None
    _purl: tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str] | None] | None

    @classmethod
    def parse(cls, text: str, *, field: str = "package") -> PackagePattern:
        """Validate and parse; `InvalidInput` names what is wrong."""
        pattern = text.strip()
        if not pattern or len(pattern) > MAX_PATTERN or _FORBIDDEN.search(pattern):
            raise InvalidInput(
                f"{field} must be 1-{MAX_PATTERN} characters without spaces or control characters", field=field
            )
        if not pattern.startswith("pkg:"):
            if pattern.strip("*") == "":
                raise InvalidInput(f"{field} {pattern!r} matches every package: leave {field} out instead", field=field)
            return cls(pattern, _glob(pattern), None)
        if "?" in pattern or "#" in pattern:
            raise InvalidInput(f"{field}: qualifiers (?...) and subpaths (#...) are not part of a pattern", field=field)
        purl = Purl.parse(pattern)
        if purl is None:
            raise InvalidInput(
                f"{field} {pattern!r} is not a package URL (pkg:TYPE/[NAMESPACE/]NAME[@VERSION])", field=field
            )
        kind, namespace, name = purl.key()
        return cls(
            pattern,
            None,
            (_glob(kind), _glob(namespace), _glob(name), _glob(purl.version) if purl.version is not None else None),
        )

    def matches(self, package: PackageRef) -> bool:
        """True when the package fits the pattern (a purl pattern needs the package's purl)."""
        if self._name is not None:
            return self._name.fullmatch(package.name) is not None
        assert self._purl is not None
        found = Purl.parse(package.purl) if package.purl else None
        if found is None:
            return False
        kind, namespace, name, version = self._purl
        found_kind, found_namespace, found_name = found.key()
        if not (kind.fullmatch(found_kind) and namespace.fullmatch(found_namespace) and name.fullmatch(found_name)):
            return False
        return version is None or version.fullmatch(found.version or package.version) is not None
