"""The OSV-compatible API: `POST /v1/query`, `POST /v1/querybatch`, `GET /v1/vulns/{id}`."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from secapi.domain.services.osv_queries import OsvQueries
from secapi.entrypoints.http.openapi import AUTHENTICATED, PROBLEM_MEDIA_TYPE, ApiOperation
from secapi.entrypoints.http.osv_schemas import (
    OsvBatchRequest,
    OsvBatchResults,
    OsvProblem,
    OsvQueryRequest,
    OsvQuotaProblem,
    OsvRefList,
    OsvVulnerabilityList,
    OsvVulnRef,
)

_DESCRIPTIONS = {
    400: "The query is malformed or one this server does not answer (a `commit` query, an unknown purl type, "
    "a page token it did not issue); `code` is 3 (`INVALID_ARGUMENT`)",
    401: "No API key, or one that is not valid or revoked",
    404: "No vulnerability with this id in this server's database",
    408: "The request body stopped arriving before it was complete",
    413: "The request body is larger than this server accepts",
    429: "The per-minute request quota of the caller's tier is exhausted; `Retry-After` says when to retry",
    503: "A backing service is unavailable, or no advisories are loaded; retry later",
}


OSV_BODY = (400, 408, 413)
"""A JSON body's problems here: no 415, as OSV's API reads the body as JSON whatever its `Content-Type` (its own
examples use `curl -d`, which sends `application/x-www-form-urlencoded`)."""


def osv_problems(*statuses: int) -> dict[int, ResponseSpec]:
    """The problem responses of the OSV routes: RFC 9457 members plus OSV's `code` and `message`."""
    return {
        status: ResponseSpec(
            data_container=OsvQuotaProblem if status == 429 else OsvProblem,
            media_type=PROBLEM_MEDIA_TYPE,
            description=_DESCRIPTIONS[status],
            generate_examples=False,
        )
        for status in statuses
    }


class OsvController(Controller):
    """OSV's API v1 over the local vulnerability database; a client of OSV's API works by changing its base URL."""

    path = ""
    tags = ["osv"]

    @post(
        "/query",
        operation_id="OsvQuery",
        summary="The vulnerabilities of a package version, as full OSV records (OSV's `query`)",
        description="A package by `name` and `ecosystem` or by `purl`, and a `version` (in the purl or apart; "
        "without one, every vulnerability naming the package). Records are ordered by id, 1,000 a page; "
        "`next_page_token` asks for the next page with the same query. `commit` queries are refused (400).",
        status_code=200,
        operation_class=ApiOperation,
        responses=osv_problems(*AUTHENTICATED, *OSV_BODY),
    )
    @inject
    async def query(self, data: JSONBody[OsvQueryRequest], osv: FromDishka[OsvQueries]) -> OsvVulnerabilityList:
        page = await osv.query(data.to_domain())
        return OsvVulnerabilityList(vulns=list(page.vulns), next_page_token=page.next_page_token)

    @post(
        "/querybatch",
        operation_id="OsvQueryBatch",
        summary="Many queries at once: the `id` and `modified` of each query's vulnerabilities (OSV's `querybatch`)",
        description="Up to 1,000 queries; one result per query, in order, each paged on its own (1,000 a page, "
        "`next_page_token` per result). Full records come from `GET /v1/vulns/{id}`.",
        status_code=200,
        operation_class=ApiOperation,
        responses=osv_problems(*AUTHENTICATED, *OSV_BODY),
    )
    @inject
    async def query_batch(self, data: JSONBody[OsvBatchRequest], osv: FromDishka[OsvQueries]) -> OsvBatchResults:
        pages = await osv.query_batch([query.to_domain() for query in data.queries])
        return OsvBatchResults(
            results=[
                OsvRefList(
                    vulns=[OsvVulnRef(id=ref.id, modified=ref.modified) for ref in page.vulns],
                    next_page_token=page.next_page_token,
                )
                for page in pages
            ]
        )

    @get(
        "/vulns/{vuln_id:str}",
        operation_id="OsvGetVulnerability",
        summary="One OSV record by id (OSV's `vulns/{id}`)",
        operation_class=ApiOperation,
        responses=osv_problems(*AUTHENTICATED, 404),
    )
    @inject
    async def vulnerability(self, vuln_id: FromPath[str], osv: FromDishka[OsvQueries]) -> dict[str, object]:
        return await osv.vulnerability(vuln_id)
