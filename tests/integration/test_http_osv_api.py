"""The OSV-compatible API end to end: OSV's request and response shapes, paging, errors, auth and the quota."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient, Request, Response
from jsonschema import Draft4Validator, ValidationError
from litestar import Litestar

from secapi.domain.osv_records import parse_osv_record
from secapi.domain.ports import VulnerabilityStore
from secapi.domain.tiers import Tier
from secapi.entrypoints.vulndb import import_sample

from support.seed import bearer, container_of, create_user

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "src" / "secapi" / "adapters" / "osv" / "sample"
PAGE = 1000  # what the server pages at (osv_queries.QUERY_PAGE_SIZE / BATCH_PAGE_SIZE)
SWAGGER: dict[str, Any] = json.loads(
    (ROOT / "tests" / "fixtures" / "osv_api" / "osv_service_v1.swagger.json").read_text()
)
"""OSV's published API definition (google/osv.dev `docs/osv_service_v1.swagger.json`; see the NOTICE beside it)."""
REQUESTS = {"/v1/query": "v1Query", "/v1/querybatch": "v1BatchQuery"}


def conforms(definition: str, instance: Any, *, closed: bool = True) -> None:
    """`instance` is valid against OSV's `definition`, and (`closed`) has no member the definition does not name.

    OSV's schemas require nothing and allow anything extra (protobuf JSON), so validity alone would pass
    `{}` for any shape: the closed check is what makes a misnamed member (`nextPageToken`, `results[].vuln`) fail.
    """
    schema = {"$ref": f"#/definitions/{definition}", "definitions": SWAGGER["definitions"]}
    Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER).validate(instance)
    if closed:
        _closed(SWAGGER["definitions"][definition], instance, definition)


def _closed(schema: dict[str, Any], instance: Any, where: str) -> None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = SWAGGER["definitions"][name]
    if isinstance(instance, list) and "items" in schema:
        for n, item in enumerate(instance):
            _closed(schema["items"], item, f"{where}[{n}]")
    elif isinstance(instance, dict) and "properties" in schema:  # an `object` without properties is free-form
        unknown = set(instance) - set(schema["properties"])
        assert not unknown, f"{where}: members OSV's definition does not name: {sorted(unknown)}"
        for key, value in instance.items():
            _closed(schema["properties"][key], value, f"{where}.{key}")


@pytest.fixture(autouse=True)
def osv_shapes(client: AsyncClient) -> Any:
    """Every request to `/v1` and every answer is checked against OSV's definition: the request as `v1Query` or
    `v1BatchQuery`; a 200 as `v1VulnerabilityList`, `v1BatchVulnerabilityList` or `osvVulnerability`; an error as
    `rpcStatus` (open: it is an RFC 9457 problem too, whose members OSV's definition does not name)."""
    checked: list[str] = []

    async def check_request(request: Request) -> None:
        if request.url.path in REQUESTS:
            conforms(REQUESTS[request.url.path], json.loads(request.content))

    async def check_response(response: Response) -> None:
        path = response.request.url.path
        if not path.startswith("/v1/"):
            return
        await response.aread()
        body = response.json()
        if response.status_code != 200:
            conforms("rpcStatus", body, closed=False)
            assert isinstance(body["code"], int)
            assert body["message"]
        elif path == "/v1/query":
            conforms("v1VulnerabilityList", body)
        elif path == "/v1/querybatch":
            conforms("v1BatchVulnerabilityList", body)
        else:
            conforms("osvVulnerability", body)
        checked.append(path)

    client.event_hooks["request"].append(check_request)
    client.event_hooks["response"].append(check_response)
    yield checked
    assert checked, "this test made no /v1 exchange for OSV's definition to check"


@pytest.fixture
async def api_key(app: Litestar, client: AsyncClient) -> str:
    await import_sample(container_of(app))
    _, key = await create_user(app, "osv@example.com", Tier.BUSINESS)
    return key


