"""The Prometheus adapters: exact names and labels, both exposition formats, values summed across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from secapi.adapters.prometheus.exposition import MULTIPROC_ENV, PrometheusExposition
from secapi.adapters.prometheus.http import PrometheusHttpMetrics
from secapi.adapters.prometheus.sink import PrometheusMetricsSink
from secapi.domain.metrics import ScanRequestStatus, scrape_authorized
from secapi.domain.tiers import Tier

from support.metrics import parse_exposition as parse
from support.metrics import sample as value


@pytest.fixture
def exposition(monkeypatch: pytest.MonkeyPatch) -> PrometheusExposition:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    return PrometheusExposition()


def test_domain_events_become_the_designed_names_and_labels(exposition: PrometheusExposition) -> None:
    sink = PrometheusMetricsSink(exposition, shared_backend="redis", vulndb_update_period=86400)
    sink.scan_requested("dependencies", Tier.PRO, ScanRequestStatus.HIT, 0.004)
    sink.scan_requested("docker", Tier.FREE, ScanRequestStatus.REJECTED, None)
    sink.scan_started("docker")
    sink.scan_finished("docker", Tier.FREE, failed=True, seconds=25.0)
    sink.cache_lookup("dependencies", hit=True)
    sink.cache_lookup("docker", hit=False)
    sink.rate_limit_exceeded(Tier.FREE, "scan/docker")
    sink.cache_unavailable("lookup")
    sink.vulndb_sampled(7, 48, 120.0)
    sink.backlog_sampled(5)
    samples = parse(exposition.render("")[0].decode())
    assert value(samples, "secapi_scan_requests_total", scan_type="dependencies", status="hit", tier="pro") == 1
    assert value(samples, "secapi_scan_requests_total", scan_type="docker", status="rejected", tier="free") == 1
    assert value(samples, "secapi_scan_requests_total", scan_type="docker", status="failed", tier="free") == 1
    assert value(samples, "secapi_cache_hits_total", scan_type="dependencies") == 1
    assert value(samples, "secapi_cache_hits_total", scan_type="docker") == 0  # present before any hit
    assert value(samples, "secapi_cache_misses_total", scan_type="docker") == 1
    assert value(samples, "secapi_rate_limit_exceeded_total", tier="free", endpoint="scan/docker") == 1
    assert value(samples, "secapi_cache_unavailable_total", operation="lookup") == 1
    assert value(samples, "secapi_dependency_up", dependency="redis") == 0
    assert value(samples, "secapi_scans_active", scan_type="docker") == 0
    assert value(samples, "secapi_vulndb_version") == 7
    assert value(samples, "secapi_vulndb_age_seconds") == 120
    assert value(samples, "secapi_vulndb_update_period_seconds") == 86400
    assert value(samples, "secapi_scan_queue_depth") == 5
    # A 4 ms hit and a 25 s scan land in different buckets: the histogram resolves both.
    assert value(samples, "secapi_scan_duration_seconds_bucket", scan_type="dependencies", le="0.005") == 1
    assert value(samples, "secapi_scan_duration_seconds_bucket", scan_type="docker", le="20.0") == 0
    assert value(samples, "secapi_scan_duration_seconds_bucket", scan_type="docker", le="30.0") == 1
    assert not any(name.endswith("_created") for name, _ in samples)


def test_http_metrics_use_route_templates_and_a_fixed_label_for_unmatched_requests(
    exposition: PrometheusExposition,
) -> None:
    http = PrometheusHttpMetrics(exposition)
    http.request_started()
    http.request_finished("GET", "/api/v1/scans/{scan_id:uuid}", 200, 0.01)
    http.request_started()
    http.request_finished("BREW", None, 405, 0.001)
    http.problem(None, 405, "method-not-allowed")
    samples = parse(exposition.render("")[0].decode())
    route = "/api/v1/scans/{scan_id:uuid}"
    assert value(samples, "secapi_http_requests_total", method="GET", route=route, status="200") == 1
    assert value(samples, "secapi_http_requests_total", method="OTHER", route="unmatched", status="405") == 1
    assert value(samples, "secapi_http_problems_total", route="unmatched", status="405", type="method-not-allowed") == 1
    assert value(samples, "secapi_http_request_duration_seconds_count", method="GET", route=route) == 1
    assert value(samples, "secapi_http_requests_in_flight") == 0


def test_openmetrics_is_served_when_the_scraper_asks_for_it(exposition: PrometheusExposition) -> None:
    PrometheusMetricsSink(exposition, shared_backend=None, vulndb_update_period=60)
    body, content_type = exposition.render("application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    body, content_type = exposition.render("text/plain")
    assert content_type.startswith("text/plain; version=0.0.4")
    assert b"# EOF" not in body


def test_the_scrape_token_is_a_bearer_token_compared_exactly() -> None:
    assert scrape_authorized(None, "")
    assert scrape_authorized("Bearer s3cret", "s3cret")
    assert scrape_authorized("bearer  s3cret ", "s3cret")
    assert not scrape_authorized(None, "s3cret")
    assert not scrape_authorized("Bearer s3cre", "s3cret")
    assert not scrape_authorized("Basic s3cret", "s3cret")


WRITER = textwrap.dedent(
    """
    import os, sys
    import prometheus_client  # imported before the directory is known, as under `secapi serve`
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
    from secapi.adapters.prometheus.exposition import PrometheusExposition
    from secapi.adapters.prometheus.sink import PrometheusMetricsSink
    from secapi.domain.metrics import ScanRequestStatus
    from secapi.domain.tiers import Tier

    exposition = PrometheusExposition()
    sink = PrometheusMetricsSink(exposition, shared_backend=None, vulndb_update_period=86400)
    for _ in range(int(sys.argv[2])):
        sink.cache_lookup("dependencies", hit=True)
        sink.scan_requested("dependencies", Tier.PRO, ScanRequestStatus.HIT, 0.002)
    sink.scan_started("docker")
    if sys.argv[3] == "exits":
        exposition.process_exiting()
    """
)


def test_processes_sharing_a_directory_are_summed_and_those_that_left_drop_out_of_live_gauges(tmp_path: Path) -> None:
    for hits, ending in ((3, "exits"), (4, "stays")):
        subprocess.run([sys.executable, "-c", WRITER, str(tmp_path), str(hits), ending], check=True, timeout=60)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))  # type: ignore[no-untyped-call]
    samples = parse(generate_latest(registry).decode())
    assert value(samples, "secapi_cache_hits_total", scan_type="dependencies") == 7
    assert value(samples, "secapi_scan_requests_total", scan_type="dependencies", status="hit", tier="pro") == 7
    assert value(samples, "secapi_scan_duration_seconds_count", scan_type="dependencies") == 7
    assert value(samples, "secapi_scans_active", scan_type="docker") == 1  # only the process still counted as live


def test_a_scrape_drops_the_live_gauges_of_workers_that_died_without_leaving(tmp_path: Path) -> None:
    from secapi.adapters.prometheus.exposition import sweep_dead_processes

    # Two workers wrote values; the first was killed (a crash), so it never left the live sums.
    killed = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), "2", "stays"])
    assert killed.wait(timeout=60) == 0
    mine = os.getpid()
    (tmp_path / f"gauge_livesum_{mine}.db").write_bytes((tmp_path / f"gauge_livesum_{killed.pid}.db").read_bytes())

    assert sweep_dead_processes(tmp_path) == [killed.pid]

    left = {f.name for f in tmp_path.glob("*.db")}
    assert f"gauge_livesum_{killed.pid}.db" not in left
    assert f"gauge_livesum_{mine}.db" in left  # a live process keeps its gauges
    assert f"counter_{killed.pid}.db" in left  # what the dead process counted still counts
    assert sweep_dead_processes(tmp_path) == []
