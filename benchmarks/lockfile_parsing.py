"""Lockfile parsing speed: a 1,000-package file of every supported family, best of 15.

Usage: uv run python benchmarks/lockfile_parsing.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from secapi.adapters.lockfiles import parse_lockfile

N = 1000
HASH = "sha512-" + "a" * 86 + "=="


def _package_lock() -> str:
    packages: dict[str, object] = {"": {"name": "app", "version": "1.0.0"}}
    for i in range(N):
        packages[f"node_modules/pkg-{i}"] = {"version": f"1.{i}.0", "integrity": HASH, "dependencies": {"a": "^1"}}
    return json.dumps({"lockfileVersion": 3, "packages": packages}, indent=2)


def _yarn_v1() -> str:
    return "\n".join(
        f'"pkg-{i}@^1.0.0", pkg-{i}@^1.{i}.0:\n  version "1.{i}.0"\n  integrity {HASH}\n' for i in range(N)
    )


def _yarn_berry() -> str:
    entries = (
        f'"pkg-{i}@npm:^1.{i}.0":\n  version: 1.{i}.0\n  resolution: "pkg-{i}@npm:1.{i}.0"\n'
        f'  dependencies:\n    a: "npm:^1"\n  checksum: 10c0/{"a" * 128}\n  languageName: node\n  linkType: hard\n'
        for i in range(N)
    )
    return "__metadata:\n  version: 8\n\n" + "\n".join(entries)


def _pnpm_v9() -> str:
    packages = "\n".join(f"  pkg-{i}@1.{i}.0:\n    resolution: {{integrity: {HASH}}}\n" for i in range(N))
    snapshots = "\n".join(f"  pkg-{i}@1.{i}.0:\n    dependencies:\n      a: 1.0.0\n" for i in range(N))
    return f"lockfileVersion: '9.0'\n\npackages:\n\n{packages}\nsnapshots:\n\n{snapshots}"


def _requirements() -> str:
    return "\n".join(f"pkg-{i}==1.{i}.0 \\\n    --hash=sha256:{'a' * 64}\n    # via app" for i in range(N))


def _poetry() -> str:
    return "\n".join(
        f'[[package]]\nname = "pkg-{i}"\nversion = "1.{i}.0"\noptional = false\nfiles = [\n'
        f'    {{file = "pkg_{i}-1.{i}.0-py3-none-any.whl", hash = "sha256:{"a" * 64}"}},\n]\n'
        for i in range(N)
    )


def _cargo() -> str:
    source = "registry+https://github.com/rust-lang/crates.io-index"
    return "version = 3\n\n" + "\n".join(
        f'[[package]]\nname = "pkg-{i}"\nversion = "1.{i}.0"\nsource = "{source}"\nchecksum = "{"a" * 64}"\n'
        for i in range(N)
    )


def _go_mod() -> str:
    return (
        "module m\n\ngo 1.21\n\nrequire (\n"
        + "\n".join(f"\tex.com/pkg-{i} v1.{i}.0 // indirect" for i in range(N))
        + "\n)\n"
    )


def _gemfile_lock() -> str:
    specs = "\n".join(f"    pkg-{i} (1.{i}.0)\n      a (~> 1.0)" for i in range(N))
    return f"GEM\n  remote: https://rubygems.org/\n  specs:\n{specs}\n\nPLATFORMS\n  ruby\n"


def _composer_lock() -> str:
    return json.dumps({"packages": [{"name": f"v/pkg-{i}", "version": f"v1.{i}.0"} for i in range(N)]}, indent=4)


def _gradle_lockfile() -> str:
    configurations = "compileClasspath,productionRuntimeClasspath,runtimeClasspath,testRuntimeClasspath"
    header = "# This is a Gradle generated file for dependency locking.\n"
    return header + "\n".join(f"org.example.g{i}:pkg-{i}:1.{i}.0={configurations}" for i in range(N)) + "\nempty=\n"


CASES: list[tuple[str, Callable[[], str]]] = [
    ("package-lock.json", _package_lock),
    ("yarn.lock", _yarn_v1),
    ("yarn.lock", _yarn_berry),
    ("pnpm-lock.yaml", _pnpm_v9),
    ("requirements.txt", _requirements),
    ("poetry.lock", _poetry),
    ("Cargo.lock", _cargo),
    ("go.mod", _go_mod),
    ("Gemfile.lock", _gemfile_lock),
    ("composer.lock", _composer_lock),
    ("gradle.lockfile", _gradle_lockfile),
]


def main() -> None:
    print("| lockfile | packages | best ms | median ms |")
    print("|---|---|---|---|")
    for filename, build in CASES:
        content = build()
        times = []
        for _ in range(15):
            started = time.perf_counter()
            parsed = parse_lockfile(filename, content)
            times.append((time.perf_counter() - started) * 1000)
        # go.mod also yields the standard library (`stdlib`) its go/toolchain line names.
        assert len(parsed.packages) == N + (filename == "go.mod"), filename
        times.sort()
        label = f"{filename} ({build.__name__.strip('_')})"
        print(f"| {label} | {len(parsed.packages)} | {times[0]:.1f} | {times[len(times) // 2]:.1f} |")


if __name__ == "__main__":
    main()
