"""The OpenAPI contract beyond what Litestar infers from signatures.

Problem responses, bodies the handlers read themselves (lockfile JSON or multipart, archive uploads),
response headers, public operations and closed (`additionalProperties: false`) request and response objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, cast

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin  # private: no public hook
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.typing import FieldDefinition

from secapi.entrypoints.http.result_formats import FORMAT_MEDIA_TYPES
from secapi.entrypoints.http.schemas import MAX_COMPANIONS, DependencyScanRequest, ScanView

PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"
MULTIPART_MEDIA_TYPE = "multipart/form-data"
ARCHIVE_MEDIA_TYPES = ("application/x-tar", "application/gzip", "application/x-gzip", "application/octet-stream")


class InvalidParam(msgspec.Struct, kw_only=True):
    """One offending field of a request."""

    name: str
    reason: str
    location: str | None = msgspec.field(default=None, name="in")
    """Where the field was: `body`, `query`, `path` or `header`."""


class Problem(msgspec.Struct, kw_only=True):
    """An RFC 9457 problem; members beyond these are extensions of its `type`."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    invalid_params: list[InvalidParam] = msgspec.field(default_factory=list, name="invalid-params")


class QuotaProblem(Problem, kw_only=True):
    """A 429: which quota of the tier was reached and when there is room again."""

    tier: str
    retry_after: int
    reset_at: str
    limits: dict[str, int]
    violated_policies: list[str] = msgspec.field(name="violated-policies")


_PROBLEM_DESCRIPTIONS = {
    400: "The request is malformed or fails validation; `invalid-params` names the fields",
    401: "No API key, or one that is not valid or revoked",
    403: "The API key is not an administrator's",
    404: "No such resource for this account",
    406: "The output format asked for (`format`, `Accept`) is not one this server writes",
    408: "The request body stopped arriving before it was complete",
    409: "The request conflicts with existing state",
    413: "The request body is larger than this server accepts",
    415: "The request body's media type is not one this operation reads",
    422: "The input is well formed but cannot be used; `detail` says why",
    429: "A quota of the caller's tier is exhausted; `Retry-After` says when to retry",
    503: "A backing service is unavailable, or no advisories are loaded; retry later",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The `application/problem+json` responses an operation can answer with."""
    return {
        status: ResponseSpec(
            data_container=QuotaProblem if status == 429 else Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            description=_PROBLEM_DESCRIPTIONS[status],
            generate_examples=False,
        )
        for status in statuses
    }


AUTHENTICATED = (401, 429, 503)
"""Every API route: the key is checked, a request is counted, the database and Redis are used."""
ADMIN = (*AUTHENTICATED, 403)
"""Every administration route: an authenticated key that must also be an administrator's."""
JSON_BODY = (400, 408, 413, 415)
"""Every route that reads a JSON body."""


def scan_responses() -> dict[int, ResponseSpec]:
    """The scan view as a 200 (finished) and a 202 (queued or running)."""
    return {
        200: ResponseSpec(ScanView, description="The scan finished: its result", generate_examples=False),
        202: ResponseSpec(
            ScanView, description="The scan is queued or running: poll `Location`", generate_examples=False
        ),
    }


def _header(description: str, *, required: bool = True) -> OpenAPIHeader:
    return OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description=description, required=required)


_STATUS_HEADERS = {
    "401": {"WWW-Authenticate": _header('`Bearer realm="secapi"`, with `error="invalid_token"` for a bad key')},
    "429": {"Retry-After": _header("Seconds until the quota has room again")},
}


