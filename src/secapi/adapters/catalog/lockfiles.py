"""Lockfiles and installed-package manifests of applications in a layer, read with the lockfile parsers.

Which files: an application's lockfile (`package-lock.json`, `yarn.lock`, `pnpm-lock.yaml`, `Gemfile.lock`,
`composer.lock`, `Cargo.lock`, `poetry.lock`, `Pipfile.lock`, `uv.lock`), npm's `node_modules/.package-lock.json`,
Composer's `vendor/composer/installed.json`, a .NET `<app>.deps.json`, and the `specifications/*.gemspec` of
installed gems. An application's lockfile is taken as its dependencies, as `POST /scan/dependencies` takes it:
development dependencies it pins are scanned too, though an image built with `--omit=dev` may not hold them
(a possible over-report, never a silent miss).

Which not: a lockfile inside a dependency (under `node_modules/`, `vendor/`, a gem or Cargo source directory,
the Go module cache, `site-packages/`) describes how that dependency is developed, not what the image runs, and
one under a test, fixture or example directory is test data (the application's own are listed as unscanned,
`test-lockfile`, never parsed); both would be false positives (Trivy, for one,
reads installed-package metadata in images and leaves lockfiles to repository scans for the same reason).
Neither is a NuGet package cache's `.deps.json`. Gem specifications under `usr/share/rubygems-integration/`
belong to Debian's `ruby-*` packages only, already reported from the dpkg database, whose advisories account
for the fixes Debian backports. Those under `usr/lib/ruby/gems/` are read although some belong to the OS's
Ruby package (Debian's `libruby3.1` bundles rexml, net-imap, ...): on Alpine, `gem install` puts the user's
gems in the same directory, and nothing in one layer tells the two apart, so a possible over-report (a fix a
distribution backported) is preferred to an unseen gem. `requirements.txt` is not read: the installed
distributions' metadata already says what pip installed, with exact versions.

How they travel: each package becomes a `PackageRecord` of kind `lockfile` that carries the OSV ecosystem and
purl the parser gave it (so `merge_layers` needs no OS for it); entries the parser could not pin (git and path
dependencies, ...) become `UnscannedItem`s at the file's path, so whiteouts and later layers replace them with
the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from secapi.adapters.lockfiles.composer_installed import InstalledJsonParser
from secapi.adapters.lockfiles.gemspec import GemspecParser
from secapi.adapters.lockfiles.registry import parser_for
from secapi.domain.inventory import LOCKFILE, PackageRecord
from secapi.domain.lockfiles import LockfileError, LockfileParser, ParsedLockfile
from secapi.domain.packages import UnscannedItem

KiB, MiB = 1024, 1024 * 1024
UNSCANNABLE_ENTRY, TEST_LOCKFILE = "unscannable-entry", "test-lockfile"
TEST_DATA = 0
"""The cap of a lockfile under a test, fixture or example directory: it is listed as test data, not read."""
_TEST_REASON = (
    "a lockfile under a test, fixture or example directory, taken as test data: its packages were not scanned"
)
MAX_ENTRIES_LISTED = 50
"""Unscannable entries of one file listed one by one; one more item counts the rest."""

_LOCKFILE_CAPS = {
    "package-lock.json": 16 * MiB,
    "npm-shrinkwrap.json": 16 * MiB,
    "yarn.lock": 16 * MiB,
    "pnpm-lock.yaml": 8 * MiB,
    "Gemfile.lock": 2 * MiB,
    "composer.lock": 8 * MiB,
    "Cargo.lock": 4 * MiB,
    "poetry.lock": 8 * MiB,
    "Pipfile.lock": 2 * MiB,
    "uv.lock": 8 * MiB,
}
DEPS_JSON_CAP = INSTALLED_JSON_CAP = 8 * MiB
APP_FILE_BYTES_PER_LAYER = 32 * MiB
"""Lockfile and manifest bytes one layer may have parsed; the rest are skipped with the reason. Parsing, not
reading, is their cost (an 8 MiB pnpm-lock.yaml takes ~11 s), so it is bounded apart from `max_kept_bytes`."""
GEMSPEC_CAP = 256 * KiB
NPM_HIDDEN_LOCKFILE = "node_modules/.package-lock.json"
COMPOSER_INSTALLED = "vendor/composer/installed.json"
NAME_TAILS = (*_LOCKFILE_CAPS, ".deps.json", ".gemspec", NPM_HIDDEN_LOCKFILE, COMPOSER_INSTALLED)
"""What a candidate's raw member name ends with (a cheap first filter; `app_file_cap` decides)."""

