"""Suppressions: `/api/v1/ignores` (ignore rules) and `/api/v1/vex` (OpenVEX documents) of the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, JSONBody, Parameter

from secapi.domain.model import Principal
from secapi.domain.openvex import VexDocument
from secapi.domain.package_patterns import ADVISORY_PATTERN
from secapi.domain.services.suppressions import MAX_REASON, SuppressionService
from secapi.domain.suppressions import MAX_IGNORE_RULES, MAX_VEX_DOCUMENTS, IgnoreRule, RulePage, StoredVex, VexPage
from secapi.entrypoints.http.controllers import API_PREFIX
from secapi.entrypoints.http.media_types import json_only
from secapi.entrypoints.http.openapi import AUTHENTICATED, JSON_BODY, ApiOperation, problem_responses
from secapi.entrypoints.http.schemas import decode_cursor, encode_cursor

PAGE_LIMIT = Annotated[int | None, Parameter(description="Items per page (1–100, default 20)", ge=1, le=100)]
PAGE_CURSOR = Annotated[str | None, Parameter(description="`next_cursor` of the previous page")]
APPLIES = (
    "Suppressions apply to every answer of this account (fresh scans, cache hits, `GET /api/v1/scans/{id}`): "
    "covered findings move from `vulnerabilities` to `suppressed`, naming the rule or statement, and `counts` "
    "leave them out. The shared cache keeps the unsuppressed result; other accounts are unaffected."
)


class _Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of the suppression bodies: unknown fields are an error, not ignored."""


class IgnoreRuleRequest(_Schema):
    """Body of `POST /api/v1/ignores`."""

    advisory: Annotated[
        str, msgspec.Meta(min_length=1, max_length=100, pattern=ADVISORY_PATTERN, examples=["CVE-2021-44228"])
    ]
    """An advisory id or alias: a rule on a CVE covers every finding listing that CVE as an alias."""
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REASON)]
    package: Annotated[str, msgspec.Meta(min_length=1, max_length=300, examples=["pkg:npm/lodash@4.17.*"])] | None = (
        None
    )
    """Absent: every package. A name (`lodash`; `*` matches any run of characters, `@babel/*`), or a package URL
    without qualifiers, with or without a version, `*` allowed in namespace, name and version
    (`pkg:pypi/django`, `pkg:npm/%40babel/core@7.*`)."""
    expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    """RFC 3339 time (with offset) after which the rule stops applying; absent: never."""


class IgnoreRuleView(_Schema):
    """An ignore rule."""

    id: UUID
    advisory: str
    package: str | None
    reason: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, rule: IgnoreRule) -> IgnoreRuleView:
        return cls(
            id=rule.id,
            advisory=rule.advisory,
            package=rule.package,
            reason=rule.reason,
            created_at=rule.created_at,
            expires_at=rule.expires_at,
        )


class IgnoreRuleListView(_Schema):
    """A page of ignore rules, newest first (expired ones included); pass `next_cursor` as `cursor`."""

    items: list[IgnoreRuleView]
    next_cursor: str | None

    @classmethod
    def of(cls, page: RulePage) -> IgnoreRuleListView:
        cursor = encode_cursor(page.next_cursor) if page.next_cursor else None
        return cls(items=[IgnoreRuleView.of(rule) for rule in page.items], next_cursor=cursor)


class VexSummaryView(_Schema):
    """A stored OpenVEX document, without its statements."""

    id: UUID
    """SecAPI's id of the document (what `suppressed_by.id` names)."""
    document_id: str
    """The document's own `@id`."""
    author: str
    version: int
    timestamp: datetime
    statements: int
    created_at: datetime

    @classmethod
    def of(cls, vex: StoredVex) -> VexSummaryView:
        document = vex.document
        return cls(
            id=vex.id,
            document_id=document.id,
            author=document.author,
            version=document.version,
            timestamp=document.timestamp,
            statements=len(document.statements),
            created_at=vex.created_at,
        )


class VexView(VexSummaryView):
    """A stored OpenVEX document with the document itself."""

    document: VexDocument

    @classmethod
    def full(cls, vex: StoredVex) -> VexView:
        summary = VexSummaryView.of(vex)
        return cls(**msgspec.structs.asdict(summary), document=vex.document)


class VexListView(_Schema):
    """A page of OpenVEX documents, newest first; pass `next_cursor` as `cursor`."""

    items: list[VexSummaryView]
    next_cursor: str | None

    @classmethod
    def of(cls, page: VexPage) -> VexListView:
        cursor = encode_cursor(page.next_cursor) if page.next_cursor else None
        return cls(items=[VexSummaryView.of(vex) for vex in page.items], next_cursor=cursor)


