"""Output formats over HTTP: `?format=` and `Accept` on a lockfile scan (miss and hit) and on `GET /scans/{id}`.

Every document is checked against its official schema (CycloneDX and SPDX through their libraries' validators,
SARIF against the OASIS 2.1.0 schema). A format that cannot be answered is refused before the scan: no quota.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient, Response
from litestar import Litestar

from secapi.entrypoints.vulndb import import_sample

from support.format_scans import cyclonedx_errors, sarif_errors, spdx_errors
from support.images import app_layer, debian_image, oci_layout_tar
from support.seed import bearer, container_of, create_user

REQUIREMENTS = "# pinned\nflask==2.2.4\n\nJinja2==3.1.2\ndjango>=4\n"
LOCKFILE = {"filename": "requirements.txt", "content": REQUIREMENTS}


@pytest.fixture
async def api_key(app: Litestar, client: AsyncClient) -> str:
    await import_sample(container_of(app))
    _, key = await create_user(app, "formats@example.com")
    return key


async def _scan(client: AsyncClient, key: str, *, query: str = "", accept: str | None = None) -> Response:
    headers = bearer(key) | ({"Accept": accept} if accept is not None else {})
    return await client.post(f"/api/v1/scan/dependencies{query}", json=LOCKFILE, headers=headers)


async def _used(client: AsyncClient, key: str) -> dict[str, int]:
    usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
    return {window["name"]: window["used"] for window in usage["windows"]}


def _sarif_places(log: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {
        (
            result["ruleId"],
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            result["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for result in log["runs"][0]["results"]
    }


async def test_a_lockfile_scan_answers_sarif_on_a_miss_and_cyclonedx_on_a_hit(
    client: AsyncClient, api_key: str
) -> None:
    miss = await _scan(client, api_key, query="?format=sarif")
    assert miss.status_code == 200, miss.text
    assert miss.headers["content-type"].startswith("application/sarif+json")
    assert miss.headers["x-cache-status"] == "MISS"
    assert miss.headers["location"].startswith("/api/v1/scans/")
    log = miss.json()
    assert sarif_errors(log) == []
    assert _sarif_places(log) == {
        ("GHSA-m2qf-hxjv-5gpq", "requirements.txt", 2),  # flask, on the lockfile's line 2
        ("GHSA-h5c8-rqwp-cp95", "requirements.txt", 4),  # Jinja2, on line 4
    }
    rules = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["GHSA-m2qf-hxjv-5gpq"]["properties"]["security-severity"] == "7.5"
    (note,) = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "django" in note["message"]["text"]

    hit = await _scan(client, api_key, accept="application/vnd.cyclonedx+json")
    assert hit.status_code == 200, hit.text
    assert hit.headers["x-cache-status"] == "HIT"
    assert hit.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert cyclonedx_errors(hit.content) == []
    bom = hit.json()
    assert {c["purl"] for c in bom["components"]} == {"pkg:pypi/flask@2.2.4", "pkg:pypi/jinja2@3.1.2"}
    assert {v["id"] for v in bom["vulnerabilities"]} == {"GHSA-m2qf-hxjv-5gpq", "GHSA-h5c8-rqwp-cp95"}
    assert hit.headers["etag"] != miss.headers["etag"]  # another representation, another validator
    assert "Accept" in hit.headers["vary"]

    native = await _scan(client, api_key, query="?format=json")  # the hit's stored bytes, as today
    assert native.headers["x-cache-status"] == "HIT"
    assert native.headers["content-type"].startswith("application/json")
    assert native.json()["result"]["counts"]["HIGH"] == 1
    assert await _used(client, api_key) | {"minute": 0} == {"minute": 0, "hour": 1, "month": 1}


async def test_get_scan_negotiates_every_format(client: AsyncClient, api_key: str) -> None:
    scan = (await _scan(client, api_key)).json()
    url = f"/api/v1/scans/{scan['id']}"
    spdx = await client.get(f"{url}?format=spdx", headers=bearer(api_key))
    assert spdx.status_code == 200, spdx.text
    assert spdx.headers["content-type"].startswith("application/spdx+json")
    assert spdx_errors(spdx.content) == []
    external = {
        ref["referenceLocator"]
        for package in spdx.json()["packages"]
        for ref in package.get("externalRefs", [])
        if ref["referenceType"] == "purl"
    }
    assert external == {"pkg:pypi/flask@2.2.4", "pkg:pypi/jinja2@3.1.2"}

    by_accept = {
        "application/sarif+json": "application/sarif+json",
        "application/json;q=0.5, application/vnd.cyclonedx+json": "application/vnd.cyclonedx+json",
        "application/spdx+json;q=0.2, application/json;q=0.9": "application/json",
        "*/*": "application/json",
        "application/*": "application/json",
    }
    for accept, media_type in by_accept.items():
        answer = await client.get(url, headers=bearer(api_key) | {"Accept": accept})
        assert answer.status_code == 200, (accept, answer.text)
        assert answer.headers["content-type"].startswith(media_type), accept
    sarif = await client.get(url, headers=bearer(api_key) | {"Accept": "application/sarif+json"})
    assert sarif_errors(sarif.json()) == []
    # ?format wins over Accept.
    chosen = await client.get(f"{url}?format=cyclonedx", headers=bearer(api_key) | {"Accept": "application/json"})
    assert cyclonedx_errors(chosen.content) == []


async def test_each_format_has_its_own_etag(client: AsyncClient, api_key: str) -> None:
    scan = (await _scan(client, api_key)).json()
    url = f"/api/v1/scans/{scan['id']}"
    native = await client.get(url, headers=bearer(api_key))
    sarif = await client.get(f"{url}?format=sarif", headers=bearer(api_key))
    assert native.headers["etag"] != sarif.headers["etag"]
    again = await client.get(f"{url}?format=sarif", headers=bearer(api_key) | {"If-None-Match": sarif.headers["etag"]})
    assert again.status_code == 304
    other = await client.get(f"{url}?format=spdx", headers=bearer(api_key) | {"If-None-Match": sarif.headers["etag"]})
    assert other.status_code == 200


async def test_an_unknown_format_is_a_400_and_an_unacceptable_one_a_406_both_before_the_scan(
    client: AsyncClient, api_key: str
) -> None:
    unknown = await _scan(client, api_key, query="?format=xml")
    assert unknown.status_code == 400, unknown.text
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert [p["name"] for p in unknown.json()["invalid-params"]] == ["format"]

    refused = await _scan(client, api_key, accept="application/xml, text/plain;q=0.5")
    assert refused.status_code == 406, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/not-acceptable")
    assert "sarif (application/sarif+json)" in problem["detail"]
    excluded = await _scan(client, api_key, accept="application/json;q=0, application/vnd.cyclonedx+json;q=0")
    assert excluded.status_code == 406, excluded.text

    used = await _used(client, api_key)
    assert (used["hour"], used["month"]) == (0, 0)  # nothing was scanned, nothing charged
    assert (await client.get("/api/v1/scans", headers=bearer(api_key))).json()["items"] == []
    scan = (await _scan(client, api_key)).json()
    on_get = await client.get(f"/api/v1/scans/{scan['id']}?format=yaml", headers=bearer(api_key))
    assert on_get.status_code == 400
    not_acceptable = await client.get(f"/api/v1/scans/{scan['id']}", headers=bearer(api_key) | {"Accept": "image/png"})
    assert not_acceptable.status_code == 406


async def test_a_failed_scan_keeps_todays_answers_in_every_format_but_the_page(
    client: AsyncClient, api_key: str
) -> None:
    refused = await client.post(
        "/api/v1/scan/docker?format=sarif", json={"image": "10.1.2.3:5000/x/y:1"}, headers=bearer(api_key)
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    stored = await client.get(f"{refused.headers['location']}?format=cyclonedx", headers=bearer(api_key))
    assert stored.status_code == 200
    assert stored.headers["content-type"].startswith("application/json")
    assert stored.json()["status"] == "failed"
    # A page for people is the exception: a CI log's link to a failed scan shows what happened.
    page = await client.get(f"{refused.headers['location']}?format=html", headers=bearer(api_key))
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "failed" in page.text.lower()
    assert stored.json()["error"].split(":")[0] in page.text


async def test_a_format_narrowed_by_the_risk_filter(client: AsyncClient, api_key: str) -> None:
    scan = (await _scan(client, api_key)).json()
    narrowed = await client.get(f"/api/v1/scans/{scan['id']}?format=sarif&kev_only=true", headers=bearer(api_key))
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["runs"][0]["results"] == []  # no KEV data loaded: no finding is in KEV
    assert sarif_errors(narrowed.json()) == []


async def test_the_tenants_ignore_rule_reaches_cyclonedx_and_sarif_on_a_hit(
    app: Litestar, client: AsyncClient, api_key: str
) -> None:
    _, other = await create_user(app, "formats-other@example.com")
    await _scan(client, api_key)  # the cached result, found before the rule existed
    rule = await client.post(
        "/api/v1/ignores",
        json={"advisory": "CVE-2023-30861", "package": "pkg:pypi/flask", "reason": "not exposed"},
        headers=bearer(api_key),
    )
    assert rule.status_code == 201, rule.text

    bom = await _scan(client, api_key, query="?format=cyclonedx")
    assert bom.headers["x-cache-status"] == "HIT"
    assert cyclonedx_errors(bom.content) == []
    states = {v["id"]: v["analysis"]["state"] for v in bom.json()["vulnerabilities"]}
    assert states == {"GHSA-m2qf-hxjv-5gpq": "not_affected", "GHSA-h5c8-rqwp-cp95": "in_triage"}

    log = (await _scan(client, api_key, query="?format=sarif")).json()
    assert sarif_errors(log) == []
    suppressed = {r["ruleId"]: r.get("suppressions") for r in log["runs"][0]["results"]}
    (why,) = suppressed["GHSA-m2qf-hxjv-5gpq"]
    assert why["justification"].endswith(": not exposed")
    assert suppressed["GHSA-h5c8-rqwp-cp95"] is None

    theirs = await _scan(client, other, query="?format=cyclonedx")  # another tenant's rules are its own
    assert {v["analysis"]["state"] for v in theirs.json()["vulnerabilities"]} == {"in_triage"}


async def test_an_uploaded_image_in_every_format_locates_findings_at_their_layer_and_path(
    client: AsyncClient, api_key: str, tmp_path: Path
) -> None:
    image = debian_image(app_layer())
    archive = oci_layout_tar(image, tmp_path / "oci.tar")
    files = {"file": (archive.name, archive.read_bytes(), "application/x-tar")}
    sarif = await client.post("/api/v1/scan/docker/archive?format=sarif", files=files, headers=bearer(api_key))
    assert sarif.status_code == 200, sarif.text
    log = sarif.json()
    assert sarif_errors(log) == []
    places = {
        (
            r["properties"]["package"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["properties"]["imageLayer"],
        )
        for r in log["runs"][0]["results"]
    }
    base, app = (layer.digest for layer in image.layers)
    assert ("libc6", "var/lib/dpkg/status", base) in places
    assert ("Flask", "usr/local/lib/python3.11/site-packages/Flask-2.2.4.dist-info/METADATA", app) in places

    scan_url = sarif.headers["location"]
    bom = await client.get(f"{scan_url}?format=cyclonedx", headers=bearer(api_key))
    assert cyclonedx_errors(bom.content) == []
    subject = bom.json()["metadata"]["component"]
    assert subject["type"] == "container"
    assert subject["version"] == log["runs"][0]["properties"]["manifestDigest"]
    assert "DSA-5514-1" in {v["id"] for v in bom.json()["vulnerabilities"]}
    spdx = await client.get(f"{scan_url}?format=spdx", headers=bearer(api_key))
    assert spdx_errors(spdx.content) == []
    assert any(p.get("primaryPackagePurpose") == "CONTAINER" for p in spdx.json()["packages"])
