"""Ruby: Bundler's `Gemfile.lock`."""

from __future__ import annotations

import re
from collections.abc import Iterator

from secapi.adapters.lockfiles._common import Entry, EntryParser, line, lines, redact
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import gem_purl

ECOSYSTEM = "RubyGems"
# `    name (version)` or `    name (version-platform)`; the version never contains `-`.
_SPEC = re.compile(r"(?P<name>[^\s()]+) \((?P<version>[^-)\s]+)(?:-(?P<platform>[^)]*))?\)")
_SOURCES = frozenset({"GEM", "GIT", "PATH"})


class GemfileLockParser(EntryParser):
    """Reads `Gemfile.lock`: `GEM` specs are packages, `GIT` and `PATH` specs are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "Gemfile.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """The `specs:` of each source section of a Bundler lockfile."""
        section, in_specs, attributes = "", False, dict[str, str]()
        for number, text in lines(content):
            if not text.strip():
                continue
            where = line(number)
            indent = len(text) - len(text.lstrip(" "))
            if indent == 0:
                section, in_specs, attributes = text.strip(), False, {}
            elif indent == 2 and section in _SOURCES:
                key, _, value = text.strip().partition(":")
                in_specs = key == "specs"
                attributes[key] = value.strip()
            elif indent == 4 and in_specs:
                spec = _SPEC.fullmatch(text.strip())
                if spec is None:
                    reason = f"not a `name (version)` spec in {section}, so it could not be read"
                    yield UnscannableEntry(name=text.strip().split(" ", 1)[0], reason=reason, location=where)
                else:
                    yield self._spec(section, attributes, spec["name"], spec["version"], where)
            # Deeper lines are a spec's own dependencies with version ranges: not installed versions.

    @staticmethod
    def _spec(section: str, attributes: dict[str, str], name: str, version: str, where: str) -> Entry:
        remote = attributes.get("remote", "an unknown remote")
        if section == "GEM":
            return Package(
                name=name, version=version, ecosystem=ECOSYSTEM, purl=gem_purl(name, version), location=where
            )
        if section == "GIT":
            revision = attributes.get("revision", "an unknown revision")
            reason = f"installed from git ({redact(remote)} at {revision}), not a release published on RubyGems"
            return UnscannableEntry(name=name, reason=reason, location=where)
        # `remote: .` is usually the gem this lockfile belongs to, but Bundler loads it like any
        # other gem, so it is reported rather than dropped.
        what = "the gem this lockfile belongs to" if remote == "." else f"a gem from the local path {remote}"
        reason = f"{what}: local code, not a release published on RubyGems"
        return UnscannableEntry(name=name, reason=reason, location=where)
