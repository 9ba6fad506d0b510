"""HTTP metrics: requests, latency, in-flight requests and problem types, by route template (bounded labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from secapi.adapters.prometheus.exposition import PrometheusExposition
from secapi.adapters.prometheus.sink import LabelledChildren

HTTP_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED_ROUTE = "unmatched"
"""The route label of requests no route matched (404, 405): raw paths would make label values unbounded."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class PrometheusHttpMetrics:
    """Counts and times HTTP requests by method, route template and status."""

    def __init__(self, exposition: PrometheusExposition) -> None:
        registry = exposition.registry
        self._requests = LabelledChildren(
            Counter(
                "secapi_http_requests",
                "HTTP requests by method, route template and status.",
                ["method", "route", "status"],
                registry=registry,
            )
        )
        # Status is left out of the histogram: it would multiply every route's buckets for little insight.
        self._latency = LabelledChildren(
            Histogram(
                "secapi_http_request_duration_seconds",
                "Seconds from a request's arrival to its response's last byte, by method and route template.",
                ["method", "route"],
                buckets=HTTP_DURATION_BUCKETS,
                registry=registry,
            )
        )
        self._in_flight = Gauge(
            "secapi_http_requests_in_flight",
            "HTTP requests being served now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._problems = LabelledChildren(
            Counter(
                "secapi_http_problems",
                "Problem responses (RFC 9457) by route template, status and problem type slug.",
                ["route", "status", "type"],
                registry=registry,
            )
        )

    def request_started(self) -> None:
        """One more request in flight."""
        self._in_flight.inc()

    def request_finished(self, method: str, route: str | None, status: int, seconds: float) -> None:
        """Count and time a finished request; `route` is its template, None when no route matched."""
        self._in_flight.dec()
        method = method if method in _METHODS else "OTHER"
        route = route or UNMATCHED_ROUTE
        self._requests(method, route, str(status)).inc()
        self._latency(method, route).observe(seconds)

    def problem(self, route: str | None, status: int, problem_type: str) -> None:
        """Count a problem response by its type slug (`quota-exceeded`, `invalid-input`, ...)."""
        self._problems(route or UNMATCHED_ROUTE, str(status), problem_type).inc()
