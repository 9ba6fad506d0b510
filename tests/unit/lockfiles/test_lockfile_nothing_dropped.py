"""Every entry of every lockfile format is either scanned or reported as unscannable: none vanishes."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile

EDGE_CASES = Path(__file__).parent / "fixtures" / "edge-cases"

# (fixture directory, lockfile name, companion names, entries in the file, counted by hand).
# Not entries: pip option lines that only configure pip, replace/exclude directives, pnpm snapshots
# and importer entries that point at a `packages` key, yarn's `__metadata`, go.sum lines for modules
# only fetched for their go.mod, and the project root the format reserves (package-lock's `""`,
# yarn berry's `workspace:.`, Conan 1's consumer node) and cabal flag-only constraint lines. The go
# `go`/`toolchain` lines together are one entry: `stdlib`. Gradle verification components that are only `.pom`
# files (parent POMs, BOMs) hold no code and are not entries.
CASES = [
    ("requirements", "requirements.txt", (), 15),
    ("poetry", "poetry.lock", (), 7),
    ("uv", "uv.lock", (), 9),
    ("pipenv", "Pipfile.lock", (), 8),
    ("npm-v1", "package-lock.json", (), 6),
    ("npm-v3", "package-lock.json", (), 10),
    ("yarn-v1", "yarn.lock", (), 8),
    ("yarn-berry", "yarn.lock", (), 7),
    ("pnpm-v5", "pnpm-lock.yaml", (), 8),
    ("pnpm-v6", "pnpm-lock.yaml", (), 7),
    ("pnpm-v9", "pnpm-lock.yaml", (), 6),
    ("gomod", "go.mod", (), 6),
    ("gomod-116", "go.mod", ("go.sum",), 5),
    ("cargo", "Cargo.lock", (), 7),
    ("bundler", "Gemfile.lock", (), 7),
    ("composer", "composer.lock", (), 7),
    ("pub", "pubspec.lock", (), 10),
    ("mix", "mix.lock", (), 8),
    ("swift", "Package.resolved", (), 6),
    ("renv", "renv.lock", (), 6),
    ("bun", "bun.lock", (), 7),
    ("cabal", "cabal.project.freeze", (), 6),
    ("stack", "stack.yaml.lock", (), 4),
    ("conan", "conan.lock", (), 6),
    ("gradle", "gradle.lockfile", (), 5),
    ("nuget-lock", "packages.lock.json", (), 5),
    ("packages-config", "packages.config", (), 5),
    ("deps-json", "Acme.Worker.deps.json", (), 6),
    ("maven", "pom.xml", (), 8),
    ("gradle-verification", "verification-metadata.xml", (), 5),
]


@pytest.mark.parametrize(("case", "filename", "companions", "entries"), CASES, ids=[case[0] for case in CASES])
def test_every_entry_is_a_package_or_an_unscannable_entry(
    case: str, filename: str, companions: tuple[str, ...], entries: int
) -> None:
    directory = EDGE_CASES / case
    parsed = parse_lockfile(
        filename,
        (directory / filename).read_text(),
        {name: (directory / name).read_text() for name in companions},
    )
    assert len(parsed.packages) + len(parsed.unscannable) == entries, (parsed.packages, parsed.unscannable)
    assert all(entry.reason and entry.location for entry in parsed.unscannable)
