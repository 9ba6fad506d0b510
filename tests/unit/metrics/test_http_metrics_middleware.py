"""The HTTP metrics wrapper: status of answered, failed and abandoned requests; in-flight always balanced."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from secapi.adapters.prometheus.exposition import MULTIPROC_ENV, PrometheusExposition
from secapi.adapters.prometheus.http import PrometheusHttpMetrics
from secapi.entrypoints.http.accounting import request_accounting

from support.metrics import parse_exposition, sample


class Container:
    def __init__(self, metrics: PrometheusHttpMetrics) -> None:
        self.metrics = metrics

    async def get(self, _: type) -> PrometheusHttpMetrics:
        return self.metrics


async def call(app: Any, metrics: PrometheusHttpMetrics, route: str | None) -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "state": {},
        "litestar_app": SimpleNamespace(state=SimpleNamespace(dishka_container=Container(metrics))),
    }
    if route is not None:
        scope["path_template"] = route

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(_: dict[str, Any]) -> None:
        return None

    await request_accounting(app, metrics=True)(scope, receive, send)  # type: ignore[arg-type]


async def test_answered_failed_and_abandoned_requests_get_their_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    exposition = PrometheusExposition()
    metrics = PrometheusHttpMetrics(exposition)

    async def answers(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def crashes(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async def abandoned(scope: Any, receive: Any, send: Any) -> None:
        raise asyncio.CancelledError

    await call(answers, metrics, "/a")
    with pytest.raises(RuntimeError):
        await call(crashes, metrics, "/b")
    with pytest.raises(asyncio.CancelledError):
        await call(abandoned, metrics, None)
    samples = parse_exposition(exposition.render("")[0].decode())
    assert sample(samples, "secapi_http_requests_total", method="GET", route="/a", status="204") == 1
    assert sample(samples, "secapi_http_requests_total", method="GET", route="/b", status="500") == 1
    assert sample(samples, "secapi_http_requests_total", method="GET", route="unmatched", status="499") == 1
    assert sample(samples, "secapi_http_requests_in_flight") == 0
