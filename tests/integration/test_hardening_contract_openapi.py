"""The published OpenAPI document describes every operation completely: bodies, codes, problems, security."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings
from secapi.entrypoints.http.app import create_app

from support.http import serve

PROBLEM = "application/problem+json"
API = ("401", "429", "503")
ADMIN = (*API, "403")
JSON_BODY = ("400", "408", "413", "415")

# operationId: (success codes, error codes, request media types)
OPERATIONS: dict[str, tuple[set[str], set[str], set[str]]] = {
    "Liveness": ({"200"}, set(), set()),
    "Readiness": ({"200"}, {"503"}, set()),
    "Metrics": ({"200"}, set(), set()),
    "ScanDependencies": (
        {"200"},
        {*JSON_BODY, *API, "406", "422"},  # 406: an output format not offered
        {"application/json", "multipart/form-data"},
    ),
    "ScanSbom": (
        {"200"},
        {*JSON_BODY, *API, "406", "422"},  # 406: an output format not offered
        {
            "application/vnd.cyclonedx+json",
            "application/vnd.cyclonedx+xml",
            "application/spdx+json",
            "text/spdx",
            "application/json",
            "multipart/form-data",
        },
    ),
    "ScanDockerImage": ({"200", "202"}, {*JSON_BODY, *API, "406", "422"}, {"application/json"}),
    "ScanDockerArchive": (
        {"200", "202"},
        {"400", *API, "406", "408", "413", "415", "422"},  # 400: a bad min_epss / kev_only form field
        {
            "multipart/form-data",
            "application/x-tar",
            "application/gzip",
            "application/x-gzip",
            "application/octet-stream",
        },
    ),
    "GetScan": ({"200", "304"}, {"400", *API, "404", "406"}, set()),  # 400: a bad min_epss / kev_only / format
    "ListScans": ({"200"}, {"400", *API, "422"}, set()),
    "CreateUser": ({"201"}, {*JSON_BODY, *ADMIN, "409", "422"}, {"application/json"}),
    "GetUser": ({"200"}, {*ADMIN, "404"}, set()),
    "SetUserTier": ({"200"}, {*JSON_BODY, *ADMIN, "404"}, {"application/json"}),
    "ListUserKeys": ({"200"}, {*ADMIN, "404"}, set()),
    "IssueKey": ({"201"}, {*JSON_BODY, *ADMIN, "404", "409"}, {"application/json"}),
    "RevokeKey": ({"200"}, {*ADMIN, "404"}, set()),
    "CacheStats": ({"200"}, set(ADMIN), set()),
    "InvalidateCache": ({"200"}, {*JSON_BODY, *ADMIN, "422"}, {"application/json"}),
    "WarmCache": ({"202"}, {*JSON_BODY, *ADMIN}, {"application/json"}),
    "GetUsage": ({"200"}, set(API), set()),
    "PutNotificationEndpoint": ({"200"}, {*JSON_BODY, *API, "422"}, {"application/json"}),
    "GetNotificationEndpoint": ({"200"}, {*API, "404"}, set()),
    "DeleteNotificationEndpoint": ({"204"}, {*API, "404"}, set()),
    "CreateWatch": ({"201"}, {*JSON_BODY, *API, "404", "409", "422"}, {"application/json"}),
    "ListWatches": ({"200"}, {"400", *API, "422"}, set()),
    "GetWatch": ({"200"}, {*API, "404"}, set()),
    "DeleteWatch": ({"204"}, {*API, "404"}, set()),
    "ListWatchEvents": ({"200"}, {"400", *API, "404", "422"}, set()),
    # The OSV-compatible API at /v1: a refused query is OSV's 400, never a 422; the body is JSON whatever its
    # Content-Type (OSV's own examples send `curl -d`), so no 415.
    "OsvQuery": ({"200"}, {"400", "408", "413", *API}, {"application/json"}),
    "OsvQueryBatch": ({"200"}, {"400", "408", "413", *API}, {"application/json"}),
    "OsvGetVulnerability": ({"200"}, {*API, "404"}, set()),
    # Suppressions: 409 beyond a tenant's cap of rules or VEX documents.
    "CreateIgnoreRule": ({"201"}, {*JSON_BODY, *API, "409", "422"}, {"application/json"}),
    "ListIgnoreRules": ({"200"}, {"400", *API, "422"}, set()),
    "DeleteIgnoreRule": ({"204"}, {*API, "404"}, set()),
    "CreateVexDocument": ({"201"}, {*JSON_BODY, *API, "409", "422"}, {"application/json"}),
    "ListVexDocuments": ({"200"}, {"400", *API, "422"}, set()),
    "GetVexDocument": ({"200"}, {*API, "404"}, set()),
    "DeleteVexDocument": ({"204"}, {*API, "404"}, set()),
}
OPTIONAL_BODY = {"IssueKey"}
PUBLIC = {"Liveness", "Readiness", "Metrics"}
SCAN_STARTS = {"ScanDependencies", "ScanSbom", "ScanDockerImage", "ScanDockerArchive"}
RESULT_PARTS = {
    "ScanResult", "Finding", "PackageRef", "SeveritySource", "Epss", "Kev", "Package", "UnscannableEntry",
    "UnscannedItem", "Timings", "ImageDetails", "LayerDetails", "VulnDbInfo", "EcosystemCoverage", "RiskSummary",
    "SuppressedFinding", "SuppressedBy", "VexAnnotation",
}  # fmt: skip
OSV_SHAPES = {"OsvBatchResults", "OsvRefList", "OsvVulnRef", "OsvVulnerabilityList", "OsvProblem", "OsvQuotaProblem"}
"""OSV's API shapes: its published definition closes no object (every member optional), its records are answered
as stored (`database_specific` holds anything), and its errors are problems with OSV's members added."""


