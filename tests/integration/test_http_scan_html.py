"""The HTML report over HTTP: `?format=html` and `Accept: text/html` on `GET /api/v1/scans/{id}` and on a scan.

A real lockfile scan against the bundled sample advisories, on PostgreSQL and Redis; the page is parsed back.
"""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.entrypoints.vulndb import import_sample

from support.html_tree import Node, parse
from support.seed import bearer, container_of, create_user

REQUIREMENTS = "# pinned\nflask==2.2.4\n\nJinja2==3.1.2\ndjango>=4\n"
LOCKFILE = {"filename": "requirements.txt", "content": REQUIREMENTS}


@pytest.fixture
async def api_key(app: Litestar, client: AsyncClient) -> str:
    await import_sample(container_of(app))
    _, key = await create_user(app, "report@example.com")
    return key


def _groups(page: Node) -> dict[str, list[str]]:
    """Package heading (its first words) -> the advisory ids listed under it."""
    groups = {}
    for group in page.by_id("findings").find_all("div", **{"class": "package"}):
        heading = group.find_all("h3")[0].text
        rows = group.find_all("tbody")[0].find_all("tr")
        groups[" ".join(heading.split()[:2])] = [row.find_all("td")[0].find_all("a")[0].text for row in rows]
    return groups


async def test_get_scan_answers_the_report_for_format_html_and_accept_text_html(
    client: AsyncClient, api_key: str
) -> None:
    scanned = await client.post("/api/v1/scan/dependencies", json=LOCKFILE, headers=bearer(api_key))
    assert scanned.status_code == 200, scanned.text
    scan_id = scanned.json()["id"]
    url = f"/api/v1/scans/{scan_id}"

    by_query = await client.get(f"{url}?format=html", headers=bearer(api_key))
    by_accept = await client.get(url, headers=bearer(api_key) | {"Accept": "text/html,application/xhtml+xml;q=0.9"})

    for answer in (by_query, by_accept):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert "charset=utf-8" in answer.headers["content-type"]
    assert by_query.content == by_accept.content
    page = parse(by_query.text)
    assert page.by_id("title").text == "requirements.txt"
    assert page.by_id("status").text == "completed"
    assert scan_id in page.by_id("scanned").text
    assert _groups(page) == {"flask 2.2.4": ["GHSA-m2qf-hxjv-5gpq"], "Jinja2 3.1.2": ["GHSA-h5c8-rqwp-cp95"]}
    (unpinned,) = page.by_id("not-scanned").find_all("tbody")[0].find_all("tr")
    name, location, reason = (cell.text for cell in unpinned.find_all("td"))
    assert (name, location) == ("django", "line 5")  # the unpinned line is listed, not silently dropped
    assert "(>=4)" in reason
    assert "Version" in page.by_id("vulndb").text
    assert not page.find_all("script")

    native = await client.get(url, headers=bearer(api_key))
    assert native.headers["content-type"].startswith("application/json")
    assert native.headers["etag"] != by_query.headers["etag"]
    again = await client.get(
        f"{url}?format=html", headers=bearer(api_key) | {"If-None-Match": by_query.headers["etag"]}
    )
    assert again.status_code == 304


async def test_a_scan_request_answers_the_report_on_a_miss_and_a_hit(client: AsyncClient, api_key: str) -> None:
    miss = await client.post("/api/v1/scan/dependencies?format=html", json=LOCKFILE, headers=bearer(api_key))
    hit = await client.post(
        "/api/v1/scan/dependencies", json=LOCKFILE, headers=bearer(api_key) | {"Accept": "text/html"}
    )

    assert (miss.status_code, hit.status_code) == (200, 200), (miss.text, hit.text)
    assert (miss.headers["x-cache-status"], hit.headers["x-cache-status"]) == ("MISS", "HIT")
    for answer in (miss, hit):
        assert answer.headers["content-type"].startswith("text/html")
        page = parse(answer.text)
        assert set(_groups(page)) == {"flask 2.2.4", "Jinja2 3.1.2"}
        assert page.by_id("verdict").text.startswith("2 vulnerabilities")


async def test_a_hostile_file_name_stays_text_in_the_page(client: AsyncClient, api_key: str) -> None:
    hostile = 'requirements-"><img src=x onerror=alert(1)>.txt'
    scanned = await client.post(
        "/api/v1/scan/dependencies?format=html",
        json={"filename": hostile, "content": REQUIREMENTS},
        headers=bearer(api_key),
    )

    assert scanned.status_code == 200, scanned.text
    page = parse(scanned.text)
    assert page.by_id("title").text == hostile
    assert not page.find_all("img")
    assert all("onerror" not in node.attrs for node in page.walk())
