"""Choosing an output format: `?format=` first, then `Accept` with its quality values; a 406 for none offered."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Request
from litestar.exceptions import HTTPException

from secapi.domain.model import Scan
from secapi.domain.ports import ResultFormat
from secapi.domain.result_formats import ResultFormats
from secapi.entrypoints.http.result_formats import choose_format


class _Named(ResultFormat):
    def __init__(self, name: str, media_type: str) -> None:
        self.name = name
        self.media_type = media_type

    def render(self, scan: Scan) -> bytes:
        return self.name.encode()


SARIF = _Named("sarif", "application/sarif+json")
CYCLONEDX = _Named("cyclonedx", "application/vnd.cyclonedx+json")
HTML = _Named("html", "text/html; charset=utf-8")
WITHOUT_HTML = ResultFormats([CYCLONEDX, SARIF])
WITH_HTML = ResultFormats([CYCLONEDX, SARIF, HTML])


def _request(accept: str | None) -> Request[Any, Any, Any]:
    headers = [] if accept is None else [(b"accept", accept.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


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
