"""The OSV-compatible API's use case: OSV's `query`, `querybatch` and `vulns/{id}` answered from the local store.

A query names a package (name and ecosystem, or a purl) and optionally a version; with a version it is
answered by the scans' own matching rule (`VulnerabilityMatcher.advisories_naming`), so a query and a
lockfile scan of that one package name the same advisories; without, by every advisory naming the package.
Results are ordered by advisory id and paged by keyset: a page token carries the last id of its page and
a fingerprint of its query, so a forged token can only ask for ids after some string, of the query it came with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import msgspec

from secapi.domain.advisories import AdvisorySummary
from secapi.domain.errors import InvalidInput, NotFound, VulnDbEmpty
from secapi.domain.packages import Package
from secapi.domain.ports import VulnerabilityStore
from secapi.domain.purl_ecosystems import UnreadablePurl, parse_purl
from secapi.domain.services.matching import VulnerabilityMatcher

QUERY_PAGE_SIZE = 1000
"""Full records per page of `query` (OSV pages its query results at 1,000 too)."""
BATCH_PAGE_SIZE = 1000
"""`{id, modified}` entries per query per page of `querybatch`."""
MAX_BATCH_QUERIES = 1000
"""Queries one `querybatch` may carry (OSV's own limit)."""
MAX_PAGE_TOKEN_LENGTH = 512
"""A longer `page_token` is refused unread: no token this server issues is near it."""
MAX_ID_LENGTH = 200
"""The longest advisory id looked up (the store's alias column holds 200 characters)."""


class OsvRecords(Protocol):
    """Full OSV records by id, many in one round trip (the SQL vulnerability store implements it)."""

    async def get_records(self, advisory_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """The stored OSV records of those of `advisory_ids` that exist, by id."""
        ...


class InvalidOsvQuery(InvalidInput):
    """A query OSV's API would refuse too (INVALID_ARGUMENT), or one that names no package."""


class UnsupportedOsvQuery(InvalidOsvQuery):
    """A query kind OSV answers and SecAPI does not: a git commit."""


class OsvVulnerabilityNotFound(NotFound):
    """No record with this id in the local database."""


class OsvQuery(msgspec.Struct, frozen=True, kw_only=True):
    """One OSV query: a package by name and ecosystem or by purl, a version, a page token, or a commit."""

    name: str | None = None
    ecosystem: str | None = None
    purl: str | None = None
    version: str | None = None
    commit: str | None = None
    page_token: str | None = None


class OsvRecordPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of `query`: full OSV records, ordered by id, and the token of the next page if there is one."""

    vulns: tuple[dict[str, Any], ...]
    next_page_token: str | None = None


class OsvVulnRef(msgspec.Struct, frozen=True, kw_only=True):
    """What `querybatch` answers per vulnerability."""

    id: str
    modified: datetime | None


class OsvRefPage(msgspec.Struct, frozen=True, kw_only=True):
    """One query's page of `querybatch`."""

    vulns: tuple[OsvVulnRef, ...]
    next_page_token: str | None = None


class _Resolved(msgspec.Struct, frozen=True, kw_only=True):
    package: Package
    any_version: bool
    fingerprint: str
    after: str | None


class OsvQueries:
    """Answers the OSV API's operations from the vulnerability store."""

    def __init__(
        self,
        matcher: VulnerabilityMatcher,
        store: VulnerabilityStore,
        records: OsvRecords,
        *,
        query_page_size: int = QUERY_PAGE_SIZE,
        batch_page_size: int = BATCH_PAGE_SIZE,
    ) -> None:
        self._matcher = matcher
        self._store = store
        self._records = records
        self._query_page_size = query_page_size
        self._batch_page_size = batch_page_size

    async def query(self, query: OsvQuery) -> OsvRecordPage:
        """The records of the vulnerabilities `query` matches, one page of them (`POST /v1/query`)."""
        resolved = _resolve(query, "")
        (found,) = await self._find([resolved])
        ids = [a.id for a in found if resolved.after is None or a.id > resolved.after]
        page = ids[: self._query_page_size]
        records = await self._records.get_records(page) if page else {}
        token = _token(page[-1], resolved.fingerprint) if len(ids) > len(page) else None
        return OsvRecordPage(vulns=tuple(records[i] for i in page if i in records), next_page_token=token)

    async def query_batch(self, queries: Sequence[OsvQuery]) -> list[OsvRefPage]:
        """`{id, modified}` of each query's vulnerabilities, a page per query, in one lookup (`POST /v1/querybatch`)."""
        if len(queries) > MAX_BATCH_QUERIES:
            raise InvalidOsvQuery(f"a batch holds at most {MAX_BATCH_QUERIES} queries", field="queries")
        resolved = [_resolve(query, f"queries[{index}].") for index, query in enumerate(queries)]
        if not resolved:
            return []
        found = await self._find(resolved)
        pages: list[OsvRefPage] = []
        for index, query in enumerate(resolved):
            after = [a for a in found[index] if query.after is None or a.id > query.after]
            page = after[: self._batch_page_size]
            token = _token(page[-1].id, query.fingerprint) if len(after) > len(page) else None
            refs = tuple(OsvVulnRef(id=a.id, modified=a.modified) for a in page)
            pages.append(OsvRefPage(vulns=refs, next_page_token=token))
        return pages

    async def vulnerability(self, advisory_id: str) -> dict[str, Any]:
        """The stored OSV record with this id, withdrawn ones included (`GET /v1/vulns/{id}`)."""
        unstorable = len(advisory_id) > MAX_ID_LENGTH or "\0" in advisory_id  # no such id can have been stored
        record = None if unstorable else await self._store.get_record(advisory_id)
        if record is None:
            raise OsvVulnerabilityNotFound(f"there is no vulnerability {advisory_id!r} in this server's database")
        return record

    async def _find(self, resolved: Sequence[_Resolved]) -> list[list[AdvisorySummary]]:
        """Each query's advisories, ordered by id, from one lookup; a distribution named without its release
        (`Debian`, `Alpine`) is looked up in every release the database holds, as OSV answers it."""
        # An empty database would answer every query "no vulnerabilities": that answer is not earned.
        version = await self._store.current_version()
        if version.version == 0 or version.advisories == 0:
            raise VulnDbEmpty
        lookups: dict[tuple[int, int], tuple[Package, bool]] = {}
        for index, query in enumerate(resolved):
            for n, ecosystem in enumerate(_releases(query.package.ecosystem, version.ecosystems)):
                package = msgspec.structs.replace(query.package, ecosystem=ecosystem)
                lookups[(index, n)] = (package, query.any_version)
        found = await self._matcher.advisories_naming(lookups)
        merged: list[dict[str, AdvisorySummary]] = [{} for _ in resolved]
        for (index, _), advisories in found.items():
            merged[index].update((a.id, a) for a in advisories)
        return [[advisories[i] for i in sorted(advisories)] for advisories in merged]


def _releases(ecosystem: str, known: Mapping[str, int] | None) -> list[str]:
    """`ecosystem`, and when it names no release, each `ecosystem:release` the database holds advisories for."""
    if ":" in ecosystem or not known:
        return [ecosystem]
    return [ecosystem, *sorted(e for e in known if e.startswith(f"{ecosystem}:"))]


def _resolve(query: OsvQuery, prefix: str) -> _Resolved:
    """The package and version a query asks about, checked the way OSV checks them."""
    if query.commit:
        raise UnsupportedOsvQuery(
            "commit queries are not supported: this server matches package versions against its advisories' "
            "version ranges and keeps no git commit ranges; query by package (name and ecosystem, or purl) and version",
            field=f"{prefix}commit",
        )
    for field, value in (
        ("package.name", query.name),
        ("package.ecosystem", query.ecosystem),
        ("package.purl", query.purl),
        ("version", query.version),
        ("page_token", query.page_token),
    ):
        if value and "\0" in value:
            raise InvalidOsvQuery(
                f"`{field}` contains a NUL character, which no package or version has", field=prefix + field
            )
    version = query.version or None
    if query.purl:
        if query.name or query.ecosystem:
            raise InvalidOsvQuery(
                "give the package either as a purl or as name and ecosystem, not both", field=f"{prefix}package"
            )
        try:
            named = parse_purl(query.purl)
        except UnreadablePurl as exc:
            raise InvalidOsvQuery(str(exc), field=f"{prefix}package.purl") from exc
        if named.version is not None and version is not None:
            raise InvalidOsvQuery(
                "the version is given twice, in the purl and in `version`: give it once", field=f"{prefix}version"
            )
        ecosystem, name, version = named.ecosystem, named.name, named.version or version
    elif query.name and query.ecosystem:
        ecosystem, name = query.ecosystem, query.name
    elif query.name:
        raise InvalidOsvQuery(
            "the package has a name but no ecosystem: give `package.ecosystem` (`PyPI`, `npm`, `Debian:12`, ...)",
            field=f"{prefix}package.ecosystem",
        )
    else:
        raise InvalidOsvQuery(
            "the query names no package: give `package` with `name` and `ecosystem`, or with `purl`",
            field=f"{prefix}package",
        )
    fingerprint = hashlib.sha256(
        "\0".join((ecosystem, name, version or "")).encode(errors="surrogatepass")
    ).hexdigest()[:16]
    after = _read_token(query.page_token, fingerprint, f"{prefix}page_token") if query.page_token else None
    package = Package(name=name, version=version or "", ecosystem=ecosystem, purl=query.purl)
    return _Resolved(package=package, any_version=version is None, fingerprint=fingerprint, after=after)


_TOKEN = msgspec.json.Decoder(tuple[str, str])


def _token(last_id: str, fingerprint: str) -> str:
    """The next page's token: the last id of this page and the query's fingerprint, base64url without padding."""
    return base64.urlsafe_b64encode(msgspec.json.encode((last_id, fingerprint))).rstrip(b"=").decode()


def _read_token(token: str, fingerprint: str, field: str) -> str:
    """The last id a token carries; `InvalidOsvQuery` unless this server issued it for this query."""
    refused = InvalidOsvQuery(
        "the page_token is not one this server issued for this query: send back `next_page_token` unchanged, "
        "with the query it came with",
        field=field,
    )
    if len(token) > MAX_PAGE_TOKEN_LENGTH:
        raise refused
    try:
        last_id, issued_for = _TOKEN.decode(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise refused from exc
    if issued_for != fingerprint:
        raise refused
    return last_id
