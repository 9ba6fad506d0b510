"""Version ordering per OSV ecosystem.

`compare_versions(ecosystem, a, b)` answers -1, 0 or 1 for any two strings
and never raises: each scheme gives unparseable strings a defined place
(documented in its module). Parsing is cached per scheme, so a matcher that
compares the same installed and advisory versions over and over pays for
parsing once and then for a tuple comparison.

| ecosystem (OSV name, before any `:` suffix) | scheme |
|---|---|
| Debian, Ubuntu | dpkg (`dpkg.py`) |
| Alpine, Wolfi, Chainguard | apk (`apk.py`) |
| PyPI | PEP 440 with legacy fallback (`pep440.py`) |
| npm, crates.io, Go, Hex | SemVer 2.0 (`semver.py`) |
| NuGet | NuGet SemVer variant (`semver.py`) |
| Maven | maven-artifact 3.8 ComparableVersion (`maven.py`) |
| RubyGems | Gem::Version (`rubygems.py`) |
| Packagist | Composer normalisation + version_compare (`composer.py`) |
| anything else | generic fallback (`generic.py`) |

The schemes are implemented here rather than taken from `univers`: its
objects are too slow to build and compare in the matcher's loop, and it gets
some orders wrong (Maven, Alpine); the tests compare these implementations
with the real tools and with `univers` where it is right.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from secapi.domain.versions.apk import apk_key
from secapi.domain.versions.composer import composer_key
from secapi.domain.versions.dpkg import dpkg_key
from secapi.domain.versions.generic import generic_key
from secapi.domain.versions.maven import maven_compare, maven_parse
from secapi.domain.versions.pep440 import pypi_key
from secapi.domain.versions.rubygems import rubygems_key
from secapi.domain.versions.semver import nuget_key, semver_key

__all__ = [
    "SEMVER",
    "VersionScheme",
    "compare_versions",
    "ecosystem_base",
    "scheme_for_ecosystem",
]

VersionKey = Any
"""A parsed version: only ever compared by the scheme that produced it."""


def _compare_ordered(left: VersionKey, right: VersionKey) -> int:
    return int(left > right) - int(left < right)


@dataclass(frozen=True, slots=True)
class VersionScheme:
    """How one family of ecosystems orders versions: a cached parse and a comparison."""

    name: str
    parse: Callable[[str], VersionKey]
    compare_parsed: Callable[[VersionKey, VersionKey], int] = _compare_ordered

    def compare(self, left: str, right: str) -> int:
        """Compare two version strings: -1, 0 or 1."""
        return self.compare_parsed(self.parse(left), self.parse(right))


DPKG = VersionScheme("dpkg", dpkg_key)
APK = VersionScheme("apk", apk_key)
PEP440 = VersionScheme("pep440", pypi_key)
SEMVER = VersionScheme("semver", semver_key)
NUGET = VersionScheme("nuget", nuget_key)
MAVEN = VersionScheme("maven", maven_parse, maven_compare)
RUBYGEMS = VersionScheme("rubygems", rubygems_key)
COMPOSER = VersionScheme("composer", composer_key)
GENERIC = VersionScheme("generic", generic_key)

_SCHEMES = {
    "debian": DPKG,
    "ubuntu": DPKG,
    "alpine": APK,
    # Wolfi and Chainguard ship apk packages and version them like Alpine.
    "wolfi": APK,
    "chainguard": APK,
    "pypi": PEP440,
    "npm": SEMVER,
    "crates.io": SEMVER,
    "go": SEMVER,
    "hex": SEMVER,
    "nuget": NUGET,
    "maven": MAVEN,
    "rubygems": RUBYGEMS,
    "packagist": COMPOSER,
}


def ecosystem_base(ecosystem: str) -> str:
    """The ecosystem without release or repository suffix, lower-cased (`Debian:12` -> `debian`)."""
    return ecosystem.partition(":")[0].strip().lower()


@lru_cache(maxsize=1024)
def scheme_for_ecosystem(ecosystem: str) -> VersionScheme:
    """The version scheme of an OSV ecosystem name; unknown names get the generic scheme."""
    return _SCHEMES.get(ecosystem_base(ecosystem), GENERIC)


def compare_versions(ecosystem: str, a: str, b: str) -> int:
    """Compare versions `a` and `b` by `ecosystem`'s rules: -1, 0 or 1; never raises."""
    return scheme_for_ecosystem(ecosystem).compare(a, b)