class IgnoresController(Controller):
    """`/api/v1/ignores`: the caller's ignore rules."""

    path = "/ignores"
    tags = ["suppressions"]

    @post(
        "/",
        operation_id="CreateIgnoreRule",
        summary="Ignore an advisory (in some packages, or all)",
        description=f"{APPLIES} A rule whose `expires_at` has passed stops applying. At most {MAX_IGNORE_RULES} "
        "rules per account (409 beyond).",
        status_code=201,
        opt=json_only,
        operation_class=ApiOperation,
        responses=problem_responses(*JSON_BODY, *AUTHENTICATED, 409, 422),
    )
    @inject
    async def create_rule(
        self,
        data: JSONBody[IgnoreRuleRequest],
        principal: FromDishka[Principal],
        suppressions: FromDishka[SuppressionService],
    ) -> Response[IgnoreRuleView]:
        rule = await suppressions.add_rule(
            principal, advisory=data.advisory, package=data.package, reason=data.reason, expires_at=data.expires_at
        )
        location = f"{API_PREFIX}{self.path}/{rule.id}"
        return Response(IgnoreRuleView.of(rule), status_code=201, headers={"Location": location})

    @get(
        "/",
        operation_id="ListIgnoreRules",
        summary="Your ignore rules, newest first",
        operation_class=ApiOperation,
        responses=problem_responses(400, *AUTHENTICATED, 422),
    )
    @inject
    async def list_rules(
        self,
        principal: FromDishka[Principal],
        suppressions: FromDishka[SuppressionService],
        limit: PAGE_LIMIT = None,
        cursor: PAGE_CURSOR = None,
    ) -> IgnoreRuleListView:
        after = decode_cursor(cursor) if cursor else None
        return IgnoreRuleListView.of(await suppressions.rules(principal, limit=limit, after=after))

    @delete(
        "/{rule_id:uuid}",
        operation_id="DeleteIgnoreRule",
        summary="Delete an ignore rule (its findings show again)",
        status_code=204,
        operation_class=ApiOperation,
        responses=problem_responses(*AUTHENTICATED, 404),
    )
    @inject
    async def delete_rule(
        self, rule_id: FromPath[UUID], principal: FromDishka[Principal], suppressions: FromDishka[SuppressionService]
    ) -> None:
        await suppressions.delete_rule(principal, rule_id)


class VexController(Controller):
    """`/api/v1/vex`: the caller's OpenVEX documents."""

    path = "/vex"
    tags = ["suppressions"]

    @post(
        "/",
        operation_id="CreateVexDocument",
        summary="Store an OpenVEX 0.2.0 document",
        description=f"{APPLIES} Statements `not_affected` (with a `justification` or `impact_statement`) and "
        "`fixed` suppress the findings they cover; `affected` and `under_investigation` are listed in the "
        "result's `vex` without suppressing. A statement covers a finding through the vulnerability's name or "
        "aliases and a product purl: a package purl (version optional), or an image (`pkg:oci/...@sha256:...`, "
        "the scanned image) with the packages as `subcomponents`. The latest statement about a finding wins. "
        f"The document is validated structurally (fields, types, enums, the conditional rules). At most "
        f"{MAX_VEX_DOCUMENTS} documents per account (409 beyond).",
        status_code=201,
        opt=json_only,
        operation_class=ApiOperation,
        responses=problem_responses(*JSON_BODY, *AUTHENTICATED, 409, 422),
    )
    @inject
    async def create_vex(
        self,
        data: JSONBody[VexDocument],
        principal: FromDishka[Principal],
        suppressions: FromDishka[SuppressionService],
    ) -> Response[VexView]:
        vex = await suppressions.add_vex(principal, data)
        location = f"{API_PREFIX}{self.path}/{vex.id}"
        return Response(VexView.full(vex), status_code=201, headers={"Location": location})

    @get(
        "/",
        operation_id="ListVexDocuments",
        summary="Your OpenVEX documents, newest first",
        operation_class=ApiOperation,
        responses=problem_responses(400, *AUTHENTICATED, 422),
    )
    @inject
    async def list_vex(
        self,
        principal: FromDishka[Principal],
        suppressions: FromDishka[SuppressionService],
        limit: PAGE_LIMIT = None,
        cursor: PAGE_CURSOR = None,
    ) -> VexListView:
        after = decode_cursor(cursor) if cursor else None
        return VexListView.of(await suppressions.vex_documents(principal, limit=limit, after=after))

    @get(
        "/{vex_id:uuid}",
        operation_id="GetVexDocument",
        summary="One of your OpenVEX documents",
        operation_class=ApiOperation,
        responses=problem_responses(*AUTHENTICATED, 404),
    )
    @inject
    async def get_vex(
        self, vex_id: FromPath[UUID], principal: FromDishka[Principal], suppressions: FromDishka[SuppressionService]
    ) -> VexView:
        return VexView.full(await suppressions.get_vex(principal, vex_id))

    @delete(
        "/{vex_id:uuid}",
        operation_id="DeleteVexDocument",
        summary="Delete an OpenVEX document (its statements stop applying)",
        status_code=204,
        operation_class=ApiOperation,
        responses=problem_responses(*AUTHENTICATED, 404),
    )
    @inject
    async def delete_vex(
        self, vex_id: FromPath[UUID], principal: FromDishka[Principal], suppressions: FromDishka[SuppressionService]
    ) -> None:
        await suppressions.delete_vex(principal, vex_id)
