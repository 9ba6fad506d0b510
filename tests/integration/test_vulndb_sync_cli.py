"""`secapi vulndb sync` as a command: per-ecosystem lines, log fields, exit status, `--ecosystem` and `--source`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from secapi.config import Settings

from support.osv_bucket import Bucket, BucketServer, real_records

SECAPI = str(Path(sys.executable).parent / "secapi")


@pytest.fixture
def server() -> Iterator[BucketServer]:
    with BucketServer(Bucket.of(real_records("pypa", "rustsec"))).running() as running:
        yield running


def _sync(
    settings: Settings, *args: str, env_changes: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SECAPI_DATABASE_URL": settings.database_url,
        "SECAPI_REDIS_URL": settings.redis_url or "",
        "SECAPI_CACHE_WARM_TOP": "0",
        "SECAPI_LOG_LEVEL": "INFO",
        # `--source` names the OSV mirror only; the exploit feeds keep their own (public, default) sources.
        "SECAPI_VULNDB_EPSS_SOURCE": "",
        "SECAPI_VULNDB_KEV_SOURCE": "off",
        **(env_changes or {}),
    }
    return subprocess.run(
        [SECAPI, "vulndb", "sync", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_sync_prints_each_ecosystem_and_a_second_run_downloads_nothing(
    settings: Settings, server: BucketServer
) -> None:
    first = _sync(settings, "--source", server.url, "--ecosystem", "PyPI", "--ecosystem", "crates.io")
    assert first.returncode == 0, first.stderr
    assert "PyPI: all.zip (" in first.stdout
    assert "read 5: added 5, updated 0, withdrawn 0, rejected 0" in first.stdout
    assert "crates.io: all.zip" in first.stdout
    assert "vulnerability database version" in first.stdout
    # Not a terminal: one structured line per ecosystem in the log.
    assert "vulndb sync ecosystem=PyPI status=ok method=archive" in first.stderr
    assert "added=5" in first.stderr

    second = _sync(settings, "--source", server.url, "--ecosystem", "PyPI", "--ecosystem", "crates.io")
    assert second.returncode == 0, second.stderr
    assert "PyPI: not modified (304), nothing downloaded" in second.stdout
    assert "nothing changed" in second.stdout


def test_a_failed_ecosystem_exits_1_and_the_others_are_applied(settings: Settings, server: BucketServer) -> None:
    server.bucket.files["PyPI/all.zip"].body = b"PK\x03\x04 not a zip"
    done = _sync(settings, "--source", server.url, "--ecosystem", "PyPI", "--ecosystem", "crates.io")
    assert done.returncode == 1
    assert "PyPI: FAILED" in done.stdout
    assert "is corrupt or not a zip" in done.stdout
    assert "crates.io: all.zip" in done.stdout
    assert "vulnerability database version 1" in done.stdout
    assert "Error: 1 failed (PyPI); the rest were applied" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_ecosystem_the_source_does_not_list_is_not_synced(settings: Settings, server: BucketServer) -> None:
    done = _sync(settings, "--source", server.url, "--ecosystem", "Hackage")
    assert done.returncode == 0, done.stderr
    assert "nothing changed" in done.stdout
    assert server.paths() == ["ecosystems.txt"]


def test_no_feeds_skips_the_configured_feeds_and_source_alone_keeps_them(
    settings: Settings, server: BucketServer
) -> None:
    # A feed source nothing answers (a closed loopback port): tried unless --no-feeds.
    unreachable = {"SECAPI_VULNDB_EPSS_SOURCE": "http://127.0.0.1:9/epss_scores-current.csv.gz"}
    with_feeds = _sync(settings, "--source", server.url, "--ecosystem", "PyPI", env_changes=unreachable)
    assert with_feeds.returncode == 1
    assert "feed:epss: FAILED" in with_feeds.stdout
    assert "PyPI: all.zip (" in with_feeds.stdout  # the records were still applied
    without = _sync(settings, "--source", server.url, "--ecosystem", "PyPI", "--no-feeds", env_changes=unreachable)
    assert without.returncode == 0, without.stderr
    assert "feed:" not in without.stdout
    assert "PyPI: not modified (304), nothing downloaded" in without.stdout
