"""The OSV API's request and response shapes (https://google.github.io/osv.dev/api/), as msgspec Structs.

Field names are OSV's (`page_token`, `next_page_token`); empty members are left out of responses, as
OSV's JSON leaves them out (a query matching nothing answers `{}`). Vulnerabilities in `query` answers
are the stored OSV records themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from secapi.domain.purl_ecosystems import MAX_PURL_LENGTH
from secapi.domain.services.osv_queries import MAX_BATCH_QUERIES, MAX_PAGE_TOKEN_LENGTH, OsvQuery
from secapi.entrypoints.http.openapi import Problem, QuotaProblem

Short = Annotated[str, msgspec.Meta(max_length=1000)]


class OsvPackage(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """OSV's `Package`: `name` and `ecosystem`, or `purl`."""

    name: Short | None = None
    ecosystem: Short | None = None
    purl: Annotated[str, msgspec.Meta(max_length=MAX_PURL_LENGTH)] | None = None


class OsvQueryRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """OSV's `Query`: a package and a version (or a `commit`, which this server refuses), and a page token."""

    package: OsvPackage | None = None
    version: Short | None = None
    commit: Short | None = None
    """Not supported: a query with a commit is answered 400 (OSV's `INVALID_ARGUMENT`)."""
    page_token: Annotated[str, msgspec.Meta(max_length=MAX_PAGE_TOKEN_LENGTH)] | None = None

    def to_domain(self) -> OsvQuery:
        package = self.package or OsvPackage()
        return OsvQuery(
            name=package.name,
            ecosystem=package.ecosystem,
            purl=package.purl,
            version=self.version,
            commit=self.commit,
            page_token=self.page_token,
        )


class OsvBatchRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """OSV's `BatchQuery`."""

    queries: Annotated[list[OsvQueryRequest], msgspec.Meta(max_length=MAX_BATCH_QUERIES)]


class OsvVulnerabilityList(msgspec.Struct, kw_only=True, omit_defaults=True):
    """OSV's `VulnerabilityList`: full OSV records, ordered by id; `next_page_token` when more remain."""

    vulns: list[dict[str, Any]] = msgspec.field(default_factory=list)
    next_page_token: str | None = None


class OsvVulnRef(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A vulnerability in a `querybatch` answer: its id and when its record was last modified."""

    id: str
    modified: datetime | None = None


class OsvRefList(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One query's answer in `querybatch`."""

    vulns: list[OsvVulnRef] = msgspec.field(default_factory=list)
    next_page_token: str | None = None


class OsvBatchResults(msgspec.Struct, kw_only=True):
    """OSV's `BatchVulnerabilityList`: one result per query, in the order of the queries."""

    results: list[OsvRefList]


class OsvProblem(Problem, kw_only=True):
    """A problem on the OSV routes: RFC 9457 members plus OSV's own error members (`google.rpc.Status`)."""

    code: int
    """The gRPC status code OSV answers with (3 `INVALID_ARGUMENT`, 5 `NOT_FOUND`, 16 `UNAUTHENTICATED`, ...)."""
    message: str
    """`detail` again, where OSV clients look for it."""


class OsvQuotaProblem(QuotaProblem, kw_only=True):
    """A 429 on the OSV routes (gRPC 8 `RESOURCE_EXHAUSTED`)."""

    code: int
    message: str