async def _document(app: Litestar) -> dict[str, Any]:
    async with serve(app) as http:
        response = await http.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture
async def document(client: AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema or "allOf" in schema:
        if "allOf" in schema:  # a Struct with constraints beyond it (InvalidateCache: exactly one field)
            schema = schema["allOf"][0]
            continue
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_every_operation_is_in_the_table(document: dict[str, Any]) -> None:
    assert set(_operations(document)) == set(OPERATIONS)


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_operation_documents_its_bodies_codes_and_problems(document: dict[str, Any], operation_id: str) -> None:
    successes, errors, media_types = OPERATIONS[operation_id]
    operation = _operations(document)[operation_id]
    responses = operation["responses"]
    assert {code for code in responses if int(code) < 400} == successes
    assert {code for code in responses if int(code) >= 400} == errors
    assert set(operation.get("requestBody", {}).get("content", {})) == media_types
    if media_types:
        assert operation["requestBody"].get("required") is (operation_id not in OPTIONAL_BODY)
    for code in errors:
        content = responses[code].get("content", {})
        assert set(content) == {PROBLEM}, f"{operation_id} {code}: {set(content)}"
        schema = _resolve(document, content[PROBLEM]["schema"])
        assert {"type", "title", "status", "detail", "instance", "invalid-params"} <= set(schema["properties"])
        assert {"type", "title", "status", "detail"} <= set(schema["required"])
        if code == "429":
            assert {"tier", "retry_after", "reset_at", "limits", "violated-policies"} <= set(schema["required"])
            assert "Retry-After" in responses[code]["headers"]
        if code == "401":
            assert "WWW-Authenticate" in responses[code]["headers"]
    if operation_id in SCAN_STARTS:
        for code in successes:
            assert responses[code]["headers"]["Location"]["required"] is True
            assert _resolve(document, responses[code]["content"]["application/json"]["schema"])["title"] == "ScanView"
    if operation_id == "GetScan":
        assert "content" not in responses["304"]
        assert {"ETag"} <= set(responses["304"]["headers"]) & set(responses["200"]["headers"])
        assert any(p["name"] == "If-None-Match" and p["in"] == "header" for p in operation["parameters"])


def test_lockfile_body_is_json_with_companions_or_a_multipart_form(document: dict[str, Any]) -> None:
    content = _operations(document)["ScanDependencies"]["requestBody"]["content"]
    as_json = _resolve(document, content["application/json"]["schema"])
    assert set(as_json["required"]) == {"filename", "content"}
    assert {"filename", "content", "shared", "files", "min_epss", "kev_only"} == set(as_json["properties"])
    assert as_json["properties"]["kev_only"]["type"] == "boolean"
    assert as_json["additionalProperties"] is False
    companion = _resolve(document, as_json["properties"]["files"]["items"])
    assert companion["additionalProperties"] is False
    assert set(companion["required"]) == {"filename", "content"}
    form = content["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["file"]["format"] == "binary"
    assert form["properties"]["files"]["items"]["format"] == "binary"
    assert form["properties"]["shared"]["type"] == "boolean"
    assert (form["properties"]["min_epss"]["minimum"], form["properties"]["min_epss"]["maximum"]) == (0.0, 1.0)
    assert form["properties"]["kev_only"]["type"] == "boolean"


def test_archive_body_is_a_form_or_the_raw_tarball(document: dict[str, Any]) -> None:
    content = _operations(document)["ScanDockerArchive"]["requestBody"]["content"]
    form = content["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert set(form["properties"]) == {"file", "platform", "image", "min_epss", "kev_only"}
    assert content["application/x-tar"]["schema"]["format"] == "binary"
    assert content["application/gzip"]["schema"]["format"] == "binary"


def test_objects_that_refuse_unknown_fields_say_so(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    open_by_design = {"Problem", "QuotaProblem", "InvalidParam", "Tier"}  # problems carry extensions
    # The result document's parts: an answer narrowed by `min_epss` / `kev_only` adds `filter` to the result.
    open_by_design |= RESULT_PARTS | {"Severity"} | OSV_SHAPES
    for name, schema in schemas.items():
        if name in open_by_design or "enum" in schema:  # an enum of strings has no members to refuse
            continue
        assert schema.get("additionalProperties") is False, name
    for operation_id, operation in _operations(document).items():
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and operation_id != "ScanSbom":  # an SBOM: its own format's schema governs it
            schema = body["schema"]
            nullable = {"type": "null"} in schema.get("oneOf", [])  # an optional body: the object or null
            choices = schema["oneOf"] if nullable else [schema]
            objects = [_resolve(document, choice) for choice in choices if choice.get("type") != "null"]
            assert [schema["additionalProperties"] for schema in objects] == [False], operation_id


def test_a_scan_documents_its_result(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    result = schemas["ScanView"]["properties"]["result"]
    assert {"$ref": "#/components/schemas/ScanResult"} in result["oneOf"]
    assert {"scan_type", "target", "packages", "vulnerabilities", "counts", "vulndb_version"} <= set(
        schemas["ScanResult"]["required"]
    )
    assert {"image", "unscanned", "informational", "vulndb", "risk"} <= set(schemas["ScanResult"]["properties"])
    finding = _resolve(document, schemas["ScanResult"]["properties"]["vulnerabilities"]["items"])
    assert {"id", "severity", "fixed_versions", "epss", "kev"} <= set(finding["properties"])
    assert set(schemas["Severity"]["enum"]) == {"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}
    assert set(schemas) >= RESULT_PARTS


def test_api_operations_need_a_bearer_key_and_health_none(document: dict[str, Any]) -> None:
    assert document["security"] == [{"apiKey": []}]
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer sk_…",
    }
    for operation_id, operation in _operations(document).items():
        if operation_id in PUBLIC:
            assert operation["security"] == [], operation_id  # explicit: the document's default would apply
        else:
            assert "security" not in operation, operation_id


async def test_metrics_is_documented_behind_its_token_when_one_is_set(settings: Settings) -> None:
    document = await _document(create_app(replace(settings, metrics_token="s3cret-scrape-token")))
    metrics = _operations(document)["Metrics"]
    assert metrics["security"] == [{"metricsBearer": []}]
    assert document["components"]["securitySchemes"]["metricsBearer"]["scheme"] == "bearer"
    assert set(metrics["responses"]) == {"200", "401"}
    assert PROBLEM in metrics["responses"]["401"]["content"]


async def test_options_lists_every_method_of_a_path(client: AsyncClient) -> None:
    response = await client.options("/api/v1/account/notifications")
    assert response.status_code == 204
    assert response.headers["allow"] == "DELETE, GET, OPTIONS, PUT"
