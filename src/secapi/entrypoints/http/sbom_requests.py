"""`POST /api/v1/scan/sbom` at the edge: the document from the body (by its media type) or a multipart `file`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, RequestBody, Schema

from secapi.domain.errors import InvalidInput
from secapi.domain.sbom import MEDIA_TYPES
from secapi.domain.services.exploit_intel import RiskFilter
from secapi.domain.services.sbom_scans import SbomInput
from secapi.entrypoints.http.media_types import accepts, media_type_of
from secapi.entrypoints.http.openapi import JSON_MEDIA_TYPE, MULTIPART_MEDIA_TYPE, ScanOperation
from secapi.entrypoints.http.risk_filters import NO_FILTER, risk_filter_from_form

sbom_media_types = accepts(*MEDIA_TYPES, JSON_MEDIA_TYPE, MULTIPART_MEDIA_TYPE)
"""The SBOM media types, plain JSON (CycloneDX or SPDX, told apart by content) and multipart."""
_TRUE = ("1", "true", "yes", "on")


async def read_sbom(request: Request[Any, Any, Any], shared: bool) -> tuple[SbomInput, bool, RiskFilter]:
    """The document, whether its result is shared, and the response filter (multipart form fields)."""
    media_type = media_type_of(request.headers.get("content-type", ""))
    if media_type != MULTIPART_MEDIA_TYPE:
        content = await request.body()
        return SbomInput(content=content, declared=MEDIA_TYPES.get(media_type)), shared, NO_FILTER
    form = await request.form()
    uploads = form.getall("file", [])
    if len(uploads) != 1 or not isinstance(uploads[0], UploadFile):
        raise InvalidInput("send the SBOM as exactly one multipart file part named 'file'", field="file")
    upload: UploadFile = uploads[0]
    shared = shared or str(form.get("shared", "")).lower() in _TRUE
    content = await upload.read()
    # A part's own media type names the format when it is one of the SBOM types; otherwise the content does.
    declared = MEDIA_TYPES.get(media_type_of(upload.content_type or ""))
    return (
        SbomInput(content=content, declared=declared, filename=upload.filename or None),
        shared,
        (risk_filter_from_form(form)),
    )


def _binary(description: str) -> Schema:
    return Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description=description)


def sbom_request_body() -> RequestBody:
    """The document as the body with its media type, or as a multipart upload."""
    form = Schema(
        type=OpenAPIType.OBJECT,
        properties={
            "file": _binary("The SBOM: CycloneDX JSON or XML, SPDX JSON or tag-value (told apart by content)"),
            "shared": Schema(
                type=OpenAPIType.BOOLEAN, default=False, description="Share the result with other tenants"
            ),
            "min_epss": Schema(
                type=OpenAPIType.NUMBER,
                minimum=0.0,
                maximum=1.0,
                description="Show only findings with an EPSS score of at least this in the response",
            ),
            "kev_only": Schema(
                type=OpenAPIType.BOOLEAN, default=False, description="Show only findings in CISA's KEV catalogue"
            ),
        },
        required=["file"],
    )
    raw = {
        "application/vnd.cyclonedx+json": "A CycloneDX JSON BOM (spec 1.2 to 1.7)",
        "application/vnd.cyclonedx+xml": "A CycloneDX XML BOM (spec 1.2 to 1.7)",
        "application/spdx+json": "An SPDX 2.2 or 2.3 JSON document",
        "text/spdx": "An SPDX 2.2 or 2.3 tag-value document",
        JSON_MEDIA_TYPE: "A CycloneDX or SPDX JSON document (told apart by `bomFormat` / `spdxVersion`)",
    }
    content = {name: OpenAPIMediaType(schema=_binary(text)) for name, text in raw.items()}
    return RequestBody(
        required=True,
        description="The SBOM as the body, with its media type, or as a multipart upload (`file`).",
        content={**content, MULTIPART_MEDIA_TYPE: OpenAPIMediaType(schema=form)},
    )


@dataclass
class SbomScanOperation(ScanOperation):
    """`ScanSbom`: its body is read by the handler, so it is described here."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.request_body = sbom_request_body()
