"""`secapi scan` against a live server: exit codes, formats, SBOMs, problems and suppressions.

Most tests hand the client (`run_scan`) an httpx client bound to the app in this event loop; the last ones run
the real `secapi scan` command as a subprocess against `secapi serve` on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from secapi.config import Settings
from secapi.domain.services.accounts import AccountService
from secapi.domain.tiers import Tier
from secapi.entrypoints.client import (
    EXIT_CLEAN,
    EXIT_FAILED,
    EXIT_FINDINGS,
    EXIT_USAGE,
    ClientError,
    ScanOptions,
    ScanOutcome,
    TargetKind,
    classify,
    run_scan,
)
from secapi.entrypoints.http.app import create_app
from secapi.entrypoints.vulndb import import_sample
from secapi.entrypoints.worker import serve_worker
from secapi.ioc import make_container

from support.format_scans import sarif_errors
from support.http import serve
from support.images import app_layer, debian_image, oci_layout_tar, push
from support.registry import RunningRegistry, registry_fixture  # noqa: F401 - fixture used by name
from support.seed import container_of, create_user
from support.server import SECAPI, secapi_server

pytestmark = pytest.mark.integration

# flask 2.2.4: GHSA-m2qf-hxjv-5gpq (HIGH) on line 2; Jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (MEDIUM) on line 4;
# nothing CRITICAL; django>=4 is not pinned (unscannable).
REQUIREMENTS = "# pinned\nflask==2.2.4\n\nJinja2==3.1.2\ndjango>=4\n"
FLASK_HIGH = "GHSA-m2qf-hxjv-5gpq"
JINJA_MEDIUM = "GHSA-h5c8-rqwp-cp95"
CYCLONEDX = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "version": 1,
    "components": [
        {"type": "library", "name": "flask", "version": "2.2.4", "purl": "pkg:pypi/flask@2.2.4"},
        {"type": "library", "name": "left-pad", "version": "1.3.0", "purl": "pkg:npm/left-pad@1.3.0"},
    ],
}


@pytest.fixture
async def api(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, authenticated as a fresh user, with the bundled advisories loaded."""
    await import_sample(container_of(app))
    _, key = await create_user(app, "ci@example.com", Tier.STARTER)
    async with serve(app) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout: the working directory, with a lockfile in a subdirectory and an SBOM."""
    (tmp_path / "service").mkdir()
    (tmp_path / "service" / "requirements.txt").write_text(REQUIREMENTS)
    (tmp_path / "sbom").write_text(json.dumps(CYCLONEDX))  # no extension: told by its content
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def _scan(client: httpx.AsyncClient, value: str, **options: Any) -> ScanOutcome:
    return await run_scan(client, ScanOptions(target=classify(value), **options))


async def test_a_lockfile_with_a_high_finding_fails_at_high_and_passes_at_critical(
    api: httpx.AsyncClient, project: Path
) -> None:
    failing = await _scan(api, "service/requirements.txt", fail_on="high")
    assert failing.exit_code == EXIT_FINDINGS
    assert [f.id for f in failing.failing] == [FLASK_HIGH]
    assert failing.scan.result is not None
    assert {f.id for f in failing.scan.result.vulnerabilities} == {FLASK_HIGH, JINJA_MEDIUM}
    passing = await _scan(api, "service/requirements.txt", fail_on="critical")  # a cache hit
    assert passing.exit_code == EXIT_CLEAN
    assert (await _scan(api, "service/requirements.txt", fail_on="medium")).exit_code == EXIT_FINDINGS
    assert (await _scan(api, "service/requirements.txt")).exit_code == EXIT_CLEAN  # --fail-on never


async def test_sarif_from_the_server_is_schema_valid_and_points_at_the_lockfile_in_the_checkout(
    api: httpx.AsyncClient, project: Path
) -> None:
    for _ in range(2):  # a miss, then a hit (whose scan row is written behind: the client waits for it)
        outcome = await _scan(api, "service/requirements.txt", output_format="sarif")
        assert outcome.document is not None
        log = json.loads(outcome.document)
        assert sarif_errors(log) == []
        places = {
            (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
            for r in log["runs"][0]["results"]
        }
        assert places == {(FLASK_HIGH, "service/requirements.txt"), (JINJA_MEDIUM, "service/requirements.txt")}
    native = await _scan(api, "service/requirements.txt", output_format="json")
    assert json.loads(native.document or b"")["result"]["counts"]["HIGH"] == 1


async def test_an_sbom_is_told_by_its_content_and_scanned(api: httpx.AsyncClient, project: Path) -> None:
    assert classify("sbom").kind is TargetKind.SBOM
    outcome = await _scan(api, "sbom", fail_on="high")
    assert outcome.exit_code == EXIT_FINDINGS
    assert [f.id for f in outcome.failing] == [FLASK_HIGH]


async def test_a_problem_from_the_server_is_exit_3_with_its_text(api: httpx.AsyncClient, project: Path) -> None:
    (project / "package-lock.json").write_text("{ this is not json")
    with pytest.raises(ClientError) as raised:
        await _scan(api, "package-lock.json", fail_on="high")
    assert raised.value.exit_code == EXIT_FAILED
    assert str(raised.value).startswith("Malformed lockfile: package-lock.json is malformed")
    assert str(raised.value).endswith("[HTTP 422]")


async def test_suppressed_findings_do_not_fail_the_build(api: httpx.AsyncClient, project: Path) -> None:
    assert (await _scan(api, "service/requirements.txt", fail_on="high")).exit_code == EXIT_FINDINGS
    rule = await api.post("/api/v1/ignores", json={"advisory": FLASK_HIGH, "reason": "not reachable in our use"})
    assert rule.status_code == 201, rule.text
    outcome = await _scan(api, "service/requirements.txt", fail_on="high")
    assert outcome.exit_code == EXIT_CLEAN
    assert outcome.scan.result is not None
    assert [f.id for f in outcome.scan.result.suppressed] == [FLASK_HIGH]
    assert (await _scan(api, "service/requirements.txt", fail_on="medium")).exit_code == EXIT_FINDINGS  # Jinja2


async def test_an_image_archive_is_told_by_its_tar_header_and_scanned(api: httpx.AsyncClient, project: Path) -> None:
    oci_layout_tar(debian_image(app_layer()), project / "image.tar.gz", compress=True)
    assert classify("image.tar.gz").kind is TargetKind.ARCHIVE
    outcome = await _scan(api, "image.tar.gz", fail_on="high")
    assert outcome.exit_code == EXIT_FINDINGS
    assert FLASK_HIGH in {f.id for f in outcome.failing}  # Flask 2.2.4 in the application layer


async def test_an_image_reference_answered_202_is_polled_until_the_worker_finishes(
    settings: Settings, registry: RunningRegistry
) -> None:
    queued = Settings.from_env(
        {},
        **{
            **settings.__dict__,
            "registry_allowlist": registry.host_port,
            "registry_insecure": registry.host_port,
            "scan_sync_budget": 0.0,  # never answered inline: 202 and a Location to poll
            "registry_read_timeout": 5.0,
        },
    )
    push(registry, "cli/polled", "1", [debian_image()])
    stop = asyncio.Event()
    worker = asyncio.create_task(serve_worker(queued, stop))
    app = create_app(queued)
    try:
        async with serve(app) as client:
            await import_sample(container_of(app))
            _, key = await create_user(app, "poll@example.com")
            client.headers["Authorization"] = f"Bearer {key}"
            seen: list[tuple[str, int]] = []

            async def record(response: httpx.Response) -> None:
                seen.append((response.request.method, response.status_code))

            client.event_hooks["response"] = [record]
            outcome = await _scan(client, f"{registry.host_port}/cli/polled:1", fail_on="any", timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)
    assert seen[0] == ("POST", 202)
    assert len(seen) > 1
    assert set(seen[1:]) == {("GET", 200)}  # then polled the Location until the worker finished
    assert outcome.scan.status == "completed"
    assert outcome.exit_code == EXIT_FINDINGS
    assert "DSA-5514-1" in {f.id for f in outcome.failing}


# The real command against a real server process.


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[str, str]]:
    """`secapi serve` on a free loopback port over the test database, and a key for it."""
    import asyncio

    async def seed() -> str:
        container = make_container(settings)
        try:
            await import_sample(container)
            async with container() as request:
                accounts = await request.get(AccountService)
                _, issued = await accounts.create_user("served@example.com", Tier.STARTER)
        finally:
            await container.close()
        return issued.secret

    key = asyncio.run(seed())
    env = {
        **os.environ,
        "SECAPI_DATABASE_URL": settings.database_url,
        "SECAPI_REDIS_URL": settings.redis_url or "",
        "SECAPI_LOG_LEVEL": "WARNING",
        "SECAPI_METRICS_ENABLED": "false",
    }
    with secapi_server(env) as base:
        yield base, key


def _secapi_scan(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECAPI_URL", "SECAPI_API_KEY")}
    return subprocess.run(
        [SECAPI, "scan", *args],
        cwd=cwd,
        env={**clean, "SECAPI_LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_secapi_scan_as_a_ci_step_against_a_served_process(served: tuple[str, str], project: Path) -> None:
    base, key = served
    env = {"SECAPI_URL": base, "SECAPI_API_KEY": key}

    failing = _secapi_scan(project, env, "service/requirements.txt", "--fail-on", "high", "-o", "results.sarif")
    assert failing.returncode == EXIT_FINDINGS, failing.stderr
    header, *rows = failing.stdout.splitlines()
    assert header.split() == ["SEVERITY", "ADVISORY", "PACKAGE", "INSTALLED", "FIXED"]
    assert rows[0].split()[:3] == ["HIGH", FLASK_HIGH, "flask"]
    assert rows[1].split()[:3] == ["MEDIUM", JINJA_MEDIUM, "Jinja2"]
    assert rows[2].startswith("service/requirements.txt: 2 vulnerabilities (1 high, 1 medium), 1 unscannable")
    assert "1 finding(s) at or above --fail-on high: exit 1" in failing.stderr
    log = json.loads((project / "results.sarif").read_text())
    assert sarif_errors(log) == []
    assert {r["ruleId"] for r in log["runs"][0]["results"]} == {FLASK_HIGH, JINJA_MEDIUM}

    passing = _secapi_scan(project, env, "service/requirements.txt", "--fail-on", "critical", "--format", "json")
    assert passing.returncode == EXIT_CLEAN, passing.stderr
    assert json.loads(passing.stdout)["result"]["counts"] == {
        "CRITICAL": 0,
        "HIGH": 1,
        "MEDIUM": 1,
        "LOW": 0,
        "UNKNOWN": 0,
    }

    sbom = _secapi_scan(project, env, "sbom", "--fail-on", "high")
    assert sbom.returncode == EXIT_FINDINGS, sbom.stderr
    assert FLASK_HIGH in sbom.stdout


def test_secapi_scan_exit_codes_for_configuration_and_server_problems(served: tuple[str, str], project: Path) -> None:
    base, key = served
    no_key = _secapi_scan(project, {"SECAPI_URL": base}, "service/requirements.txt")
    assert (no_key.returncode, no_key.stderr) == (
        EXIT_USAGE,
        "secapi scan: no API key: set SECAPI_API_KEY or pass --api-key\n",
    )

    refused = _secapi_scan(project, {"SECAPI_URL": base, "SECAPI_API_KEY": "sk_wrong"}, "service/requirements.txt")
    assert refused.returncode == EXIT_USAGE
    assert refused.stderr.startswith("secapi scan: the server refused the API key: Authentication required: ")

    (project / "package-lock.json").write_text("{ this is not json")
    env = {"SECAPI_URL": base, "SECAPI_API_KEY": key}
    problem = _secapi_scan(project, env, "package-lock.json")
    assert problem.returncode == EXIT_FAILED
    assert problem.stderr.startswith("secapi scan: Malformed lockfile: package-lock.json is malformed")
    assert len(problem.stderr.splitlines()) == 1  # one line, no traceback

    unreachable = _secapi_scan(project, {**env, "SECAPI_URL": "http://127.0.0.1:9"}, "service/requirements.txt")
    assert unreachable.returncode == EXIT_FAILED
    assert unreachable.stderr.startswith("secapi scan: cannot reach http://127.0.0.1:9")

    bad_option = _secapi_scan(project, env, "service/requirements.txt", "--fail-on", "severe")
    assert bad_option.returncode == EXIT_USAGE
