"""The monitoring stack as shipped: dashboard panels, alert coverage, and compose wiring Grafana and Prometheus."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
ALERTS = {
    "SecAPICacheHitRateLow", "SecAPIHighErrorRatio", "SecAPILatencyP99High", "SecAPIRedisDown", "SecAPIVulnDbStale",
    "SecAPIVulnDbSyncFailing", "SecAPIQueueRedisDown",
}  # fmt: skip


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DEPLOY / "grafana" / "dashboards" / "secapi.json").read_text())
    return loaded


def panel_queries() -> dict[str, str]:
    """Each panel's title → its queries, joined."""
    return {p["title"]: "\n".join(t["expr"] for t in p.get("targets", [])) for p in dashboard()["panels"]}


def test_the_dashboard_has_every_panel_the_issue_names() -> None:
    required = {
        "request rate": r"rate\(secapi_http_requests_total\b",
        "latency p50": r"histogram_quantile\(0\.5, .*secapi_http_request_duration_seconds_bucket",
        "latency p95": r"histogram_quantile\(0\.95, .*secapi_http_request_duration_seconds_bucket",
        "latency p99": r"histogram_quantile\(0\.99, .*secapi_http_request_duration_seconds_bucket",
        "error rate": r"secapi_http_requests_total\{status=~\"5\.\.\"",
        "cache hit rate by scan type": r"by \(scan_type\) \(rate\(secapi_cache_hits_total.*secapi_cache_misses_total",
        "rate-limit rejections by tier": r"by \(tier\) \(rate\(secapi_rate_limit_exceeded_total",
        "scan durations": r"secapi_scan_duration_seconds_bucket",
        "DB pool in use": r"secapi_db_pool_in_use",
        "DB pool overflow": r"secapi_db_pool_overflow",
        "queue depth": r"secapi_scan_queue_depth",
    }
    queries = panel_queries()
    missing = [name for name, pattern in required.items() if not any(re.search(pattern, q) for q in queries.values())]
    assert not missing, f"no dashboard panel shows: {missing}"


def test_every_panel_queries_the_provisioned_prometheus_data_source() -> None:
    datasources = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    uids = {source["uid"] for source in datasources if source["type"] == "prometheus"}
    for panel in dashboard()["panels"]:
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] in uids, panel["title"]
        assert {target["datasource"]["uid"] for target in panel["targets"]} <= uids, panel["title"]


def test_each_alert_exists_and_has_a_promtool_test_in_which_it_fires() -> None:
    rules = [rule for group in load_yaml(DEPLOY / "prometheus" / "alerts.yml")["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == ALERTS
    by_name = {rule["alert"]: rule for rule in rules}
    assert "< 0.6" in by_name["SecAPICacheHitRateLow"]["expr"]
    assert by_name["SecAPICacheHitRateLow"]["for"] == "15m"
    assert "secapi_vulndb_update_period_seconds" in by_name["SecAPIVulnDbStale"]["expr"]
    assert "secapi_vulndb_sync_last_success_timestamp_seconds" in by_name["SecAPIVulnDbStale"]["expr"]
    tests = load_yaml(DEPLOY / "prometheus" / "alerts_test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert fired == ALERTS


def test_compose_provisions_grafana_and_prometheus_from_deploy() -> None:
    compose = load_yaml(ROOT / "compose.yaml")
    services = compose["services"]

    def mounts(service: str) -> dict[str, str]:
        pairs = (volume.split(":")[:2] for volume in services[service]["volumes"])
        return {target: source for source, target in pairs}

    grafana = mounts("grafana")
    assert grafana["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    providers = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "secapi.yml")["providers"]
    dashboards_path = providers[0]["options"]["path"]
    assert grafana[dashboards_path] == "./deploy/grafana/dashboards"
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards_path}/secapi.json"

    prometheus = mounts("prometheus")
    assert prometheus["/etc/prometheus"] == "./deploy/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    secret_targets = {c["target"] for c in services["prometheus"]["configs"]}
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name, service, port in (("secapi", "api", 8000), ("secapi-worker", "worker", 9101)):
        job = jobs[name]
        assert job["authorization"]["credentials_file"] in secret_targets
        assert job["dns_sd_configs"] == [{"names": [service], "type": "A", "port": port}]
    worker_env = services["worker"]["environment"]
    assert worker_env["SECAPI_WORKER_METRICS_PORT"] == "9101"
    assert worker_env["SECAPI_WORKER_METRICS_HOST"] == "0.0.0.0"
