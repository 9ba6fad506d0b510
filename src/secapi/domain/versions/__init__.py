"""Version ordering per OSV ecosystem.

`compare_versions(ecosystem, a, b)` answers -1, 0 or 1 for any two strings
and never raises: each scheme gives unparseable strings a defined place
(documented in its module). Parsing is cached per scheme, so a matcher that
compares the same installed and advisory versions over and over pays for
parsing once and then for a tuple comparison.

| ecosystem (OSV name, before any `:` suffix) | scheme |
|---|---|
| Debian, Ubuntu | dpkg (`dpkg.py`) |
| Alpine, Wolfi, Chainguard | apk-tools 2.x (`apk.py`) |
| Red Hat, Rocky Linux, AlmaLinux, openSUSE, SUSE, Mageia, Photon OS, Azure Linux, openEuler | rpm (`rpm.py`) |
| PyPI | PEP 440 with legacy fallback (`pep440.py`) |
| npm, crates.io, Go, Hex | SemVer 2.0 (`semver.py`) |
| NuGet | NuGet SemVer variant (`semver.py`) |
| Maven | maven-artifact 3.8 ComparableVersion (`maven.py`) |
| RubyGems | Gem::Version (`rubygems.py`) |
| Packagist | Composer normalisation + version_compare (`composer.py`) |
| Pub | pub_semver: SemVer with ordered build metadata (`pub.py`) |
| Hackage, GHC | PVP: integer lists (`integer_lists.py`) |
| CRAN, Bioconductor | R `package_version`: integer lists (`integer_lists.py`) |
| anything else | generic fallback (`generic.py`); `has_version_order` is False |

The schemes are implemented here rather than taken from `univers`: its
objects are too slow to build and compare in the matcher's loop, and it gets
some orders wrong (Maven, Alpine); the tests compare these implementations
with the real tools (dpkg, rpm, node-semver, maven-artifact), with answers
recorded from apk-tools 2.14, and with `univers` where it is right.
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
from secapi.domain.versions.integer_lists import cran_key, pvp_key
from secapi.domain.versions.maven import maven_compare, maven_parse
from secapi.domain.versions.pep440 import pypi_key
from secapi.domain.versions.pub import pub_key
from secapi.domain.versions.rpm import rpm_key
from secapi.domain.versions.rubygems import rubygems_key
from secapi.domain.versions.semver import nuget_key, semver_key

__all__ = [
    "SEMVER",
    "VersionScheme",
    "compare_versions",
    "ecosystem_base",
    "has_version_order",
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
    """Short name of the order, stable for reports and metrics (`dpkg`, `rpm`, `generic`)."""
    parse: Callable[[str], VersionKey]
    compare_parsed: Callable[[VersionKey, VersionKey], int] = _compare_ordered
    ordered: bool = True
    """False only for the generic fallback: its order is a guess, never used to evaluate ranges."""

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
RPM = VersionScheme("rpm", rpm_key)
PUB = VersionScheme("pub", pub_key)
PVP = VersionScheme("pvp", pvp_key)
CRAN = VersionScheme("cran", cran_key)
GENERIC = VersionScheme("generic", generic_key, ordered=False)

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
    # OSV's names (ecosystems.json) of distributions that ship RPMs.
    "red hat": RPM,
    "rocky linux": RPM,
    "almalinux": RPM,
    "opensuse": RPM,
    "suse": RPM,
    "mageia": RPM,
    "photon os": RPM,
    "azure linux": RPM,
    "openeuler": RPM,
    "pub": PUB,
    "hackage": PVP,
    "ghc": PVP,
    "cran": CRAN,
    # Bioconductor publishes R packages, versioned like CRAN's.
    "bioconductor": CRAN,
}


def ecosystem_base(ecosystem: str) -> str:
    """The ecosystem without release or repository suffix, lower-cased (`Debian:12` -> `debian`)."""
    return ecosystem.partition(":")[0].strip().lower()


@lru_cache(maxsize=1024)
def scheme_for_ecosystem(ecosystem: str) -> VersionScheme:
    """The version scheme of an OSV ecosystem name; unknown names get the generic scheme."""
    return _SCHEMES.get(ecosystem_base(ecosystem), GENERIC)


def has_version_order(ecosystem: str) -> bool:
    """Whether `ecosystem` has a known version order, rather than the generic fallback."""
    return scheme_for_ecosystem(ecosystem).ordered


def compare_versions(ecosystem: str, a: str, b: str) -> int:
    """Compare versions `a` and `b` by `ecosystem`'s rules: -1, 0 or 1; never raises."""
    return scheme_for_ecosystem(ecosystem).compare(a, b)