def sample(ecosystem: str, advisory_id: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((SAMPLE / ecosystem / f"{advisory_id}.json").read_text())
    return record


def many_records(count: int) -> list[bytes]:
    """`count` advisories of one PyPI package, every version affected, with ids that sort apart from their order."""
    return [
        json.dumps({
            "schema_version": "1.6.0",
            "id": f"TEST-{(n * 7919) % 100_000:05d}",
            "modified": "2024-02-03T04:05:06Z",
            "summary": f"advisory {n}",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "pager"}, "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}],
        }).encode()
        for n in range(count)
    ]  # fmt: skip


async def load(app: Litestar, records: list[bytes]) -> list[str]:
    async with container_of(app)() as request:
        store = await request.get(VulnerabilityStore)
        advisories = [parse_osv_record(raw) for raw in records]
        await store.upsert(advisories)
    return sorted(a.id for a in advisories)


async def test_query_by_name_and_ecosystem_answers_the_stored_osv_records(client: AsyncClient, api_key: str) -> None:
    response = await client.post(
        "/v1/query",
        json={"package": {"name": "flask", "ecosystem": "PyPI"}, "version": "2.2.4"},
        headers=bearer(api_key),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"vulns": [sample("PyPI", "GHSA-m2qf-hxjv-5gpq")]}  # the record as published
    fixed = await client.post(
        "/v1/query",
        json={"package": {"name": "Flask", "ecosystem": "PyPI"}, "version": "2.3.2"},
        headers=bearer(api_key),
    )
    assert fixed.json() == {}  # nothing affects the fixed version: OSV's empty answer


async def test_a_body_is_read_as_json_whatever_its_content_type_as_osv_reads_it(
    client: AsyncClient, api_key: str
) -> None:
    body = b'{"package": {"name": "flask", "ecosystem": "PyPI"}, "version": "2.2.4"}'
    for content_type in ("application/x-www-form-urlencoded", "text/plain"):  # curl -d, and a careless client
        response = await client.post(
            "/v1/query", content=body, headers={**bearer(api_key), "content-type": content_type}
        )
        assert response.status_code == 200, response.text
        assert [v["id"] for v in response.json()["vulns"]] == ["GHSA-m2qf-hxjv-5gpq"]


async def test_query_by_purl_with_and_without_its_version(client: AsyncClient, api_key: str) -> None:
    by_name = await client.post(
        "/v1/query", json={"package": {"name": "minimist", "ecosystem": "npm"}, "version": "1.2.5"},
        headers=bearer(api_key),
    )  # fmt: skip
    in_purl = await client.post(
        "/v1/query", json={"package": {"purl": "pkg:npm/minimist@1.2.5"}}, headers=bearer(api_key)
    )
    apart = await client.post(
        "/v1/query", json={"package": {"purl": "pkg:npm/minimist"}, "version": "1.2.5"}, headers=bearer(api_key)
    )
    assert by_name.status_code == in_purl.status_code == apart.status_code == 200
    assert [v["id"] for v in by_name.json()["vulns"]] == ["GHSA-xvch-5gv4-984h"]
    assert in_purl.json() == apart.json() == by_name.json()
    twice = await client.post(
        "/v1/query", json={"package": {"purl": "pkg:npm/minimist@1.2.5"}, "version": "1.2.5"}, headers=bearer(api_key)
    )
    assert twice.status_code == 400
    assert twice.json()["code"] == 3


async def test_a_query_without_a_version_answers_every_advisory_of_the_package(
    client: AsyncClient, api_key: str
) -> None:
    response = await client.post(
        "/v1/query", json={"package": {"purl": "pkg:apk/alpine/openssl?distro=alpine-3.18.4"}}, headers=bearer(api_key)
    )
    assert response.status_code == 200, response.text
    assert [v["id"] for v in response.json()["vulns"]] == [
        "ALPINE-CVE-2022-3996", "ALPINE-CVE-2023-2650", "ALPINE-CVE-2023-3446", "ALPINE-CVE-2023-5678",
    ]  # fmt: skip


