"""Package URLs (https://github.com/package-url/purl-spec) for the lockfile ecosystems."""

from __future__ import annotations

import re
from urllib.parse import quote

from packaging.utils import canonicalize_name

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
