"""End to end: import the sample advisories, POST lockfiles over HTTP, get the expected findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.entrypoints.vulndb import import_sample

from support.seed import bearer, container_of, create_user

REQUIREMENTS = """\
# pinned, with a hash and a marker
flask==2.2.4 \\
    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000
Jinja2==3.1.2 ; python_version >= "3.8"
requests[socks]==2.31.0
django>=4
"""

PACKAGE_LOCK = {
    "name": "web",
    "lockfileVersion": 3,
    "packages": {
        "": {"name": "web", "dependencies": {"minimist": "^1.2.0"}},
        "node_modules/minimist": {"version": "1.2.5"},
        "node_modules/lodash": {"version": "4.17.21"},
        "node_modules/@types/node": {"version": "20.1.0"},
    },
}


@pytest.fixture
async def api_key(app: Litestar, client: AsyncClient) -> str:
    await import_sample(container_of(app))
    _, key = await create_user(app, "ci@example.com")
    return key


async def test_requirements_txt_findings_with_severities(client: AsyncClient, api_key: str) -> None:
    response = await client.post(
        "/api/v1/scan/dependencies",
        json={"filename": "requirements.txt", "content": REQUIREMENTS},
        headers=bearer(api_key),
    )
    assert response.status_code == 200, response.text
    scan = response.json()
    assert scan["status"] == "completed"
    result = scan["result"]
    found = {(v["id"], v["package"]["name"], v["severity"]) for v in result["vulnerabilities"]}
    assert found == {
        ("GHSA-m2qf-hxjv-5gpq", "flask", "HIGH"),
        ("GHSA-h5c8-rqwp-cp95", "Jinja2", "MEDIUM"),
    }
    assert result["counts"] == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 1, "LOW": 0, "UNKNOWN": 0}
    assert result["vulndb_version"] >= 1
    assert result["ecosystems"] == ["PyPI"]
    assert [u["name"] for u in result["unscannable"]] == ["django"]
    flask = next(v for v in result["vulnerabilities"] if v["package"]["name"] == "flask")
    assert flask["fixed_versions"] == ["2.2.5", "2.3.2"]  # every fix above 2.2.4, the nearest first
    assert flask["severity_source"] == {"advisory": "GHSA-m2qf-hxjv-5gpq", "basis": "cvss"}
    assert result["vulndb"]["version"] == result["vulndb_version"]
    assert result["vulndb"]["updated_at"] is not None
    (pypi,) = result["vulndb"]["ecosystems"]
    assert pypi["ecosystem"] == "PyPI"
    assert pypi["advisories"] > 0
    assert pypi["version_order"] == "pep440"
    assert flask["score"] == 7.5
    # persisted as the caller's scan
    stored = await client.get(f"/api/v1/scans/{scan['id']}", headers=bearer(api_key))
    assert stored.json()["result"] == result
    assert "content" not in stored.json()["input"]


async def test_multipart_package_lock_upload(client: AsyncClient, api_key: str) -> None:
    files = {"file": ("package-lock.json", json.dumps(PACKAGE_LOCK).encode(), "application/json")}
    response = await client.post("/api/v1/scan/dependencies", files=files, headers=bearer(api_key))
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert {(v["id"], v["severity"]) for v in result["vulnerabilities"]} == {("GHSA-xvch-5gv4-984h", "CRITICAL")}
    names = {p["name"] for p in result["packages"]}
    assert names == {"minimist", "lodash", "@types/node"}


async def test_unknown_lockfile_name_is_422_listing_supported_names(client: AsyncClient, api_key: str) -> None:
    response = await client.post(
        "/api/v1/scan/dependencies", json={"filename": "deps.ini", "content": "x"}, headers=bearer(api_key)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "package-lock.json" in body["supported"]
    assert "requirements.txt" in body["detail"]


@pytest.mark.parametrize(
    ("filename", "content", "where"),
    [
        ("package-lock.json", '{"lockfileVersion": 3, "packages": ', "line 1"),
        ("poetry.lock", "[[package]\nname = 'x'", "line"),
        ("Cargo.lock", '[[package]]\nname = "serde"\nversion = \n', "line"),
    ],
)
async def test_malformed_lockfile_is_422_naming_where(
    client: AsyncClient, api_key: str, filename: str, content: str, where: str
) -> None:
    response = await client.post(
        "/api/v1/scan/dependencies", json={"filename": filename, "content": content}, headers=bearer(api_key)
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"].endswith("/malformed-lockfile")
    assert where in body["detail"]


async def test_one_bad_entry_never_voids_the_file(client: AsyncClient, api_key: str) -> None:
    content = (
        '[[package]]\nname = "serde"\nversion = 1\n\n'
        '[[package]]\nname = "smallvec"\nversion = "1.6.0"\n'
        'source = "registry+https://github.com/rust-lang/crates.io-index"\n'
    )
    response = await client.post(
        "/api/v1/scan/dependencies", json={"filename": "Cargo.lock", "content": content}, headers=bearer(api_key)
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert [(p["name"], p["version"]) for p in result["packages"]] == [("smallvec", "1.6.0")]
    assert [u["name"] for u in result["unscannable"]] == ["serde"]


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"filename": "requirements.txt"}', b'{"filename": 3, "content": "x"}', b"nope", b'{"filename": ""}'],
)
async def test_invalid_request_bodies_are_400(client: AsyncClient, api_key: str, body: bytes) -> None:
    response = await client.post(
        "/api/v1/scan/dependencies",
        content=body,
        headers={**bearer(api_key), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["invalid-params"]


async def test_non_utf8_upload_is_422(client: AsyncClient, api_key: str) -> None:
    files = {"file": ("requirements.txt", b"\xff\xfe\x00bad", "text/plain")}
    response = await client.post("/api/v1/scan/dependencies", files=files, headers=bearer(api_key))
    assert response.status_code == 422
    assert "UTF-8" in response.json()["detail"]


async def test_oversized_lockfile_is_413(client: AsyncClient, api_key: str) -> None:
    content = "flask==2.2.4\n" * 6000  # > the 64 KiB limit the test app uses
    response = await client.post(
        "/api/v1/scan/dependencies", json={"filename": "requirements.txt", "content": content}, headers=bearer(api_key)
    )
    assert response.status_code == 413


async def test_scans_need_a_key(client: AsyncClient) -> None:
    response = await client.post("/api/v1/scan/dependencies", json={"filename": "requirements.txt", "content": ""})
    assert response.status_code == 401


async def test_with_no_advisories_a_scan_is_a_503_vulndb_empty_problem_that_costs_nothing(
    app: Litestar, client: AsyncClient
) -> None:
    _, key = await create_user(app, "early@example.com")
    response = await client.post(
        "/api/v1/scan/dependencies",
        json={"filename": "requirements.txt", "content": REQUIREMENTS},
        headers=bearer(key),
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/vulndb-empty")
    assert "no advisories" in response.json()["detail"]
    usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
    assert {w["name"]: w["used"] for w in usage["windows"]}["hour"] == 0
    # Once advisories are loaded the same request is answered.
    await import_sample(container_of(app))
    answered = await client.post(
        "/api/v1/scan/dependencies",
        json={"filename": "requirements.txt", "content": REQUIREMENTS},
        headers=bearer(key),
    )
    assert answered.status_code == 200


GO_116 = Path(__file__).parents[1] / "unit" / "lockfiles" / "fixtures" / "edge-cases" / "gomod-116"


async def test_a_pre_117_go_mod_says_what_it_cannot_show_until_its_go_sum_is_sent(
    client: AsyncClient, api_key: str
) -> None:
    go_mod, go_sum = (GO_116 / "go.mod").read_text(), (GO_116 / "go.sum").read_text()
    alone = await client.post(
        "/api/v1/scan/dependencies", json={"filename": "go.mod", "content": go_mod}, headers=bearer(api_key)
    )
    assert alone.status_code == 200, alone.text
    alone_result = alone.json()["result"]
    assert [u["kind"] for u in alone_result["unscanned"]] == ["go-transitive"]
    modules = {p["name"] for p in alone_result["packages"]}
    assert "golang.org/x/sys" not in modules
    as_json = await client.post(
        "/api/v1/scan/dependencies",
        json={"filename": "go.mod", "content": go_mod, "files": [{"filename": "go.sum", "content": go_sum}]},
        headers=bearer(api_key),
    )
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["x-cache-status"] == "MISS"  # another input than go.mod alone
    full = as_json.json()["result"]
    assert full["unscanned"] == []
    assert {"golang.org/x/sys", "github.com/davecgh/go-spew"} <= {p["name"] for p in full["packages"]}
    files = [("file", ("go.mod", go_mod.encode(), "text/plain")), ("files", ("go.sum", go_sum.encode(), "text/plain"))]
    as_multipart = await client.post("/api/v1/scan/dependencies", files=files, headers=bearer(api_key))
    assert as_multipart.status_code == 200, as_multipart.text
    assert as_multipart.json()["result"]["packages"] == full["packages"]


async def test_a_companion_nothing_reads_is_refused_at_no_cost(client: AsyncClient, api_key: str) -> None:
    response = await client.post(
        "/api/v1/scan/dependencies",
        json={
            "filename": "requirements.txt",
            "content": REQUIREMENTS,
            "files": [{"filename": "go.sum", "content": "x"}],
        },
        headers=bearer(api_key),
    )
    assert response.status_code == 422
    assert response.json()["invalid-params"][0]["name"] == "files"
    usage = (await client.get("/api/v1/usage", headers=bearer(api_key))).json()
    assert {w["name"]: w["used"] for w in usage["windows"]}["hour"] == 0
