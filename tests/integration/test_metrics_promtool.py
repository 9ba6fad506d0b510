"""promtool checks the alert rules (syntax and behaviour), the scrape config, and a real /metrics scrape."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.domain.tiers import Tier
from secapi.entrypoints.vulndb import import_sample

from support.registry import IN_CI
from support.seed import bearer, container_of, create_user

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool not found: apt-get install prometheus"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_alert_rules_are_valid(promtool: str) -> None:
    done = run(promtool, "check", "rules", str(DEPLOY / "alerts.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 7 rules found" in done.stdout


def test_alert_rules_fire_when_and_only_when_specified(promtool: str) -> None:
    done = run(promtool, "test", "rules", "alerts_test.yml", cwd=DEPLOY)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_scrape_config_is_valid(promtool: str, tmp_path: Path) -> None:
    # The token file lives in a compose-mounted secret; point at a local one to check the rest.
    token = tmp_path / "token"
    token.write_text("t")
    config = (DEPLOY / "prometheus.yml").read_text().replace("/run/secrets/secapi-metrics-token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(DEPLOY / "alerts.yml", tmp_path / "alerts.yml")
    done = run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


async def test_a_real_scrape_passes_promtool_check_metrics(promtool: str, app: Litestar, client: AsyncClient) -> None:
    await import_sample(container_of(app))
    _, key = await create_user(app, "lint@example.com", Tier.FREE)
    body = {"filename": "requirements.txt", "content": "flask==2.2.4\n"}
    for _ in range(2):
        await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(key))
    await client.get("/no/such/route")
    scrape = (await client.get("/metrics")).text
    assert "secapi_scan_requests_total" in scrape
    done = run(promtool, "check", "metrics", stdin=scrape)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""  # no lint findings either
