"""Picks the lockfile parser for a file name and runs it behind one error contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase

from secapi.adapters.lockfiles._common import translate_errors
from secapi.adapters.lockfiles.bun import BunLockParser
from secapi.adapters.lockfiles.cargo import CargoLockParser
from secapi.adapters.lockfiles.composer import ComposerLockParser
from secapi.adapters.lockfiles.conan import ConanLockParser
from secapi.adapters.lockfiles.dart import PubspecLockParser
from secapi.adapters.lockfiles.elixir import MixLockParser
from secapi.adapters.lockfiles.golang import GoModParser
from secapi.adapters.lockfiles.gradle import GradleLockfileParser
from secapi.adapters.lockfiles.gradle_verification import GradleVerificationMetadataParser
from secapi.adapters.lockfiles.haskell import CabalFreezeParser, StackLockParser
from secapi.adapters.lockfiles.maven import PomXmlParser
from secapi.adapters.lockfiles.npm import PackageLockParser
from secapi.adapters.lockfiles.nuget import DepsJsonParser, PackagesLockJsonParser
from secapi.adapters.lockfiles.nuget_config import PackagesConfigParser
from secapi.adapters.lockfiles.pnpm import PnpmLockParser
from secapi.adapters.lockfiles.python_locks import PipfileLockParser, PoetryLockParser, UvLockParser
from secapi.adapters.lockfiles.renv import RenvLockParser
from secapi.adapters.lockfiles.requirements import RequirementsTxtParser
from secapi.adapters.lockfiles.ruby import GemfileLockParser
from secapi.adapters.lockfiles.swift import PackageResolvedParser
from secapi.adapters.lockfiles.yarn import YarnLockParser
from secapi.domain.lockfiles import (
    COMPANION_NAMES,
    DEPS_JSON_PATTERN,
    LOCKFILE_NAMES,
    REQUIREMENTS_PATTERNS,
    SUPPORTED_LOCKFILES,
    EmptyLockfile,
    LockfileParser,
    ParsedLockfile,
    UnsupportedLockfile,
    lockfile_base_name,
)


def _go_mod(name: str, companions: Mapping[str, str]) -> LockfileParser:
    return GoModParser(name, go_sum=companions.get("go.sum"))


_EXACT: dict[str, Callable[[str], LockfileParser]] = {
    "Cargo.lock": CargoLockParser,
    "Gemfile.lock": GemfileLockParser,
    "Package.resolved": PackageResolvedParser,
    "Pipfile.lock": PipfileLockParser,
    "bun.lock": BunLockParser,
    "cabal.project.freeze": CabalFreezeParser,
    "composer.lock": ComposerLockParser,
    "conan.lock": ConanLockParser,
    "go.mod": GoModParser,
    "mix.lock": MixLockParser,
    "gradle.lockfile": GradleLockfileParser,
    "buildscript-gradle.lockfile": GradleLockfileParser,
    "npm-shrinkwrap.json": PackageLockParser,
    "package-lock.json": PackageLockParser,
    "packages.config": PackagesConfigParser,
    "packages.lock.json": PackagesLockJsonParser,
    "pnpm-lock.yaml": PnpmLockParser,
    "poetry.lock": PoetryLockParser,
    "pom.xml": PomXmlParser,
    "pubspec.lock": PubspecLockParser,
    "renv.lock": RenvLockParser,
    "stack.yaml.lock": StackLockParser,
    "uv.lock": UvLockParser,
    "verification-metadata.xml": GradleVerificationMetadataParser,
    "yarn.lock": YarnLockParser,
}
# Formats that read companion files sent along with them (by base name); the others ignore companions.
_WITH_COMPANIONS: dict[str, Callable[[str, Mapping[str, str]], LockfileParser]] = {"go.mod": _go_mod}
if set(_EXACT) != LOCKFILE_NAMES or not set(_WITH_COMPANIONS) <= LOCKFILE_NAMES:  # pragma: no cover - import guard
    raise RuntimeError("the parser registry and domain.lockfiles.LOCKFILE_NAMES name different lockfiles")
__all__ = ["SUPPORTED_LOCKFILES", "base_name", "companion_names", "parse_lockfile", "parser_for"]


def base_name(filename: str) -> str:
    """The last component of an uploaded path, whichever separator the client used."""
    return lockfile_base_name(filename)


def companion_names(filename: str) -> frozenset[str]:
    """Base names of the files that complete `filename` when sent with it (`go.sum` for `go.mod`)."""
    return COMPANION_NAMES.get(base_name(filename), frozenset())


def parser_for(filename: str, companions: Mapping[str, str] | None = None) -> LockfileParser:
    """The parser for `filename` (matched on its base name, case-sensitively) or `UnsupportedLockfile`."""
    name = base_name(filename)
    if name in _WITH_COMPANIONS:
        by_name = {base_name(key): text for key, text in (companions or {}).items()}
        return _WITH_COMPANIONS[name](name, by_name)
    factory = _EXACT.get(name)
    if factory is not None:
        return factory(name)
    if fnmatchcase(name, DEPS_JSON_PATTERN):
        return DepsJsonParser(name)
    if any(fnmatchcase(name, pattern) for pattern in REQUIREMENTS_PATTERNS):
        return RequirementsTxtParser(name)
    raise UnsupportedLockfile(filename, SUPPORTED_LOCKFILES)


def parse_lockfile(filename: str, content: str, companions: Mapping[str, str] | None = None) -> ParsedLockfile:
    """Parse one uploaded lockfile, with the companion files sent along (`go.sum` for `go.mod`).

    Raises only `UnsupportedLockfile` or `MalformedLockfile` (`EmptyLockfile` for a format with a required
    structure sent with no content; an empty requirements file is a project without requirements).
    """
    parser = parser_for(filename, companions)
    if not content.removeprefix("\ufeff").strip() and not isinstance(parser, RequirementsTxtParser):
        # Every other format has a required structure, and an empty answer would read as "no vulnerabilities".
        raise EmptyLockfile(base_name(filename))
    # Every parser already translates its errors; this guards parsers added later.
    with translate_errors(base_name(filename)):
        return parser.parse(content)
