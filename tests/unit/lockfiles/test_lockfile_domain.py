"""ParsedLockfile invariants and the lockfile errors' wording."""

from __future__ import annotations

from secapi.domain.lockfiles import LockfileError, MalformedLockfile, ParsedLockfile, UnsupportedLockfile
from secapi.domain.packages import Package, UnscannableEntry


def _pkg(name: str, version: str, location: str) -> Package:
    return Package(name=name, version=version, ecosystem="npm", location=location)


def test_packages_are_deduplicated_by_name_and_version_keeping_the_first_location() -> None:
    parsed = ParsedLockfile.of(
        "npm",
        [_pkg("ms", "2.1.3", "first"), _pkg("debug", "4.3.4", "x"), _pkg("ms", "2.1.3", "second")],
    )
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("debug", "4.3.4", "x"),
        ("ms", "2.1.3", "first"),
    ]


def test_packages_are_sorted_by_name_then_version() -> None:
    parsed = ParsedLockfile.of("npm", [_pkg("b", "1.0.0", ""), _pkg("a", "2.0.0", ""), _pkg("a", "1.0.0", "")])
    assert [(p.name, p.version) for p in parsed.packages] == [("a", "1.0.0"), ("a", "2.0.0"), ("b", "1.0.0")]


def test_unscannable_entries_keep_file_order_without_exact_repeats() -> None:
    late = UnscannableEntry(name="z", reason="git", location="line 1")
    early = UnscannableEntry(name="a", reason="git", location="line 9")
    parsed = ParsedLockfile.of("npm", [], [late, early, late])
    assert parsed.unscannable == (late, early)


def test_malformed_lockfile_names_file_location_and_reason() -> None:
    error = MalformedLockfile("package-lock.json", 'packages["node_modules/a"].version', "expected a string")
    assert isinstance(error, LockfileError)
    assert (error.filename, error.location, error.reason) == (
        "package-lock.json",
        'packages["node_modules/a"].version',
        "expected a string",
    )
    assert str(error) == 'package-lock.json is malformed at packages["node_modules/a"].version: expected a string'


def test_malformed_lockfile_without_location_still_reads_as_a_sentence() -> None:
    assert str(MalformedLockfile("go.mod", None, "nested too deeply")) == "go.mod is malformed: nested too deeply"


def test_unsupported_lockfile_lists_the_supported_names() -> None:
    error = UnsupportedLockfile("build.gradle", ["go.mod", "yarn.lock"])
    assert isinstance(error, LockfileError)
    assert error.filename == "build.gradle"
    assert error.supported == ("go.mod", "yarn.lock")
    assert str(error) == "'build.gradle' is not a supported lockfile; supported names are: go.mod, yarn.lock"