async def test_a_distribution_named_without_its_release_is_looked_up_in_every_release(
    client: AsyncClient, api_key: str
) -> None:
    async def ids(query: dict[str, Any]) -> list[str]:
        response = await client.post("/v1/query", json=query, headers=bearer(api_key))
        assert response.status_code == 200, response.text
        return [v["id"] for v in response.json().get("vulns", [])]

    # DSA-5169-1 names openssl in Debian:10 and Debian:11, DSA-5343-1 in Debian:11 only (fixed later there).
    assert await ids({"package": {"name": "openssl", "ecosystem": "Debian"}}) == ["DSA-5169-1", "DSA-5343-1"]
    between = {"package": {"purl": "pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u3"}}  # fixed for 5169, not for 5343
    assert await ids(between) == ["DSA-5343-1"]
    assert await ids({"package": {"name": "openssl", "ecosystem": "Debian:10"}, "version": "1.1.1n-0+deb11u3"}) == []


@pytest.mark.parametrize(
    ("filename", "content", "query"),
    [
        ("requirements.txt", "flask==2.2.4\n", {"package": {"name": "flask", "ecosystem": "PyPI"}, "version": "2.2.4"}),
        ("requirements.txt", "Jinja2==3.1.2\n", {"package": {"purl": "pkg:pypi/jinja2@3.1.2"}}),
        ("Cargo.lock", '[[package]]\nname = "tokio"\nversion = "1.18.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n',
         {"package": {"name": "tokio", "ecosystem": "crates.io"}, "version": "1.18.0"}),
        ("Gemfile.lock", "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (2.2.3)\n\nPLATFORMS\n  ruby\n",
         {"package": {"name": "rack", "ecosystem": "RubyGems"}, "version": "2.2.3"}),
    ],
)  # fmt: skip
async def test_a_query_names_the_advisories_a_one_line_lockfile_scan_finds(
    client: AsyncClient, api_key: str, filename: str, content: str, query: dict[str, Any]
) -> None:
    scan = await client.post(
        "/api/v1/scan/dependencies", json={"filename": filename, "content": content}, headers=bearer(api_key)
    )
    assert scan.status_code == 200, scan.text
    result = scan.json()["result"]
    scanned = sorted(f["id"] for f in [*result["vulnerabilities"], *result.get("informational", [])])
    assert scanned  # a package with findings: the comparison is not two empty lists
    single = await client.post("/v1/query", json=query, headers=bearer(api_key))
    batch = await client.post("/v1/querybatch", json={"queries": [query]}, headers=bearer(api_key))
    assert [v["id"] for v in single.json()["vulns"]] == scanned
    assert [v["id"] for v in batch.json()["results"][0]["vulns"]] == scanned


async def test_querybatch_answers_id_and_modified_per_query_and_pages_each_query(
    app: Litestar, client: AsyncClient, api_key: str
) -> None:
    ids = await load(app, many_records(PAGE + 1))
    pager = {"package": {"name": "pager", "ecosystem": "PyPI"}, "version": "1.0"}
    flask = {"package": {"name": "flask", "ecosystem": "PyPI"}, "version": "2.2.4"}
    none = {"package": {"name": "flask", "ecosystem": "PyPI"}, "version": "2.3.2"}
    response = await client.post("/v1/querybatch", json={"queries": [pager, flask, none]}, headers=bearer(api_key))
    assert response.status_code == 200, response.text
    first, only, empty = response.json()["results"]
    assert [v["id"] for v in first["vulns"]] == ids[:PAGE]  # ordered by id, one page
    assert all(set(v) == {"id", "modified"} for v in first["vulns"])
    assert first["vulns"][0]["modified"] == "2024-02-03T04:05:06Z"
    assert only == {
        "vulns": [{"id": "GHSA-m2qf-hxjv-5gpq", "modified": sample("PyPI", "GHSA-m2qf-hxjv-5gpq")["modified"]}]
    }
    assert empty == {}
    following = await client.post(
        "/v1/querybatch",
        json={"queries": [{**pager, "page_token": first["next_page_token"]}]},
        headers=bearer(api_key),
    )
    assert following.json() == {"results": [{"vulns": [{"id": ids[PAGE], "modified": "2024-02-03T04:05:06Z"}]}]}


