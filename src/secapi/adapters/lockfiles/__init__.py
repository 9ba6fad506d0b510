"""Lockfile parsers: one module per format family, chosen by file name in `registry`.

Decisions every parser follows:

- Only exact, released versions become `Package`s. Ranges, git/URL/path sources, includes and
  versions that cannot be known are `UnscannableEntry`s with a reason, never guesses.
- The project's own code is skipped silently: npm/yarn/pnpm workspaces and links, uv editable or
  virtual members, Cargo crates without a `source`, Bundler's `PATH remote: .`, `-e .` lines.
- Dev and optional dependencies are included: the lockfile cannot say what ships, and a missed
  vulnerability costs more than a reported one. Environment markers are kept for the same reason.
- Locations are `line N` for line formats and YAML, a path such as `packages["node_modules/a"]`
  for JSON and `package[3]` for TOML (tomllib keeps no line numbers).
- Every failure is `MalformedLockfile` naming a line or path; credentials in URLs are masked.
"""

from secapi.adapters.lockfiles.registry import SUPPORTED_LOCKFILES, parse_lockfile, parser_for

__all__ = ["SUPPORTED_LOCKFILES", "parse_lockfile", "parser_for"]
