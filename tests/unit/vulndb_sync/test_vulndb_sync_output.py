"""What a sync says: the CLI's lines, the log's key=value fields, and the Prometheus metrics."""

from __future__ import annotations

import pytest

from secapi.adapters.prometheus.exposition import MULTIPROC_ENV, PrometheusExposition
from secapi.adapters.prometheus.sink import PrometheusMetricsSink
from secapi.domain.advisories import UpsertCounts
from secapi.domain.services.vulndb_sync import EcosystemOutcome
from secapi.entrypoints.vulndb import describe, log_fields

from support.metrics import parse_exposition, sample


def _outcome(**fields: object) -> EcosystemOutcome:
    counts = UpsertCounts(added=2, updated=1, withdrawn=1, unchanged=4)
    defaults: dict[str, object] = {
        "method": "incremental",
        "downloaded_bytes": 3 * 1024,
        "fetched_records": 3,
        "read": 3,
        "counts": counts,
        "rejected": 1,
        "seconds": 0.25,
    }
    return EcosystemOutcome("Red Hat", **{**defaults, **fields})  # type: ignore[arg-type]


def test_an_ecosystem_line_says_what_was_downloaded_and_stored() -> None:
    assert describe(_outcome()) == (
        "Red Hat: 3 changed records (3.0 KiB), read 3: added 2, updated 1, withdrawn 1, rejected 1 (0.2 s)"
    )
    assert describe(_outcome(method="archive", downloaded_bytes=5 * 1024**2)).startswith("Red Hat: all.zip (5.0 MiB)")
    assert describe(_outcome(method="not-modified")) == "Red Hat: not modified (304), nothing downloaded (0.2 s)"
    assert describe(_outcome(error="cut short")) == "Red Hat: FAILED after 0.2 s: cut short"


def test_a_log_line_is_key_value_fields_with_quoted_strings() -> None:
    assert log_fields(_outcome()) == (
        'ecosystem="Red Hat" status=ok method=incremental bytes=3072 fetched=3 read=3 added=2 updated=1 '
        "withdrawn=1 unchanged=4 rejected=1 seconds=0.25"
    )
    failed = log_fields(_outcome(error='x "y"'))
    assert "status=failed method=- " in failed
    assert failed.endswith('error="x \\"y\\""')


def test_sync_events_become_the_documented_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    exposition = PrometheusExposition()
    sink = PrometheusMetricsSink(exposition, shared_backend=None, vulndb_update_period=86400)
    sink.vulndb_sync_ecosystem("PyPI", failed=False, seconds=2.0, added=5, updated=2, withdrawn=1)
    sink.vulndb_sync_ecosystem("npm", failed=True, seconds=0.5, added=0, updated=0, withdrawn=0)
    sink.vulndb_sync_finished(failed=True, seconds=2.5, finished_at=1000.0)
    samples = parse_exposition(exposition.render("")[0].decode())
    assert sample(samples, "secapi_vulndb_sync_records_total", ecosystem="PyPI", change="added") == 5
    assert sample(samples, "secapi_vulndb_sync_records_total", ecosystem="PyPI", change="withdrawn") == 1
    assert sample(samples, "secapi_vulndb_sync_failures_total", ecosystem="npm") == 1
    assert sample(samples, "secapi_vulndb_sync_duration_seconds_count") == 1
    assert sample(samples, "secapi_vulndb_sync_last_success_timestamp_seconds") == 0  # that run failed
    sink.vulndb_sync_finished(failed=False, seconds=1.0, finished_at=2000.0)
    samples = parse_exposition(exposition.render("")[0].decode())
    assert sample(samples, "secapi_vulndb_sync_last_success_timestamp_seconds") == 2000.0
