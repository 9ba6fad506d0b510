"""Scanning an SBOM: `POST /api/v1/scan/sbom`."""

from __future__ import annotations

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, post
from litestar.params import QueryParameter

from secapi.domain.model import Principal
from secapi.domain.result_formats import ResultFormats
from secapi.domain.services.sbom_scans import SbomScanService
from secapi.domain.suppressions import ActiveSuppressions
from secapi.entrypoints.http.openapi import AUTHENTICATED, JSON_BODY, problem_responses, scan_responses
from secapi.entrypoints.http.result_formats import OutputFormat, choose_format
from secapi.entrypoints.http.sbom_requests import SbomScanOperation, read_sbom, sbom_media_types
from secapi.entrypoints.http.scan_responses import outcome_response, wants_fresh

SharedParameter = Annotated[
    bool, QueryParameter(name="shared", description="Share the result with other tenants (private by default)")
]


class SbomScansController(Controller):
    """Start SBOM scans."""

    path = "/scan"
    tags = ["scans"]

    @post(
        "/sbom",
        operation_id="ScanSbom",
        summary="Scan an SBOM (CycloneDX or SPDX)",
        description="Send the document as the body with its media type (`application/vnd.cyclonedx+json`, "
        "`application/vnd.cyclonedx+xml`, `application/spdx+json`, `text/spdx`; plain `application/json` is "
        "told apart by content) or as a multipart upload with a `file` field. Packages come from purls; "
        "components with only a CPE, or neither, are listed as `unscannable` with the reason. Private unless "
        "`shared`.",
        status_code=200,
        opt=sbom_media_types,
        operation_class=SbomScanOperation,
        responses={200: scan_responses()[200], **problem_responses(*JSON_BODY, *AUTHENTICATED, 406, 422)},
    )
    @inject
    async def scan_sbom(
        self,
        request: Request[Any, Any, Any],
        principal: FromDishka[Principal],
        scans: FromDishka[SbomScanService],
        formats: FromDishka[ResultFormats],
        suppressions: FromDishka[ActiveSuppressions],
        output_format: OutputFormat = None,
        shared: SharedParameter = False,
    ) -> Response[Any]:
        fmt = choose_format(request, formats, output_format)
        sbom, shared, narrow = await read_sbom(request, shared)
        outcome = await scans.scan(principal, sbom, shared=shared, bypass_cache=wants_fresh(request))
        return await outcome_response(request, outcome, risk_filter=narrow, fmt=fmt, suppressions=suppressions)
