"""Which Maven artifact a Java archive is, from the metadata inside it; None where that cannot be trusted.

Identity, most trusted first:
- every `META-INF/maven/<groupId>/<artifactId>/pom.properties` is one package (a shaded jar carries several);
- without one, the manifest's main section only where two plugins' defaults agree: `Implementation-Vendor-Id`
  (maven-jar-plugin: the groupId), `Implementation-Title` (the project name, which defaults to the artifactId)
  and `Bundle-SymbolicName` equal to `<vendor id>.<title>` (maven-bundle-plugin's default), with an
  `Implementation-Version`. Trivy and Syft guess further (Syft takes a groupId from any of several fields and
  the artifactId from the file name; Trivy looks the jar's SHA-1 up in a downloaded Java DB), but the guesses
  are often wrong: log4j-api's manifest says `Implementation-Vendor-Id: org.apache`, commons-logging's
  `Implementation-Title: Commons Logging`. A false Maven name hides findings, so anything less is listed as
  an archive whose identity cannot be read.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from secapi.domain.inventory import MAVEN, PackageRecord

_COORDINATE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-+]*")


def maven_record(group: str, artifact: str, version: str) -> PackageRecord:
    """A Maven package as OSV names it (`groupId:artifactId`) with its purl."""
    purl = f"pkg:maven/{quote(group, safe='')}/{quote(artifact, safe='')}@{quote(version, safe='')}"
    return PackageRecord(kind=MAVEN, name=f"{group}:{artifact}", version=version, purl=purl)


def _properties(text: str) -> dict[str, str]:
    """`key=value` lines of a Java properties file as Maven writes pom.properties (no escapes, no continuations)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, _, value = line.partition("=") if "=" in line else line.partition(":")
        values.setdefault(key.strip(), value.strip())
    return values


def from_pom_properties(text: str) -> tuple[str, str, str] | None:
    """(groupId, artifactId, version) from a pom.properties file, if all three are there and resolved."""
    values = _properties(text)
    group, artifact = values.get("groupId", ""), values.get("artifactId", "")
    version = values.get("version", "")
    if _COORDINATE.fullmatch(group) and _COORDINATE.fullmatch(artifact) and _VERSION.fullmatch(version):
        return group, artifact, version
    return None  # an unresolved `${project.version}` or an empty field names nothing to match


def manifest_main_section(text: str) -> dict[str, str]:
    """The main section's attributes (names lower-cased); later sections describe entries, not the archive."""
    attributes: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        if not line:
            break
        if line.startswith(" ") and name:
            attributes[name] += line[1:]  # a continuation line
            continue
        key, colon, value = line.partition(":")
        if colon:
            name = key.strip().lower()
            attributes.setdefault(name, value.strip())
    return attributes


def from_manifest(text: str) -> tuple[str, str, str] | None:
    """(groupId, artifactId, version) from a MANIFEST.MF, only where vendor id, title and bundle name agree."""
    main = manifest_main_section(text)
    group, artifact = main.get("implementation-vendor-id", ""), main.get("implementation-title", "")
    version = main.get("implementation-version", "")
    symbolic = main.get("bundle-symbolicname", "").partition(";")[0].strip()
    if not (_COORDINATE.fullmatch(group) and _COORDINATE.fullmatch(artifact) and _VERSION.fullmatch(version)):
        return None
    return (group, artifact, version) if symbolic == f"{group}.{artifact}" else None
