"""`go.sum`, read as the companion of a pre-1.17 `go.mod`: the modules whose code the build downloaded."""

from __future__ import annotations

from dataclasses import dataclass, field

from secapi.adapters.lockfiles._common import lines
from secapi.domain.packages import UnscannableEntry
from secapi.domain.versions.semver import semver_key


@dataclass(frozen=True, slots=True)
class GoSumModules:
    """The highest built version of each module in a go.sum, where it was found, and lines it could not read."""

    selected: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Module path -> (Go version such as `v1.2.3`, location such as `go.sum line 4`)."""
    unreadable: list[UnscannableEntry] = field(default_factory=list)


def read_go_sum(content: str) -> GoSumModules:
    """The modules a go.sum holds code hashes for (`module version hash`), highest version of each."""
    modules = GoSumModules()
    for number, text in lines(content):
        fields = text.split()
        if not fields:
            continue
        where = f"go.sum line {number}"
        if len(fields) != 3 or not fields[1].startswith("v"):
            reason = "not a `module version hash` go.sum line, so the module it names was not scanned"
            modules.unreadable.append(UnscannableEntry(name=fields[0], reason=reason, location=where))
            continue
        path, version = fields[0], fields[1]
        if version.endswith("/go.mod"):
            # Only the module's go.mod was fetched (to walk the requirement graph); its code is not built.
            continue
        current = modules.selected.get(path)
        # go.sum can hold several versions of a module (ones the build once considered). Minimal version
        # selection builds exactly one per module, the highest that anything requires, so in a tidy go.sum
        # the highest version listed is the one in the build.
        if current is None or semver_key(version) > semver_key(current[0]):
            modules.selected[path] = (version, where)
    return modules
