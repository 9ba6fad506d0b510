"""Every metric and label the Grafana dashboard and the alert rules query is one the app's `/metrics` exports."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from httpx import AsyncClient
from litestar import Litestar
from prometheus_client.parser import text_string_to_metric_families

from secapi.domain.metrics import MetricsSink
from secapi.domain.tiers import Tier
from secapi.entrypoints.vulndb import import_sample

from support.seed import bearer, container_of, create_user

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TARGET_LABELS = frozenset({"job", "instance"})
"""Labels Prometheus attaches to every scraped series."""

_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*\"")
_SELECTOR = re.compile(r"(?<![\w.$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()\s*(\{[^}]*\})?")
"""A name that is not a function call, with its matchers if any (numbers and durations never match)."""
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})


@dataclass
class Query:
    """The metric names and label names one PromQL expression refers to."""

    where: str
    metrics: set[str] = field(default_factory=set)
    selector_labels: dict[str, set[str]] = field(default_factory=dict)
    grouping_labels: set[str] = field(default_factory=set)


def references(where: str, expr: str) -> Query:
    """Metric names (selectors), their matchers' labels and grouping labels, read from `expr`."""
    query = Query(where)
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery durations, `$__rate_interval` included
    for labels in _GROUPING.findall(expr):
        query.grouping_labels |= {label.strip() for label in labels.split(",") if label.strip()}
    expr = _GROUPING.sub(" ", expr)
    for name, matchers in _SELECTOR.findall(expr):
        if name in _KEYWORDS:
            continue
        query.metrics.add(name)
        query.selector_labels.setdefault(name, set()).update(_MATCHER_LABEL.findall(matchers))
    bare_matchers = _MATCHERS.sub("", _SELECTOR.sub("", expr))
    assert "{" not in bare_matchers, f"{where}: a selector without a metric name: {expr}"
    return query


def dashboard_queries() -> list[Query]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "secapi.json").read_text())
    return [
        references(f"dashboard panel {panel['title']!r}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def rule_queries() -> list[Query]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [
        references(f"rule {rule.get('alert') or rule.get('record')!r}", rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def exported_series(exposition: str) -> dict[str, set[str]]:
    """Each sample name the exposition can carry (`_total`, `_bucket`, ...) → the label names seen on it."""
    exported: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(exposition):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(family.type, ("",))
        for suffix in suffixes:
            exported.setdefault(family.name + suffix, set())
        for sample in family.samples:
            exported.setdefault(sample.name, set()).update(sample.labels)
    return exported


def test_the_reference_reader_finds_names_matchers_and_grouping() -> None:
    query = references(
        "example",
        'histogram_quantile(0.99, sum by (le, scan_type) (rate(a_bucket{route!~"/x|/y", status="5.."}[5m]))) '
        "> on (job) max by (job) (b) and c offset 5m",
    )
    assert query.metrics == {"a_bucket", "b", "c"}
    assert query.selector_labels["a_bucket"] == {"route", "status"}
    assert query.grouping_labels == {"le", "scan_type", "job"}


async def test_every_metric_the_dashboard_and_alerts_query_is_exported(app: Litestar, client: AsyncClient) -> None:
    await import_sample(container_of(app))
    _, key = await create_user(app, "dashboard@example.com", Tier.FREE)
    scan = {"filename": "requirements.txt", "content": "flask==2.2.4\n"}
    for _ in range(2):  # a miss and a hit, so labelled series carry their labels
        await client.post("/api/v1/scan/dependencies", json=scan, headers=bearer(key))
    broken = {"filename": "package-lock.json", "content": "{"}
    assert (await client.post("/api/v1/scan/dependencies", json=broken, headers=bearer(key))).status_code == 422
    # Past the free tier's 20 requests a minute, for secapi_rate_limit_exceeded_total's labels.
    statuses = [(await client.get("/api/v1/scans", headers=bearer(key))).status_code for _ in range(20)]
    assert 429 in statuses
    # A sync that stored records in one ecosystem and failed another, as `vulndb sync` reports to the sink.
    sink = await container_of(app).get(MetricsSink)
    sink.vulndb_sync_ecosystem("PyPI", failed=False, seconds=1.0, added=2, updated=1, withdrawn=1)
    sink.vulndb_sync_ecosystem("npm", failed=True, seconds=0.1, added=0, updated=0, withdrawn=0)
    sink.vulndb_sync_finished(failed=True, seconds=1.1, finished_at=0.0)
    exported = exported_series((await client.get("/metrics")).text)

    queries = dashboard_queries() + rule_queries()
    assert len(queries) >= 20
    problems: list[str] = []
    for query in queries:
        known_labels = set(TARGET_LABELS)
        for name in query.metrics:
            if name not in exported:
                problems.append(f"{query.where}: {name} is not exported")
                continue
            known_labels |= exported[name]
            unknown = query.selector_labels[name] - exported[name] - TARGET_LABELS
            if unknown:
                problems.append(f"{query.where}: {name} has no label {sorted(unknown)}")
        if query.grouping_labels - known_labels:
            problems.append(f"{query.where}: groups by {sorted(query.grouping_labels - known_labels)}, not a label")
    assert not problems, "\n".join(problems)
