"""Reading a package URL back into an OSV package: ecosystem, name and (optional) version.

The mapping follows OSV's own (`osv/purl_helpers.py` in google/osv.dev): a purl type names the
ecosystem, the namespace joins the name the way that ecosystem spells it (`@scope/name` for npm,
`group:artifact` for Maven, `vendor/name` for Packagist, the module path for Go). Distribution packages
(`deb`, `apk`, `rpm`) take their release from the `distro` qualifier where it says one
(`pkg:deb/debian/curl@7.88.1-10?distro=debian-12` → `Debian:12`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import msgspec

MAX_PURL_LENGTH = 2000
"""Longer strings are refused before they are parsed."""

_LANGUAGE_TYPES: dict[str, str] = {
    "pypi": "PyPI",
    "npm": "npm",
    "maven": "Maven",
    "golang": "Go",
    "cargo": "crates.io",
    "gem": "RubyGems",
    "composer": "Packagist",
    "nuget": "NuGet",
    "pub": "Pub",
    "hex": "Hex",
    "swift": "SwiftURL",
    "cran": "CRAN",
    "hackage": "Hackage",
    "conan": "ConanCenter",
    "bitnami": "Bitnami",
    "github": "GitHub Actions",
}
_DISTRO_NAMESPACES: dict[tuple[str, str], str] = {
    ("deb", "debian"): "Debian",
    ("deb", "ubuntu"): "Ubuntu",
    ("apk", "alpine"): "Alpine",
    ("rpm", "almalinux"): "AlmaLinux",
    ("rpm", "rocky-linux"): "Rocky Linux",
    ("rpm", "opensuse"): "openSUSE",
    ("rpm", "suse"): "SUSE",
    ("rpm", "redhat"): "Red Hat",
}
_SCHEME = re.compile(r"pkg:/*(?P<type>[A-Za-z][A-Za-z0-9.+-]*)/(?P<rest>.+)")
_DISTRO_RELEASE = re.compile(r"[a-z-]+-(?P<release>[0-9][0-9A-Za-z.]*)")


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
    match = _SCHEME.fullmatch(purl.strip().partition("#")[0])
    if match is None:
        raise UnreadablePurl(f"{purl!r} is not a package URL (`pkg:<type>/<name>@<version>`)")
    kind = match["type"].lower()
    rest, _, query = match["rest"].partition("?")
    path, at, version = rest.rpartition("@") if "@" in rest.rsplit("/", 1)[-1] else (rest, "", "")
    segments = [unquote(part) for part in path.strip("/").split("/") if part]
    if not segments or (at and not version):
        raise UnreadablePurl(f"{purl!r} names no package" if not segments else f"{purl!r} has an empty version")
    qualifiers = {
        key.lower(): unquote(value) for key, _, value in (item.partition("=") for item in query.split("&") if item)
    }
    namespace, name = segments[:-1], segments[-1]
    ecosystem = _ecosystem(kind, namespace, qualifiers)
    if ecosystem is None:
        raise UnreadablePurl(f"{purl!r}: SecAPI knows no OSV ecosystem for purl type {kind!r}")
    return PurlPackage(ecosystem=ecosystem, name=_name(kind, namespace, name), version=unquote(version) or None)


def _ecosystem(kind: str, namespace: list[str], qualifiers: dict[str, str]) -> str | None:
    if kind in _LANGUAGE_TYPES:
        return _LANGUAGE_TYPES[kind]
    if len(namespace) != 1:
        return None
    distro = _DISTRO_NAMESPACES.get((kind, namespace[0].lower()))
    if distro is None:
        return None
    release = _DISTRO_RELEASE.fullmatch(qualifiers.get("distro", "").lower())
    if release is None:
        return distro
    number = release["release"]
    if distro == "Alpine":  # OSV spells Alpine's releases `v3.18`
        return f"Alpine:v{'.'.join(number.split('.')[:2])}"
    if distro in ("Debian", "AlmaLinux", "Rocky Linux"):
        return f"{distro}:{number.split('.')[0]}"
    return f"{distro}:{number}"


def _name(kind: str, namespace: list[str], name: str) -> str:
    if kind == "maven" and namespace:
        return f"{'.'.join(namespace)}:{name}"
    if kind in ("npm", "composer", "golang", "swift", "github") and namespace:
        return "/".join([*namespace, name])
    return name