async def test_query_pages_full_records_with_next_page_token(app: Litestar, client: AsyncClient, api_key: str) -> None:
    ids = await load(app, many_records(PAGE + 1))
    query: dict[str, Any] = {"package": {"purl": "pkg:pypi/pager"}}
    first = (await client.post("/v1/query", json=query, headers=bearer(api_key))).json()
    assert [v["id"] for v in first["vulns"]] == ids[:PAGE]
    assert first["vulns"][0]["affected"][0]["package"] == {"ecosystem": "PyPI", "name": "pager"}
    token = first["next_page_token"]
    second = (await client.post("/v1/query", json={**query, "page_token": token}, headers=bearer(api_key))).json()
    assert [v["id"] for v in second["vulns"]] == ids[PAGE:]
    assert "next_page_token" not in second
    # A token answers only the query it was issued for, and a made-up one is refused, not obeyed.
    other = {"package": {"name": "flask", "ecosystem": "PyPI"}, "page_token": token}
    forged = {**query, "page_token": "bm90IGEgdG9rZW4"}
    for body in (other, forged):
        refused = await client.post("/v1/query", json=body, headers=bearer(api_key))
        assert refused.status_code == 400
        assert refused.json()["code"] == 3
        assert refused.json()["invalid-params"][0]["name"] == "page_token"


async def test_vulns_by_id_and_an_unknown_id(client: AsyncClient, api_key: str) -> None:
    found = await client.get("/v1/vulns/RUSTSEC-2023-0001", headers=bearer(api_key))
    assert found.status_code == 200
    assert found.json() == sample("crates.io", "RUSTSEC-2023-0001")
    for unstorable in ("GHSA-%00", "X" * 300):
        assert (await client.get(f"/v1/vulns/{unstorable}", headers=bearer(api_key))).status_code == 404
    missing = await client.get("/v1/vulns/GHSA-0000-0000-0000", headers=bearer(api_key))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    body = missing.json()
    assert body["code"] == 5  # OSV's NOT_FOUND
    assert body["message"] == body["detail"]
    assert "GHSA-0000-0000-0000" in body["detail"]


