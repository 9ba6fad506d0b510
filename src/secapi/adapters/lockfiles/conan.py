"""C and C++: Conan's `conan.lock`, Conan 2 (`requires` lists) and Conan 1 (`graph_lock.nodes`)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    StructureError,
    as_list,
    as_mapping,
    as_str,
    child,
    keyed,
    load_json,
    optional_field,
    section,
    unreadable,
)
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import conan_purl

ECOSYSTEM = "ConanCenter"
# `zlib/1.2.13`, `openssl/3.1.2@acme/stable`, each optionally `#<recipe revision>[%<timestamp>]`.
_REFERENCE = re.compile(
    r"(?P<name>[a-z0-9_][a-z0-9_+.-]*)/(?P<version>[A-Za-z0-9_+.-]+)(?:@(?P<user>[^/#\s]+)/(?P<channel>[^#\s]+))?(?:#\S*)?"
)
_CONAN2_SECTIONS = ("requires", "build_requires", "python_requires", "config_requires")


def _reference(reference: str, where: str) -> Entry:
    found = _REFERENCE.fullmatch(reference.strip())
    if found is None:
        raise StructureError(where, f"not a Conan reference (name/version): {reference!r}")
    name, version = found["name"], found["version"]
    if found["user"] is not None:
        reason = f"a package of the user/channel {found['user']}/{found['channel']}, not the ConanCenter recipe"
        return UnscannableEntry(name=name, reason=reason, location=where)
    return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=conan_purl(name, version), location=where)


class ConanLockParser(EntryParser):
    """Reads `conan.lock`; references with a user/channel are unscannable, the consumer node is the project."""

    ecosystem = ECOSYSTEM
    default_filename = "conan.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """Conan 2's reference lists, or Conan 1's graph nodes."""
        document = as_mapping(load_json(content), "")
        if "graph_lock" in document:
            yield from self._graph_nodes(section(document, "graph_lock"))
            return
        if not any(key in document for key in _CONAN2_SECTIONS):
            raise StructureError("", "expected `requires` (Conan 2) or `graph_lock` (Conan 1); is this a conan.lock?")
        for key in _CONAN2_SECTIONS:
            listed = document.get(key)
            for index, raw in enumerate(as_list([] if listed is None else listed, key)):
                where = f"{key}[{index}]"
                try:
                    yield _reference(as_str(raw, where), where)
                except StructureError as error:
                    yield unreadable(where, raw if isinstance(raw, str) else None, error)

    @staticmethod
    def _graph_nodes(graph: object) -> Iterator[Entry]:
        nodes = section(as_mapping(graph, "graph_lock"), "nodes", "graph_lock")
        for key, raw in nodes.items():
            where = keyed("graph_lock.nodes", key)
            try:
                node = as_mapping(raw, where)
                reference = optional_field(node, "ref", where)
                if reference is None:
                    if "path" in node:
                        continue  # the consumer conanfile: the project itself, which Conan never installs
                    raise StructureError(child(where, "ref"), "missing; a locked node names its reference")
                yield _reference(reference, where)
            except StructureError as error:
                yield unreadable(where, raw.get("ref") if isinstance(raw, dict) else None, error)