@dataclass
class ApiOperation(Operation):
    """An operation whose errors are all problems, with the headers that go with them (401, 429)."""

    location_statuses: ClassVar[tuple[str, ...]] = ()
    """Responses that always carry `Location: /api/v1/scans/{id}`."""
    failed_scan_location: ClassVar[bool] = False
    """A 422 may be a failed scan, which carries `Location` too (other 422s do not)."""
    formatted_statuses: ClassVar[tuple[str, ...]] = ()
    """Responses whose finished scan may be written in another output format (`format`, `Accept`)."""

    def __post_init__(self) -> None:
        responses = self.responses or {}
        for status, response in list(responses.items()):
            if not isinstance(response, OpenAPIResponse):
                continue
            if status in self.formatted_statuses:
                response.content = {**(response.content or {}), **_format_media_types()}
            if int(status) >= 400 and PROBLEM_MEDIA_TYPE not in (response.content or {}):
                # Litestar's own 400 for any operation with parameters: ours are listed where they can occur.
                del responses[status]
                continue
            headers = dict(_STATUS_HEADERS.get(status, {}))
            if status in self.location_statuses:
                headers["Location"] = _header("Where the scan is polled: `/api/v1/scans/{id}`")
            if status == "422" and self.failed_scan_location:
                headers["Location"] = _header("A failed scan's record: `/api/v1/scans/{id}`", required=False)
            if status == "202":
                headers["Retry-After"] = _header("Seconds to wait before polling", required=False)
            if headers:
                response.headers = {**(response.headers or {}), **headers}


_FORMAT_DOCUMENTS = {
    "cyclonedx": "A CycloneDX 1.6 JSON BOM: components with purls, and vulnerabilities with ratings, affects and "
    "analysis (https://cyclonedx.org/docs/1.6/json/)",
    "spdx": "An SPDX 2.3 JSON document: packages with purls as external references (https://spdx.github.io/spdx-spec/v2.3/)",
    "sarif": "A SARIF 2.1.0 log: a rule per advisory, a result per finding (https://docs.oasis-open.org/sarif/sarif/v2.1.0/)",
}


def _format_media_types() -> dict[str, OpenAPIMediaType]:
    """The other representations of a finished scan, by media type (`FORMAT_MEDIA_TYPES`)."""
    content = {
        FORMAT_MEDIA_TYPES[name]: OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT, description=description))
        for name, description in _FORMAT_DOCUMENTS.items()
    }
    page = Schema(type=OpenAPIType.STRING, description="A self-contained HTML report of the scan")
    content[FORMAT_MEDIA_TYPES["html"]] = OpenAPIMediaType(schema=page)
    return content


@dataclass
class PublicOperation(ApiOperation):
    """Needs no API key: an explicit empty `security`, unless a layer (a router) asked for a token."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.security = self.security or []


@dataclass
class TokenOperation(PublicOperation):
    """`/metrics`: its 401 exists only when a router asked for the scrape token."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.security and self.responses:
            self.responses.pop("401", None)


@dataclass
class OptionalBodyOperation(ApiOperation):
    """An operation whose JSON body may be left out (Litestar marks every body required)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


@dataclass
class InvalidateOperation(ApiOperation):
    """`InvalidateCache`: exactly one of `scan_type` and `pattern`, which the Struct alone cannot say."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.request_body, RequestBody):
            return
        media = self.request_body.content[JSON_MEDIA_TYPE]
        null = {"type": "null"}
        exactly_one = {
            "allOf": [media.schema],
            "oneOf": [
                {"required": ["scan_type"], "properties": {"scan_type": {"type": "string"}, "pattern": null}},
                {"required": ["pattern"], "properties": {"pattern": {"type": "string"}, "scan_type": null}},
            ],
        }
        media.schema = cast(Schema, exactly_one)


@dataclass
class ScanOperation(ApiOperation):
    """Starts a scan: every answer about the scan says where to poll it."""

    location_statuses = ("200", "202")
    failed_scan_location = True
    formatted_statuses = ("200",)


def _inline(schema: Any, definitions: dict[str, Any]) -> Any:
    """`schema` with msgspec's `$defs` references replaced by the definitions (none of ours is recursive).

    `extra` (Litestar's channel for schema keywords in `Meta.extra_json_schema`) is not JSON Schema: dropped.
    """
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(definitions[ref.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in schema.items() if key not in ("$defs", "extra")}
    if isinstance(schema, list):
        return [_inline(item, definitions) for item in schema]
    return schema


def json_schema_of(struct: type[msgspec.Struct]) -> Schema:
    """A self-contained JSON Schema of a msgspec Struct (closed when it forbids unknown fields)."""
    generated = msgspec.json.schema(struct)
    # A plain dict is serialised as is by the OpenAPI spec objects: it stands for a Schema here.
    return cast(Schema, _inline(generated, generated.get("$defs", {})))


def _binary(description: str) -> Schema:
    return Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description=description)


