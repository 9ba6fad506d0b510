"""Lockfile parsers: one module per format family, chosen by file name in `registry`.

Decisions every parser follows:

- Only exact, released versions become `Package`s. Ranges, git/URL/path sources, includes and
  versions that cannot be known are `UnscannableEntry`s with a reason, never guesses.
- Nothing is dropped silently: every entry is a package or an unscannable entry. Local code is
  reported too (workspace packages, npm/pnpm links, uv editable/virtual/path sources, Cargo crates
  without a `source`, Bundler `PATH` gems, `-e` lines), even where it may be the project itself,
  because the format lists it as installed. The one exception is an entry the format reserves for
  the project root and never installs: package-lock's `""`, yarn berry's `workspace:.` and the consumer
  node of a Conan 1 `graph_lock`. Settings that only configure a listed package (cabal flag-only
  constraint lines) are not entries either.
- `MalformedLockfile` means the file is not the format (bad syntax, wrong top-level shape). One
  unreadable entry (a missing or mistyped field, an invalid requirement line) becomes an
  unscannable entry naming it; the rest of the file is still read.
- Dev and optional dependencies are included: the lockfile cannot say what ships, and a missed
  vulnerability costs more than a reported one. Environment markers are kept for the same reason.
- Locations are `line N` for line formats and YAML, a path such as `packages["node_modules/a"]`
  for JSON and `package[3]` for TOML (tomllib keeps no line numbers).
- Every failure is `MalformedLockfile` naming a line or path; credentials in URLs are masked.
"""

from secapi.adapters.lockfiles.registry import SUPPORTED_LOCKFILES, parse_lockfile, parser_for

__all__ = ["SUPPORTED_LOCKFILES", "parse_lockfile", "parser_for"]
