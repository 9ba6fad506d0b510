"""Choosing an output format: `?format=` first, then `Accept` with its quality values; a 406 for none offered."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from litestar import Request
from litestar.exceptions import HTTPException

from secapi.domain.model import Scan, ScanStatus
from secapi.domain.ports import ResultFormat
from secapi.domain.result_formats import ResultFormats
from secapi.entrypoints.http.result_formats import choose_format
from secapi.entrypoints.http.scan_responses import scan_response

from support.format_scans import lockfile_scan


class _Named(ResultFormat):
    def __init__(self, name: str, media_type: str) -> None:
        self.name = name
        self.media_type = media_type
        self.any_state = False

    def render(self, scan: Scan) -> bytes:
        return self.name.encode()


SARIF = _Named("sarif", "application/sarif+json")
CYCLONEDX = _Named("cyclonedx", "application/vnd.cyclonedx+json")
HTML = _Named("html", "text/html; charset=utf-8")
WITHOUT_HTML = ResultFormats([CYCLONEDX, SARIF])
WITH_HTML = ResultFormats([CYCLONEDX, SARIF, HTML])


def _request(accept: str | None) -> Request[Any, Any, Any]:
    headers = [] if accept is None else [(b"accept", accept.encode())]
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope | {"scheme": "http", "server": ("testserver", 80), "root_path": "", "state": {}})


def _chosen(accept: str | None, formats: ResultFormats = WITHOUT_HTML, asked: str | None = None) -> str:
    fmt = choose_format(_request(accept), formats, asked)
    return "json" if fmt is None else fmt.name


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "json"),
        ("", "json"),
        ("*/*", "json"),  # equally acceptable: the server's preference, the native JSON first
        ("application/*", "json"),
        ("application/sarif+json", "sarif"),
        ("application/SARIF+json; charset=utf-8", "sarif"),
        ("application/json;q=0.5, application/sarif+json", "sarif"),
        ("application/sarif+json;q=0.4, application/vnd.cyclonedx+json;q=0.6", "cyclonedx"),
        ("application/vnd.cyclonedx+json, application/sarif+json", "cyclonedx"),  # a tie: the client's order
        ("application/sarif+json, application/vnd.cyclonedx+json", "sarif"),
        ("application/json;q=0, */*", "cyclonedx"),  # JSON ruled out, anything else welcome
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "json"),  # a browser, no HTML yet
        ("garbage, ;;", "json"),  # nothing readable: as if there were no header
    ],
)
def test_accept_picks_the_format_the_client_rates_highest(accept: str | None, chosen: str) -> None:
    assert _chosen(accept) == chosen


def test_a_browser_gets_html_once_a_renderer_is_registered() -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert _chosen(browser, WITH_HTML) == "html"
    assert _chosen("text/html", WITH_HTML) == "html"


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/*", "application/json;q=0"])
def test_an_accept_header_ruling_out_every_format_is_406(accept: str) -> None:
    with pytest.raises(HTTPException) as refused:
        _chosen(accept)
    assert refused.value.status_code == 406
    assert "json (application/json), cyclonedx (application/vnd.cyclonedx+json), sarif" in str(refused.value.detail)


def test_the_query_wins_over_accept() -> None:
    assert _chosen("application/sarif+json", asked="json") == "json"
    assert _chosen("application/json", asked="cyclonedx") == "cyclonedx"
    assert _chosen("image/png", asked="sarif") == "sarif"


def test_html_is_406_until_a_renderer_named_html_is_registered() -> None:
    with pytest.raises(HTTPException) as refused:
        _chosen(None, WITHOUT_HTML, asked="html")
    assert refused.value.status_code == 406
    assert "'html' is not available" in str(refused.value.detail)
    assert _chosen(None, WITH_HTML, asked="html") == "html"


def test_the_registry_refuses_two_formats_of_one_name() -> None:
    with pytest.raises(ValueError, match="already taken"):
        ResultFormats([SARIF, _Named("sarif", "application/x-other")])
    with pytest.raises(ValueError, match="already taken"):
        ResultFormats([_Named("json", "application/x-json")])
    assert WITH_HTML.names == ("json", "cyclonedx", "sarif", "html")


class _Recording(_Named):
    """Records the thread each document was written in."""

    def __init__(self) -> None:
        super().__init__("sarif", "application/sarif+json")
        self.threads: list[int] = []

    def render(self, scan: Scan) -> bytes:
        self.threads.append(threading.get_ident())
        return b'{"version": "2.1.0"}'


async def test_a_format_is_written_in_a_worker_thread_and_only_for_a_completed_scan() -> None:
    fmt = _Recording()
    request = _request(None)
    finished = lockfile_scan()
    answer = await scan_response(request, finished, fmt=fmt)
    assert (answer.status_code, answer.media_type, answer.content) == (
        200,
        "application/sarif+json",
        b'{"version": "2.1.0"}',
    )
    (thread,) = fmt.threads
    assert thread != threading.get_ident()  # written off the event loop, which kept answering meanwhile
    failed = dataclasses.replace(finished, status=ScanStatus.FAILED, result=None, error="registry refused")
    refused = await scan_response(request, failed, fmt=fmt)
    assert (refused.status_code, refused.media_type) == (422, "application/problem+json")
    queued = dataclasses.replace(finished, status=ScanStatus.QUEUED, result=None, finished_at=None)
    waiting = await scan_response(request, queued, fmt=fmt)
    assert (waiting.status_code, waiting.headers["Retry-After"]) == (202, "2")
    assert fmt.threads == [thread]  # neither the failed nor the queued scan was written in the format
