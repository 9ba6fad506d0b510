"""Package URLs (purl-spec): written for the lockfile ecosystems, and read back from SBOMs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from packageurl import PackageURL
from packaging.utils import canonicalize_name

from secapi.domain.os_release import distro_ecosystem
from secapi.domain.osv_ranges import normalize_package_name
from secapi.domain.packages import Package

_UNRESERVED = re.compile(r"[A-Za-z0-9._~:-]*")


def _encode(segment: str) -> str:
    # The spec lets ':' stand unencoded; everything outside the unreserved set is escaped.
    return segment if _UNRESERVED.fullmatch(segment) else quote(segment, safe=":")


def _purl(kind: str, path: list[str], version: str) -> str:
    return f"pkg:{kind}/{'/'.join(_encode(part) for part in path)}@{_encode(version)}"


def pypi_purl(name: str, version: str) -> str:
    """`pkg:pypi/<PEP 503 normalised name>@<version>`."""
    return _purl("pypi", [canonicalize_name(name)], version)


def npm_purl(name: str, version: str) -> str:
    """`pkg:npm/%40scope/name@version`; the scope is the purl namespace."""
    return _purl("npm", name.lower().split("/", 1), version)


def golang_purl(module: str, version: str) -> str:
    """`pkg:golang/<module path, lowercased>@<version>`."""
    return _purl("golang", module.lower().split("/"), version)


def cargo_purl(name: str, version: str) -> str:
    """`pkg:cargo/<crate>@<version>`."""
    return _purl("cargo", [name], version)


def gem_purl(name: str, version: str) -> str:
    """`pkg:gem/<gem>@<version>`."""
    return _purl("gem", [name], version)


def composer_purl(name: str, version: str) -> str:
    """`pkg:composer/<vendor>/<project>@<version>`, lowercased as the spec asks."""
    return _purl("composer", name.lower().split("/", 1), version)


def pub_purl(name: str, version: str) -> str:
    """`pkg:pub/<package>@<version>`."""
    return _purl("pub", [name], version)


def hex_purl(name: str, version: str) -> str:
    """`pkg:hex/<package>@<version>`, lowercased as the spec asks."""
    return _purl("hex", [name.lower()], version)


def swift_purl(name: str, version: str) -> str:
    """`pkg:swift/<host>/<owner>/<repo>@<version>`: the repository path without scheme is the namespace and name."""
    return _purl("swift", name.split("/"), version)


def cran_purl(name: str, version: str) -> str:
    """`pkg:cran/<package>@<version>`; CRAN names are case-sensitive."""
    return _purl("cran", [name], version)


def hackage_purl(name: str, version: str) -> str:
    """`pkg:hackage/<package>@<version>`."""
    return _purl("hackage", [name], version)


def conan_purl(name: str, version: str) -> str:
    """`pkg:conan/<package>@<version>`."""
    return _purl("conan", [name], version)


def maven_purl(group: str, artifact: str, version: str) -> str:
    """`pkg:maven/<groupId>/<artifactId>@<version>`; Maven coordinates are case-sensitive."""
    return _purl("maven", [group, artifact], version)


def nuget_purl(name: str, version: str) -> str:
    """`pkg:nuget/<id>@<version>`; the id keeps its case, as the spec's examples do."""
    return _purl("nuget", [name], version)


# Reading purls back: what an SBOM's purl names, as the package a lockfile or an image scan would have found.

PURL_ECOSYSTEMS = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "cargo": "crates.io",
    "gem": "RubyGems",
    "composer": "Packagist",
    "pub": "Pub",
    "hex": "Hex",
    "swift": "SwiftURL",
    "cran": "CRAN",
    "hackage": "Hackage",
    "conan": "ConanCenter",
    "maven": "Maven",
    "nuget": "NuGet",
}
"""purl type → the OSV ecosystem the lockfile parsers give that type's packages."""
DISTRO_PURL_TYPES = frozenset({"deb", "apk", "rpm"})
"""Distribution packages: their ecosystem is the release's (`Debian:12`), named by the `distro` qualifier."""
_OS_IDS = {
    "redhat": "rhel",
    "alma": "almalinux",
    "oracle": "ol",
    "amazon": "amzn",
    "cbl-mariner": "mariner",
    "rocky-linux": "rocky",
    "opensuse.leap": "opensuse-leap",
    "opensuse.tumbleweed": "opensuse-tumbleweed",
}
"""Distribution names some tools (Trivy) write in purls, as os-release spells them."""
_DISTRO = re.compile(r"(?P<id>.+?)-(?P<release>\d[\w.+~]*)")


class UnscannablePurl(ValueError):
    """A purl that names no package SecAPI can match; `str()` says why, as an unscannable entry's reason."""


