"""Synthetic but realistic OSV records for benchmarks: GHSA-shaped, spread over PyPI/npm/Go/crates.io."""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path
from typing import Any

ECOSYSTEMS = ("PyPI", "npm", "Go", "crates.io")
VECTORS = (
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N",
    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
)
LOREM = (
    "A crafted request can cause the parser to read past the end of a buffer, "
    "which lets a remote attacker disclose memory or crash the process. "
) * 4


def package_name(ecosystem: str, n: int) -> str:
    """The n-th synthetic package name of an ecosystem."""
    if ecosystem == "Go":
        return f"github.com/bench/mod{n}"
    return f"bench-pkg-{n}"


def make_record(
    index: int, rng: random.Random, packages_per_ecosystem: int, *, unscored: bool = False
) -> dict[str, Any]:
    """One record with 1–3 affected entries, ECOSYSTEM/SEMVER ranges and a CVSS v3 vector.

    `unscored` makes it PYSEC/GO-shaped: no severity of its own, and an alias shared with the
    previous record, from which a scan borrows the score.
    """
    affected = []
    for _ in range(rng.choice((1, 2, 2, 3))):
        ecosystem = rng.choice(ECOSYSTEMS)
        major = rng.randint(0, 5)
        events = [
            {"introduced": "0" if rng.random() < 0.3 else f"{major}.0.0"},
            {"fixed": f"{major}.{rng.randint(1, 9)}.0"},
        ]
        affected.append(
            {
                "package": {
                    "ecosystem": ecosystem,
                    "name": package_name(ecosystem, rng.randrange(packages_per_ecosystem)),
                },
                "ranges": [{"type": "SEMVER" if ecosystem != "PyPI" else "ECOSYSTEM", "events": events}],
                "database_specific": {"source": "bench"},
            }
        )
    if unscored:
        return {
            "schema_version": "1.6.0",
            "id": f"BENCH-{index:07d}",
            "modified": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00Z",
            "aliases": [f"CVE-2099-{index - 1:07d}"],
            "summary": f"Synthetic advisory {index}",
            "details": LOREM,
            "affected": affected,
            "references": [{"type": "WEB", "url": f"https://example.invalid/advisories/{index}"}],
        }
    return {
        "schema_version": "1.6.0",
        "id": f"BENCH-{index:07d}",
        "modified": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00Z",
        "published": "2023-01-01T00:00:00Z",
        "aliases": [f"CVE-2099-{index:07d}"],
        "summary": f"Synthetic advisory {index}",
        "details": LOREM,
        "severity": [{"type": "CVSS_V3", "score": rng.choice(VECTORS)}],
        "affected": affected,
        "references": [{"type": "WEB", "url": f"https://example.invalid/advisories/{index}"}],
        "database_specific": {"severity": "HIGH", "github_reviewed": True},
    }


def write_zip(
    path: Path, count: int, *, seed: int = 7, packages_per_ecosystem: int = 20_000, unscored_every: int = 0
) -> int:
    """Write `count` records into an OSV-dump-shaped zip; returns the number of affected entries.

    With `unscored_every` N, every N-th record (index 1, N+1, ...) has no score of its own.
    """
    rng = random.Random(seed)
    affected = 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index in range(count):
            unscored = unscored_every > 0 and index % unscored_every == 1
            record = make_record(index, rng, packages_per_ecosystem, unscored=unscored)
            affected += len(record["affected"])
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return affected
