"""Structural checks for the bundled OSV sample records.

Each file under src/secapi/adapters/osv/sample/ must be a well-formed OSV
record: it parses as JSON, has the required fields, uses the expected
ecosystem names, and is named after its id. Taken together, the files must
cover every ecosystem the demo promises and the OSV features the matcher
has to handle (withdrawn, last_affected, explicit versions, CVSS v4).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

SAMPLE_DIR = Path(__file__).resolve().parents[3] / "src" / "secapi" / "adapters" / "osv" / "sample"

# directory name -> OSV base ecosystem name (the part before any ':')
ECOSYSTEM_DIRS: dict[str, str] = {
    "PyPI": "PyPI",
    "npm": "npm",
    "Go": "Go",
    "crates.io": "crates.io",
    "RubyGems": "RubyGems",
    "Packagist": "Packagist",
    "Maven": "Maven",
    "Debian": "Debian",
    "Alpine": "Alpine",
}

# Debian releases are bare numbers ("Debian:12"); Alpine branches are "v3.18".
ECOSYSTEM_RE = re.compile(r"^(?:PyPI|npm|Go|crates\.io|RubyGems|Packagist|Maven|Debian:\d+|Alpine:v\d+\.\d+)$")
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")
SCHEMA_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
EVENT_KEYS = {"introduced", "fixed", "last_affected", "limit"}
RANGE_TYPES = {"SEMVER", "ECOSYSTEM", "GIT"}
SEVERITY_PREFIX = {"CVSS_V2": "AV:", "CVSS_V3": "CVSS:3.", "CVSS_V4": "CVSS:4.0/"}
REFERENCE_TYPES = {
    "ADVISORY",
    "ARTICLE",
    "DETECTION",
    "DISCUSSION",
    "REPORT",
    "FIX",
    "INTRODUCED",
    "GIT",
    "PACKAGE",
    "EVIDENCE",
    "WEB",
}
MAX_BUNDLE_BYTES = 300 * 1024


def _record_files() -> list[Path]:
    return sorted(p for p in SAMPLE_DIR.rglob("*.json") if p.is_file())


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    assert isinstance(data, dict), f"{path.name}: top level must be a JSON object"
    return data


def _records() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in _record_files():
        yield path, _load(path)


def _nonempty_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str) or not RFC3339_RE.match(value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))  # raises if the date itself is impossible
    return True


RECORD_FILES = _record_files()


def test_sample_directory_has_a_reasonable_number_of_records() -> None:
    assert SAMPLE_DIR.is_dir(), SAMPLE_DIR
    assert 40 <= len(RECORD_FILES) <= 80, len(RECORD_FILES)


def test_only_expected_ecosystem_directories() -> None:
    dirs = {p.name for p in SAMPLE_DIR.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert dirs == set(ECOSYSTEM_DIRS), dirs
    for path in RECORD_FILES:
        assert path.parent.parent == SAMPLE_DIR, f"{path}: records live exactly one level below sample/"


def test_bundle_stays_small() -> None:
    total = sum(p.stat().st_size for p in RECORD_FILES)
    assert total < MAX_BUNDLE_BYTES, total


@pytest.mark.parametrize("path", RECORD_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_record_is_well_formed(path: Path) -> None:
    rec = _load(path)

    # identity and timestamps
    assert _nonempty_str(rec.get("id")), "id is required"
    assert path.stem == rec["id"], f"file name {path.name} must equal id {rec['id']}"
    assert _is_rfc3339(rec.get("modified")), f"modified must be RFC 3339: {rec.get('modified')!r}"
    for key in ("published", "withdrawn"):
        if key in rec:
            assert _is_rfc3339(rec[key]), f"{key} must be RFC 3339: {rec[key]!r}"
    if "schema_version" in rec:
        assert SCHEMA_VERSION_RE.match(rec["schema_version"]), rec["schema_version"]

    for key in ("aliases", "related", "upstream"):
        if key in rec:
            assert isinstance(rec[key], list), key
            assert all(_nonempty_str(a) for a in rec[key]), key
    for key in ("summary", "details"):
        if key in rec:
            assert isinstance(rec[key], str), key

    # affected packages
    affected = rec.get("affected")
    assert isinstance(affected, list), "affected must be a list"
    assert affected, "affected must not be empty"
    base_ecosystem = ECOSYSTEM_DIRS[path.parent.name]
    for aff in affected:
        pkg = aff.get("package")
        assert isinstance(pkg, dict), "affected[].package is required"
        assert _nonempty_str(pkg.get("ecosystem")), "package.ecosystem is required"
        assert _nonempty_str(pkg.get("name")), "package.name is required"
        assert ECOSYSTEM_RE.match(pkg["ecosystem"]), f"unexpected ecosystem name {pkg['ecosystem']!r}"
        assert pkg["ecosystem"].split(":", 1)[0] == base_ecosystem, (
            f"{pkg['ecosystem']} record stored under {path.parent.name}/"
        )

        ranges = aff.get("ranges", [])
        versions = aff.get("versions", [])
        assert isinstance(ranges, list)
        assert isinstance(versions, list)
        assert ranges or versions, "each affected entry needs ranges or versions"
        assert all(_nonempty_str(v) for v in versions)
        for rng in ranges:
            assert rng.get("type") in RANGE_TYPES, rng.get("type")
            events = rng.get("events")
            assert isinstance(events, list), "range.events must be a list"
            assert events, "range.events must not be empty"
            for event in events:
                assert isinstance(event, dict), event
                assert len(event) == 1, event
                ((kind, value),) = event.items()
                assert kind in EVENT_KEYS, kind
                assert _nonempty_str(value), event
            assert any("introduced" in e for e in events), "a range needs an introduced event"
            if rng["type"] == "GIT":
                assert _nonempty_str(rng.get("repo")), "GIT ranges need repo"

    # severity and references
    for sev in rec.get("severity") or []:
        assert sev.get("type") in SEVERITY_PREFIX, sev
        assert _nonempty_str(sev.get("score")), sev
        assert sev["score"].startswith(SEVERITY_PREFIX[sev["type"]]), sev
    for ref in rec.get("references") or []:
        assert ref.get("type") in REFERENCE_TYPES, ref
        assert _nonempty_str(ref.get("url")), ref
        assert ref["url"].startswith(("http://", "https://")), ref


def test_ids_are_unique() -> None:
    ids = [rec["id"] for _, rec in _records()]
    assert len(ids) == len(set(ids))


def test_id_prefixes_match_their_source() -> None:
    prefixes = {
        "PyPI": ("GHSA-", "PYSEC-"),
        "npm": ("GHSA-",),
        "Go": ("GO-",),
        "crates.io": ("RUSTSEC-",),
        "RubyGems": ("GHSA-",),
        "Packagist": ("GHSA-",),
        "Maven": ("GHSA-",),
        "Debian": ("DSA-", "DLA-", "DEBIAN-CVE-"),
        "Alpine": ("ALPINE-CVE-",),
    }
    for path, rec in _records():
        assert rec["id"].startswith(prefixes[path.parent.name]), rec["id"]


def test_every_promised_ecosystem_is_covered() -> None:
    ecosystems = {aff["package"]["ecosystem"] for _, rec in _records() for aff in rec["affected"]}
    bases = {e.split(":", 1)[0] for e in ecosystems}
    assert bases == set(ECOSYSTEM_DIRS.values()), bases
    for needed in ("Debian:11", "Debian:12", "Alpine:v3.18", "Alpine:v3.19"):
        assert needed in ecosystems, needed


def test_osv_features_the_matcher_must_handle_are_present() -> None:
    records = [rec for _, rec in _records()]
    events = [e for rec in records for aff in rec["affected"] for rng in aff.get("ranges", []) for e in rng["events"]]
    assert any("withdrawn" in rec for rec in records), "need a withdrawn record"
    assert any("last_affected" in e for e in events), "need a last_affected event"
    assert any(aff.get("versions") for rec in records for aff in rec["affected"]), "need an explicit versions list"
    assert any(sev["type"] == "CVSS_V4" for rec in records for sev in rec.get("severity") or []), (
        "need a CVSS v4 vector"
    )


def test_ghsa_records_keep_their_published_database_specific_severity() -> None:
    ghsa = [rec for _, rec in _records() if rec["id"].startswith("GHSA-")]
    assert ghsa
    for rec in ghsa:
        db = rec.get("database_specific") or {}
        assert db.get("severity") in {"LOW", "MODERATE", "HIGH", "CRITICAL"}, rec["id"]
        assert db.get("github_reviewed") is True, rec["id"]


def test_readme_lists_every_record() -> None:
    readme = (SAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    for path in RECORD_FILES:
        rel = f"{path.parent.name}/{path.name}"
        assert rel in readme, f"README.md does not list {rel}"


def test_well_known_demo_findings_are_present() -> None:
    """Spot-check a few records the demo relies on (values as published)."""
    by_id = {rec["id"]: rec for _, rec in _records()}

    log4shell = by_id["GHSA-jfh8-c2jp-5v3q"]
    assert "CVE-2021-44228" in log4shell["aliases"]
    core = [a for a in log4shell["affected"] if a["package"]["name"] == "org.apache.logging.log4j:log4j-core"]
    assert {"fixed": "2.15.0"} in core[0]["ranges"][0]["events"]

    looney = by_id["DSA-5514-1"]
    assert looney["affected"][0]["package"] == {"ecosystem": "Debian:12", "name": "glibc"}
    assert {"fixed": "2.36-9+deb12u3"} in looney["affected"][0]["ranges"][0]["events"]

    jwt = by_id["GHSA-27h2-hvpr-p74q"]
    assert _is_rfc3339(jwt["withdrawn"])