@dataclass(frozen=True, slots=True)
class SourcePackage:
    """The source package a distribution binary package was built from (what distro advisories name)."""

    name: str
    version: str | None = None


def purl_package(
    purl: PackageURL,
    *,
    declared_name: str | None = None,
    source: SourcePackage | None = None,
    os: tuple[str, str | None] | None = None,
    location: str | None = None,
    as_stated: str | None = None,
) -> Package:
    """The package `purl` names, with the ecosystem, name and version a lockfile or image scan gives it.

    `declared_name` (the document's own spelling, `Flask` for `pkg:pypi/flask`) is kept when it names the same
    package; a distribution package's release comes from the `distro` qualifier, else from `os` (the SBOM's
    operating system: os-release ID and version); its source package from `source` or the `upstream` qualifier.
    The package keeps `as_stated` (the purl as the document wrote it) when given, else `purl` written out.
    Raises `UnscannablePurl` with the reason when the purl names nothing SecAPI can match.
    """
    text = as_stated or purl.to_string()
    kind = purl.type.lower()
    if not purl.version:
        raise UnscannablePurl("its purl has no version, so no advisory range can be checked against it")
    if kind in DISTRO_PURL_TYPES:
        return _distro_package(purl, text, kind, source, os, location)
    ecosystem = PURL_ECOSYSTEMS.get(kind)
    if ecosystem is None:
        known = ", ".join(sorted({*PURL_ECOSYSTEMS, *DISTRO_PURL_TYPES}))
        raise UnscannablePurl(f"purl type {kind!r} has no OSV ecosystem SecAPI matches (it reads {known})")
    name = language_name(kind, purl.namespace, purl.name)
    if declared_name and normalize_package_name(ecosystem, declared_name) == normalize_package_name(ecosystem, name):
        name = declared_name
    version = purl.version.removeprefix("v") if kind == "golang" else purl.version  # as go.mod scans have it
    return Package(name=name, version=version, ecosystem=ecosystem, purl=text, location=location)


def language_name(kind: str, namespace: str | None, name: str) -> str:
    """A language package's name as its ecosystem spells it, from a purl's namespace and name."""
    if not namespace:
        return name
    # Maven names are `group:artifact`; npm scopes, Go module paths, Packagist vendors and Swift hosts join with `/`.
    return f"{namespace}:{name}" if kind == "maven" else f"{namespace}/{name}"


def release_ecosystem(os_id: str, version_id: str | None) -> str | None:
    """The OSV ecosystem of a distribution release as purls name it (Trivy's `redhat`, `rocky-linux`, ...),
    the same as an image of that release gets; None when none is known."""
    return distro_ecosystem(_OS_IDS.get(os_id, os_id), version_id)


def _distro_package(
    purl: PackageURL,
    text: str,
    kind: str,
    source: SourcePackage | None,
    os: tuple[str, str | None] | None,
    location: str | None,
) -> Package:
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    release = distro_release(purl.namespace, qualifiers.get("distro")) or os
    if release is None:
        raise UnscannablePurl(
            f"its {kind} purl has no `distro` qualifier and the SBOM names no operating system, so which "
            "release's advisories apply is unknown"
        )
    os_id, version_id = release
    ecosystem = release_ecosystem(os_id, version_id)
    if ecosystem is None:
        raise UnscannablePurl(f"no OSV ecosystem is known for the distribution {os_id} {version_id or ''}".rstrip())
    version = purl.version or ""
    epoch = qualifiers.get("epoch")
    if epoch and ":" not in version:  # dpkg and rpm write the epoch in the version, as the image scans keep it
        version = f"{epoch}:{version}"
    if source is None and qualifiers.get("upstream"):  # syft: `upstream=glibc` or `upstream=glibc@2.36-9`
        name, _, upstream_version = qualifiers["upstream"].partition("@")
        source = SourcePackage(name=name, version=upstream_version or None)
    return Package(
        name=purl.name,
        version=version,
        ecosystem=ecosystem,
        purl=text,
        source_name=source.name if source else None,
        source_version=(source.version or version) if source else None,
        location=location,
    )


def distro_release(namespace: str | None, distro: str | None) -> tuple[str, str | None] | None:
    """(os id, version) of a `distro` qualifier: `debian-12.4`, `opensuse-leap-15.5`, or a bare `bookworm`."""
    if not distro:
        return None
    distro = distro.strip().lower()
    match = _DISTRO.fullmatch(distro)
    if match:
        return match["id"], match["release"]
    vendor = (namespace or "").lower()
    if vendor and distro.startswith(f"{vendor}-"):
        return vendor, distro.removeprefix(f"{vendor}-")
    return (vendor, distro) if vendor else (distro, None)