def _risk_filter_fields() -> dict[str, Schema | Reference]:
    """Form fields of the response filter (see `secapi.entrypoints.http.risk_filters`)."""
    return {
        "min_epss": Schema(
            type=OpenAPIType.NUMBER,
            minimum=0.0,
            maximum=1.0,
            description="Show only findings with an EPSS score of at least this in the response",
        ),
        "kev_only": Schema(
            type=OpenAPIType.BOOLEAN, default=False, description="Show only findings in CISA's KEV catalogue"
        ),
    }


def lockfile_request_body() -> RequestBody:
    """`POST /api/v1/scan/dependencies`: a JSON document or a multipart upload."""
    form = Schema(
        type=OpenAPIType.OBJECT,
        properties={
            "file": _binary("The lockfile; its part's filename picks the format (`poetry.lock`, `go.mod`, ...)"),
            "files": Schema(
                type=OpenAPIType.ARRAY,
                items=_binary("A file that completes the lockfile (a `go.sum`), named by its filename"),
                max_items=MAX_COMPANIONS,
            ),
            "shared": Schema(
                type=OpenAPIType.BOOLEAN, default=False, description="Share the result with other tenants"
            ),
            **_risk_filter_fields(),
        },
        required=["file"],
    )
    return RequestBody(
        required=True,
        description="The lockfile as JSON `{filename, content, files?, shared?}` or as a multipart upload.",
        content={
            JSON_MEDIA_TYPE: OpenAPIMediaType(schema=json_schema_of(DependencyScanRequest)),
            MULTIPART_MEDIA_TYPE: OpenAPIMediaType(schema=form),
        },
    )


def archive_request_body() -> RequestBody:
    """`POST /api/v1/scan/docker/archive`: a multipart upload or the raw tarball."""
    form = Schema(
        type=OpenAPIType.OBJECT,
        properties={
            "file": _binary("`docker save` output or an OCI layout tarball, optionally gzipped"),
            "platform": Schema(type=OpenAPIType.STRING, max_length=64, description="`os/arch[/variant]`"),
            "image": Schema(
                type=OpenAPIType.STRING, max_length=512, description="Which image of a multi-image archive"
            ),
            **_risk_filter_fields(),
        },
        required=["file"],
    )
    raw = OpenAPIMediaType(schema=_binary("The tarball itself"))
    return RequestBody(
        required=True,
        description="Multipart (`file`, optional `platform` and `image`) or the tarball as the raw body.",
        content={MULTIPART_MEDIA_TYPE: OpenAPIMediaType(schema=form), **dict.fromkeys(ARCHIVE_MEDIA_TYPES, raw)},
    )


@dataclass
class LockfileScanOperation(ScanOperation):
    """`ScanDependencies`: its body is read by the handler, so it is described here."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.request_body = lockfile_request_body()


@dataclass
class ArchiveScanOperation(ScanOperation):
    """`ScanDockerArchive`: its body is streamed by the handler, so it is described here."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.request_body = archive_request_body()


@dataclass
class ConditionalGetOperation(ApiOperation):
    """`GetScan`: `ETag` on the scan, and a bodiless 304 when `If-None-Match` names it."""

    formatted_statuses = ("200",)

    def __post_init__(self) -> None:
        super().__post_init__()
        etag = _header("The scan's validator; send it back in `If-None-Match`")
        responses = self.responses or {}
        for status in ("200", "304"):
            response = responses.get(status)
            if isinstance(response, OpenAPIResponse):
                response.headers = {**(response.headers or {}), "ETag": etag}


def not_modified() -> dict[int, ResponseSpec]:
    """A 304 without a body."""
    return {304: ResponseSpec(None, description="The scan has not changed since the `ETag` you sent")}


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Struct schemas that say `additionalProperties: false` when the Struct forbids unknown fields.

    Litestar's own Struct plugin leaves the keyword out, so clients and fuzzers believed extra fields were fine.
    """

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        config = getattr(field_definition.type_, "__struct_config__", None)
        if config is not None and config.forbid_unknown_fields:
            schema.additional_properties = False
        return schema
