"""`/metrics` over HTTP for processes that serve no API (`secapi worker`), from a daemon thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from secapi.adapters.prometheus.exposition import PrometheusExposition
from secapi.domain.metrics import scrape_authorized

StartResponse = Callable[..., Any]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood the log."""


class MetricsHttpServer:
    """Serves the exposition at `/metrics`; `refresh` runs first (scrape-time samples), bounded by its caller."""

    def __init__(
        self, exposition: PrometheusExposition, *, host: str, port: int, token: str, refresh: Callable[[], None]
    ) -> None:
        self._exposition = exposition
        self._token = token
        self._refresh = refresh
        self._server = make_server(host, port, self._app, _ThreadingWSGIServer, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"metrics are at /metrics\n"]
        if not scrape_authorized(environ.get("HTTP_AUTHORIZATION"), self._token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"a bearer token is required (SECAPI_METRICS_TOKEN)\n"]
        self._refresh()
        body, content_type = self._exposition.render(environ.get("HTTP_ACCEPT", ""))
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]
