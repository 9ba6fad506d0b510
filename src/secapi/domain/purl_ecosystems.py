"""Reading a package URL back into an OSV package for OSV's query API: ecosystem, name and (optional) version.

One reading with SBOM scans (`domain/purl.py`): the purl is parsed by packageurl-python, a language type names
the ecosystem the lockfile parsers give it (plus the types OSV has and no lockfile does: Bitnami, GitHub
Actions) and its name is spelt the same way (`@scope/name`, `group:artifact`, the Go module path); a
distribution package takes its release from the `distro` qualifier, named as an image of that release is
(`pkg:deb/debian/curl@7.88.1-10?distro=debian-12.4` → `Debian:12`). Unlike an SBOM entry, a query may leave
out the version, and a distribution package without a release names every release of it (`Debian`), as OSV
answers such a query.
"""

from __future__ import annotations

import msgspec
from packageurl import PackageURL

from secapi.domain.purl import DISTRO_PURL_TYPES, PURL_ECOSYSTEMS, distro_release, language_name, release_ecosystem

MAX_PURL_LENGTH = 2000
"""Longer strings are refused before they are parsed."""

_OSV_ONLY_TYPES = {"bitnami": "Bitnami", "github": "GitHub Actions"}
"""purl types OSV has advisories for that no lockfile of SecAPI's gives."""
_DISTRO_BRANDS: dict[tuple[str, str], str] = {
    ("deb", "debian"): "Debian",
    ("deb", "ubuntu"): "Ubuntu",
    ("apk", "alpine"): "Alpine",
    ("rpm", "almalinux"): "AlmaLinux",
    ("rpm", "rocky-linux"): "Rocky Linux",
    ("rpm", "opensuse"): "openSUSE",
    ("rpm", "suse"): "SUSE",
    ("rpm", "redhat"): "Red Hat",
}
"""A distribution purl's type and namespace → the ecosystem prefix every release of it shares."""


class PurlPackage(msgspec.Struct, frozen=True, kw_only=True):
    """What a purl names, in OSV's terms."""

    ecosystem: str
    name: str
    version: str | None = None


class UnreadablePurl(ValueError):
    """A purl that is malformed or names an ecosystem SecAPI has no mapping for; `str()` says which."""


def parse_purl(purl: str) -> PurlPackage:
    """The OSV package a purl names; `UnreadablePurl` when it is malformed or of an unknown type."""
    if len(purl) > MAX_PURL_LENGTH:
        raise UnreadablePurl(f"the purl is longer than {MAX_PURL_LENGTH} characters")
    try:
        parsed = PackageURL.from_string(purl.strip())
    except ValueError as exc:
        raise UnreadablePurl(f"{purl!r} is not a package URL (`pkg:<type>/<name>@<version>`): {exc}") from exc
    kind = parsed.type.lower()
    if purl.strip().partition("#")[0].rstrip().endswith("@"):
        raise UnreadablePurl(f"{purl!r} has an empty version")
    ecosystem = _ecosystem(kind, parsed)
    if ecosystem is None:
        raise UnreadablePurl(f"{purl!r}: SecAPI knows no OSV ecosystem for purl type {kind!r}")
    name = parsed.name if kind in DISTRO_PURL_TYPES else language_name(kind, parsed.namespace, parsed.name)
    return PurlPackage(ecosystem=ecosystem, name=name, version=parsed.version or None)


def _ecosystem(kind: str, purl: PackageURL) -> str | None:
    language = PURL_ECOSYSTEMS.get(kind) or _OSV_ONLY_TYPES.get(kind)
    if language is not None:
        return language
    if kind not in DISTRO_PURL_TYPES or not purl.namespace or "/" in purl.namespace:
        return None
    brand = _DISTRO_BRANDS.get((kind, purl.namespace.lower()))
    if brand is None:
        return None
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    release = distro_release(purl.namespace, qualifiers.get("distro"))
    if release is None or release[1] is None:
        return brand  # no release named: every release of the distribution, as OSV answers it
    return release_ecosystem(*release) or brand
