"""Java: Maven's `pom.xml` (dependencies whose versions the file itself fixes)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from secapi.adapters.lockfiles._common import Entry, EntryParser, StructureError, line, unreadable
from secapi.adapters.lockfiles._xml import XmlElement, load_xml
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import maven_purl

ECOSYSTEM = "Maven"
_PROPERTY = re.compile(r"\$\{([^}]*)\}")
# Properties may refer to properties; a few rounds cover real POMs, the length cap stops a doubling chain.
_ROUNDS, _MAX_VERSION = 10, 200
_FROM_OUTSIDE = "version comes from a parent POM or BOM, which is not fetched"


class PomXmlParser(EntryParser):
    """Reads the `<dependencies>` of a `pom.xml`, resolving `${...}` from the file's own properties.

    A pom.xml is not a lockfile: only versions the file fixes are scanned, and transitive
    dependencies are not listed at all. Versions that come from elsewhere are unscannable.
    """

    ecosystem = ECOSYSTEM
    default_filename = "pom.xml"

    def entries(self, content: str) -> Iterator[Entry]:
        """Each `<dependency>` of the project and of its profiles."""
        project = load_xml(content)
        if project.tag != "project":
            raise StructureError(line(project.line), f"expected a <project> root element, found <{project.tag}>")
        properties = _properties(project)
        managed = _managed_versions(project)
        for dependencies in _dependency_lists(project):
            for dependency in dependencies.find_all("dependency"):
                where = line(dependency.line)
                try:
                    yield _entry(dependency, properties, managed, where)
                except StructureError as error:
                    yield unreadable(where, _name(dependency), error)


def _dependency_lists(project: XmlElement) -> Iterator[XmlElement]:
    yield from project.find_all("dependencies")
    for profiles in project.find_all("profiles"):
        for profile in profiles.find_all("profile"):
            yield from profile.find_all("dependencies")


def _properties(project: XmlElement) -> dict[str, str]:
    parent = project.find("parent")
    inherited = {} if parent is None else {f"project.parent.{key}": parent.child_text(key) for key in _COORDINATES}
    values: dict[str, str | None] = {**inherited}
    for key in _COORDINATES:
        own = project.child_text(key)
        values[f"project.{key}"] = own if own else inherited.get(f"project.parent.{key}")
    for properties in project.find_all("properties"):
        values.update((element.tag, element.text.strip()) for element in properties.children)
    values.setdefault("pom.version", values.get("project.version"))  # the deprecated Maven 2 spelling
    return {key: value for key, value in values.items() if value is not None}


_COORDINATES = ("groupId", "artifactId", "version")


def _managed_versions(project: XmlElement) -> dict[tuple[str, str], str]:
    """`<dependencyManagement>` versions fixed in this file, by (groupId, artifactId) as written."""
    managed: dict[tuple[str, str], str] = {}
    for management in project.find_all("dependencyManagement"):
        for dependencies in management.find_all("dependencies"):
            for dependency in dependencies.find_all("dependency"):
                group, artifact, version = (dependency.child_text(key) for key in _COORDINATES)
                if group and artifact and version and dependency.child_text("scope") != "import":
                    managed.setdefault((group, artifact), version)
    return managed


def _name(dependency: XmlElement) -> str | None:
    group, artifact = dependency.child_text("groupId"), dependency.child_text("artifactId")
    return f"{group}:{artifact}" if group and artifact else artifact or group


class _Unresolved(Exception):
    """A `${name}` this file does not define (`name`), or properties that never settle (None)."""

    def __init__(self, name: str | None) -> None:
        super().__init__(name)
        self.name = name


def _resolve(text: str, properties: Mapping[str, str]) -> str:
    """`text` with every `${name}` replaced from `properties`, or `_Unresolved`."""
    for _ in range(_ROUNDS):
        missing = [name for name in _PROPERTY.findall(text) if name not in properties]
        if missing:
            raise _Unresolved(missing[0])
        if _PROPERTY.search(text) is None:
            return text
        text = _PROPERTY.sub(lambda found: properties[found[1]], text)
        if len(text) > _MAX_VERSION:
            raise _Unresolved(None)
    raise _Unresolved(None)


def _entry(
    dependency: XmlElement, properties: Mapping[str, str], managed: Mapping[tuple[str, str], str], where: str
) -> Entry:
    written = {key: dependency.child_text(key) for key in _COORDINATES}
    for key in ("groupId", "artifactId"):
        if not written[key]:
            raise StructureError(where, f"missing required element <{key}>")
    try:
        group, artifact = (_resolve(written[key] or "", properties) for key in ("groupId", "artifactId"))
        name = f"{group}:{artifact}"
        raw_version = written["version"] or managed.get((written["groupId"] or "", written["artifactId"] or ""))
        if not raw_version:
            return UnscannableEntry(name=name, reason=_FROM_OUTSIDE, location=where)
        version = _resolve(raw_version, properties).strip()
    except _Unresolved as unresolved:
        label = _name(dependency) or "(an entry without a name)"
        if unresolved.name is None:
            reason = "its properties refer to each other without end or expand too far"
        else:
            reason = (
                f"the property ${{{unresolved.name}}} is not defined in this file; it comes from a parent POM,"
                " a BOM or the build command, which are not fetched"
            )
        return UnscannableEntry(name=label, reason=reason, location=where)
    problem = _unscannable_version(version, dependency.child_text("scope"))
    if problem is not None:
        return UnscannableEntry(name=name, reason=problem, location=where)
    return Package(
        name=name, version=version, ecosystem=ECOSYSTEM, purl=maven_purl(group, artifact, version), location=where
    )


def _unscannable_version(version: str, scope: str | None) -> str | None:
    if not version:
        return "the version is empty"
    if any(mark in version for mark in "[](),"):
        return f"the version range {version!r} is not an exact version"
    if version.endswith("-SNAPSHOT"):
        return f"the snapshot build {version!r} is not a released version"
    if scope == "system":
        return "a system-scoped jar read from a local path, not an artifact from a repository"
    return None
