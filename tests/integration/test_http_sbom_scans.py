"""SBOM scans over HTTP: every way a document is sent, the cache and the quota, and hostile bodies as 422."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings
from secapi.domain.tiers import Tier
from secapi.entrypoints.vulndb import import_sample

from support.seed import bearer, container_of, create_user

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "unit" / "sbom" / "fixtures"
TRIVY_CYCLONEDX = FIXTURES / "trivy-0.76-debian12.cdx.json"
CPE_ONLY = b"""<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1">
  <components>
    <component type="library"><name>minimist</name><version>1.2.5</version>
      <purl>pkg:npm/minimist@1.2.5</purl></component>
    <component type="library"><name>openssl</name><version>3.0.11</version>
      <cpe>cpe:2.3:a:openssl:openssl:3.0.11:*:*:*:*:*:*:*</cpe></component>
  </components>
</bom>"""


@pytest.fixture
async def api_key(app: Litestar, client: AsyncClient) -> str:
    await import_sample(container_of(app))
    _, key = await create_user(app, "sbom@example.com", Tier.STARTER)
    return key


async def used_scans(client: AsyncClient, key: str) -> int:
    usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
    return int({w["name"]: w["used"] for w in usage["windows"]}["hour"])


async def test_an_sbom_is_scanned_then_answered_from_the_cache_charging_one_scan(
    client: AsyncClient, api_key: str
) -> None:
    body = TRIVY_CYCLONEDX.read_bytes()
    headers = {**bearer(api_key), "Content-Type": "application/vnd.cyclonedx+json"}
    first = await client.post("/api/v1/scan/sbom", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.headers["x-cache-status"] == "MISS"
    assert first.headers["cache-control"].startswith("private")  # private by default, like lockfiles
    scan = first.json()
    assert scan["scan_type"] == "sbom"
    assert scan["input"] == {"format": "cyclonedx-json", "sha256": scan["input"]["sha256"], "size": len(body)}
    result = scan["result"]
    found = {(v["id"], v["package"]["name"]) for v in result["vulnerabilities"]}
    assert {("DSA-5514-1", "libc6"), ("GHSA-m2qf-hxjv-5gpq", "Flask"), ("GHSA-xvch-5gv4-984h", "minimist")} <= found
    assert set(result["ecosystems"]) == {"Debian:12", "PyPI", "npm"}
    assert result["unscannable"] == []
    second = await client.post("/api/v1/scan/sbom", content=body, headers=headers)
    assert second.status_code == 200, second.text
    assert second.headers["x-cache-status"] == "HIT"
    assert second.json()["result"] == result
    assert await used_scans(client, api_key) == 1  # the hit cost no scan
    stored = await client.get(f"/api/v1/scans/{scan['id']}", headers=bearer(api_key))
    assert stored.status_code == 200
    assert stored.json()["input"] == scan["input"]  # read back from PostgreSQL as an SBOM input


async def test_a_multipart_upload_is_sniffed_and_cpe_only_components_are_listed_unscannable(
    client: AsyncClient, api_key: str
) -> None:
    files = {"file": ("bom.xml", CPE_ONLY, "application/xml")}
    response = await client.post("/api/v1/scan/sbom", files=files, headers=bearer(api_key))
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert [(p["ecosystem"], p["name"]) for p in result["packages"]] == [("npm", "minimist")]
    (entry,) = result["unscannable"]
    assert entry["name"] == "openssl@3.0.11"
    assert "only a CPE identifies it" in entry["reason"]
    assert response.json()["input"]["filename"] == "bom.xml"
    assert response.json()["input"]["format"] == "cyclonedx-xml"


async def test_shared_results_serve_another_tenant(app: Litestar, client: AsyncClient, api_key: str) -> None:
    _, other = await create_user(app, "other@example.com", Tier.STARTER)
    body = TRIVY_CYCLONEDX.read_bytes()
    url = "/api/v1/scan/sbom?shared=true"
    first = await client.post(url, content=body, headers={**bearer(api_key), "Content-Type": "application/json"})
    assert first.status_code == 200, first.text
    private = await client.post(
        "/api/v1/scan/sbom", content=body, headers={**bearer(other), "Content-Type": "application/json"}
    )
    assert private.headers["x-cache-status"] == "MISS"  # not shared by this tenant: its own entry
    shared = await client.post(url, content=body, headers={**bearer(other), "Content-Type": "application/json"})
    assert shared.headers["x-cache-status"] == "HIT"


@pytest.mark.parametrize(
    ("content", "media_type", "status", "says"),
    [
        (
            b'<!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]><bom/>',
            "application/vnd.cyclonedx+xml",
            422,
            "DTD",
        ),
        (b'{"spdxVersion": "SPDX-3.0"}', "application/spdx+json", 422, "not supported"),
        (b"", "text/spdx", 422, "empty"),
        (b"\xff\xfe", "text/spdx", 422, "not UTF-8"),
        (b"{}", "application/x-yaml", 415, "application/vnd.cyclonedx+json"),
    ],
)
async def test_bad_documents_are_problems_that_cost_nothing(
    client: AsyncClient, api_key: str, content: bytes, media_type: str, status: int, says: str
) -> None:
    response = await client.post(
        "/api/v1/scan/sbom", content=content, headers={**bearer(api_key), "Content-Type": media_type}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert says in response.json()["detail"]
    if status == 422 and says in ("empty",):
        assert await used_scans(client, api_key) == 0  # refused before the quota


async def test_an_sbom_over_the_request_body_limit_is_a_413_as_a_lockfile_is(
    client: AsyncClient, api_key: str, settings: Settings
) -> None:
    component = {"type": "library", "name": "p", "version": "1.0.0", "purl": "pkg:npm/p@1.0.0"}
    document = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [component] * 2_000}
    body = json.dumps(document).encode()
    assert len(body) > settings.request_max_body_bytes
    for headers, kwargs in (
        ({"Content-Type": "application/vnd.cyclonedx+json"}, {"content": body}),
        ({}, {"files": {"file": ("bom.json", body, "application/json")}}),
    ):
        response = await client.post("/api/v1/scan/sbom", headers={**bearer(api_key), **headers}, **kwargs)
        assert response.status_code == 413, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await used_scans(client, api_key) == 0