async def test_a_commit_query_is_refused_in_both_error_shapes(client: AsyncClient, api_key: str) -> None:
    response = await client.post(
        "/v1/query", json={"commit": "6879efc2c1596d11a6a6ad296f80063b558d5e0f"}, headers=bearer(api_key)
    )
    assert response.status_code == 400  # a 4xx: OSV clients do not retry it
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == 3  # OSV's INVALID_ARGUMENT
    assert body["status"] == 400
    assert "commit queries are not supported" in body["message"]
    assert body["message"] == body["detail"]
    assert body["invalid-params"][0]["name"] == "commit"
    batch = await client.post(
        "/v1/querybatch",
        json={"queries": [{"package": {"purl": "pkg:pypi/flask@2.2.4"}}, {"commit": "6879efc2"}]},
        headers=bearer(api_key),
    )
    assert batch.status_code == 400
    assert batch.json()["invalid-params"][0]["name"] == "queries[1].commit"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"package": {"name": "flask"}, "version": "1.0"}, "package.ecosystem"),
        ({"version": "1.0"}, "package"),
        ({"package": {"purl": "pkg:nosuchtype/x@1"}}, "package.purl"),
        ({"package": {"purl": "pkg:pypi/flask", "ecosystem": "PyPI"}}, "package"),
        ({"package": {"name": "fl\u0000ask", "ecosystem": "PyPI"}}, "package.name"),
        ({"package": {"name": "flask", "ecosystem": "PyPI"}, "version": "1\u0000"}, "version"),
    ],
)
async def test_queries_that_name_no_package_are_refused(
    client: AsyncClient, api_key: str, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/query", json=body, headers=bearer(api_key))
    assert response.status_code == 400, response.text
    assert response.json()["invalid-params"][0]["name"] == field


async def test_an_api_key_is_required(client: AsyncClient, api_key: str) -> None:
    query = {"package": {"purl": "pkg:pypi/flask@2.2.4"}}
    for response in (
        await client.post("/v1/query", json=query),
        await client.post("/v1/querybatch", json={"queries": [query]}),
        await client.get("/v1/vulns/GHSA-m2qf-hxjv-5gpq"),
        await client.post("/v1/query", json=query, headers=bearer("sk_not_a_key")),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["code"] == 16  # OSV's UNAUTHENTICATED


async def test_each_request_counts_once_against_the_minute_and_a_refused_one_costs_nothing(
    app: Litestar, client: AsyncClient
) -> None:
    await import_sample(container_of(app))
    _, key = await create_user(app, "free-osv@example.com", Tier.FREE)  # 20 requests a minute
    query = {"package": {"purl": "pkg:pypi/flask@2.2.4"}}
    remaining = []
    for n in range(20):
        response = await [
            lambda: client.post("/v1/query", json=query, headers=bearer(key)),
            lambda: client.post("/v1/querybatch", json={"queries": [query, query]}, headers=bearer(key)),
            lambda: client.get("/v1/vulns/GHSA-m2qf-hxjv-5gpq", headers=bearer(key)),
        ][n % 3]()
        assert response.status_code == 200, response.text
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == list(range(19, -1, -1))  # a batch of two queries is one request
    refused = await client.post("/v1/query", json=query, headers=bearer(key))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.json()["code"] == 8  # OSV's RESOURCE_EXHAUSTED
    assert refused.json()["violated-policies"] == ["minute"]
    usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
    minute = next(w for w in usage["windows"] if w["name"] == "minute")
    assert minute["used"] == 20  # the refused request took nothing


async def test_an_empty_database_is_unavailable_not_clean(app: Litestar, client: AsyncClient) -> None:
    _, key = await create_user(app, "early@example.com", Tier.FREE)
    response = await client.post("/v1/query", json={"package": {"purl": "pkg:pypi/flask@2.2.4"}}, headers=bearer(key))
    assert response.status_code == 503
    assert response.json()["code"] == 14  # OSV's UNAVAILABLE


async def test_the_shape_check_fails_on_what_osv_does_not_name(
    client: AsyncClient, api_key: str, osv_shapes: list[str]
) -> None:
    served = (await client.get("/v1/vulns/GHSA-m2qf-hxjv-5gpq", headers=bearer(api_key))).json()
    assert osv_shapes == ["/v1/vulns/GHSA-m2qf-hxjv-5gpq"]
    conforms("osvVulnerability", served)
    wrong: list[tuple[str, Any]] = [
        ("v1VulnerabilityList", {"vulns": [], "nextPageToken": "x"}),  # OSV's JSON names are snake_case
        ("v1BatchVulnerabilityList", {"results": [{"vuln": []}]}),
        ("osvVulnerability", {**served, "modified": "yesterday"}),  # not RFC 3339
        ("osvVulnerability", {**served, "affected": [{"ranges": [{"type": "RANGE"}]}]}),  # not a range type
        ("v1Query", {"package": {"name": 3}}),
    ]
    for definition, instance in wrong:
        with pytest.raises((AssertionError, ValidationError)):
            conforms(definition, instance)


async def test_our_openapi_request_schemas_name_osvs_fields(client: AsyncClient, api_key: str) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    ours = document["components"]["schemas"]
    pairs = {"OsvQueryRequest": "v1Query", "OsvPackage": "osvPackage", "OsvBatchRequest": "v1BatchQuery"}
    for mine, theirs in pairs.items():
        assert set(ours[mine]["properties"]) == set(SWAGGER["definitions"][theirs]["properties"]), mine
    await client.get("/v1/vulns/GHSA-m2qf-hxjv-5gpq", headers=bearer(api_key))  # one exchange for the shape check