_TEST_DIRS = frozenset({"test", "tests", "testdata", "fixtures", "__tests__", "spec", "examples", "example"})
_DEPENDENCY_DIRS = frozenset(
    {"node_modules", "bower_components", "vendor", "gems", ".cargo", ".nuget", "site-packages", "dist-packages"}
)
_DEBIAN_PACKAGED_GEMS = "usr/share/rubygems-integration/"


@dataclass(frozen=True, slots=True)
class AppFile:
    """What one lockfile or manifest yields: its packages, and what in it could not be scanned."""

    records: tuple[PackageRecord, ...]
    unscanned: tuple[UnscannedItem, ...] = ()


def app_file_cap(path: str) -> int | None:
    """The size cap for a normalised path if it is an application's lockfile or manifest, else None.

    `TEST_DATA` (0) for one under an application's test, fixture or example directory: listed, never read.
    """
    directory, _, name = path.rpartition("/")
    parts = directory.split("/") if directory else []
    cap = _cap(path, name, parts)
    return TEST_DATA if cap is not None and _TEST_DIRS.intersection(parts) else cap


def _cap(path: str, name: str, parts: list[str]) -> int | None:
    if name.endswith(".gemspec"):
        wanted = parts[-1:] == ["specifications"] or parts[-2:] == ["specifications", "default"]
        return GEMSPEC_CAP if wanted and not path.startswith(_DEBIAN_PACKAGED_GEMS) else None
    if path == NPM_HIDDEN_LOCKFILE or path.endswith(f"/{NPM_HIDDEN_LOCKFILE}"):
        return _LOCKFILE_CAPS["package-lock.json"] if _outside_dependencies(parts[:-1]) else None
    if path == COMPOSER_INSTALLED or path.endswith(f"/{COMPOSER_INSTALLED}"):
        return INSTALLED_JSON_CAP if _outside_dependencies(parts[:-2]) else None
    if not _outside_dependencies(parts):
        return None
    if name.endswith(".deps.json") and len(name) > len(".deps.json"):
        return DEPS_JSON_CAP
    return _LOCKFILE_CAPS.get(name)


def _outside_dependencies(parts: list[str]) -> bool:
    """Whether no directory in `parts` is a dependency's (nor Go's module cache, `pkg/mod`: whole names only)."""
    return not _DEPENDENCY_DIRS.intersection(parts) and ("pkg", "mod") not in pairwise(parts)


def read_app_file(path: str, data: bytes) -> AppFile:
    """Parse one file `app_file_cap` accepted; ValueError (naming the problem) when it cannot be read."""
    if app_file_cap(path) == TEST_DATA:
        return AppFile(records=(), unscanned=(UnscannedItem(path=path, kind=TEST_LOCKFILE, reason=_TEST_REASON),))
    name = path.rpartition("/")[2]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name} is not UTF-8 text (byte {exc.start})") from exc
    if not text.removeprefix("\ufeff").strip():
        raise ValueError(f"{name} is empty")
    try:
        parsed = _parser(name).parse(text)
    except LockfileError as exc:
        raise ValueError(str(exc)) from exc
    return AppFile(records=tuple(_records(parsed)), unscanned=_unscanned(path, name, parsed))


def _parser(name: str) -> LockfileParser:
    if name.endswith(".gemspec"):
        return GemspecParser(name)
    if name == "installed.json":
        return InstalledJsonParser(name)
    return parser_for(name.removeprefix("."))  # npm's hidden `.package-lock.json` has the public one's format


def _records(parsed: ParsedLockfile) -> list[PackageRecord]:
    return [
        PackageRecord(
            kind=LOCKFILE,
            name=package.name,
            version=package.version,
            purl=package.purl,
            ecosystem=package.ecosystem,
            source_name=package.source_name,
            source_version=package.source_version,
        )
        for package in parsed.packages
    ]


def _unscanned(path: str, name: str, parsed: ParsedLockfile) -> tuple[UnscannedItem, ...]:
    items = [UnscannedItem(path=path, kind=item.kind, reason=item.reason) for item in parsed.unscanned]
    for entry in parsed.unscannable[:MAX_ENTRIES_LISTED]:
        where = f" ({entry.location})" if entry.location and entry.location != name else ""
        items.append(UnscannedItem(path=path, kind=UNSCANNABLE_ENTRY, reason=f"{entry.name}{where}: {entry.reason}"))
    more = len(parsed.unscannable) - MAX_ENTRIES_LISTED
    if more > 0:
        reason = f"{more} more entries of this file could not be scanned and were not listed"
        items.append(UnscannedItem(path=path, kind=UNSCANNABLE_ENTRY, reason=reason))
    return tuple(items)
