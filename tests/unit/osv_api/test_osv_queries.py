"""The OSV API's use case against the in-memory store: matching, paging by keyset, tokens, refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from secapi.domain.advisories import VulnDbVersion
from secapi.domain.errors import NotFound, VulnDbEmpty
from secapi.domain.osv_records import parse_osv_record
from secapi.domain.services.matching import VulnerabilityMatcher
from secapi.domain.services.osv_queries import (
    MAX_BATCH_QUERIES,
    InvalidOsvQuery,
    OsvQueries,
    OsvQuery,
    UnsupportedOsvQuery,
)

from support.fakes import InMemoryVulnerabilityStore


def record(advisory_id: str, name: str, events: list[dict[str, str]], ecosystem: str = "PyPI") -> dict[str, Any]:
    return {
        "id": advisory_id,
        "modified": "2024-01-02T03:04:05Z",
        "summary": f"{advisory_id} in {name}",
        "affected": [
            {"package": {"ecosystem": ecosystem, "name": name}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
        ],
    }


OLD = [{"introduced": "0"}, {"fixed": "2.0"}]
NEW = [{"introduced": "2.0"}, {"fixed": "3.0"}]
ALL = [{"introduced": "0"}]


async def queries(*records: dict[str, Any], page: int = 1000) -> tuple[OsvQueries, InMemoryVulnerabilityStore]:
    store = InMemoryVulnerabilityStore()
    await store.upsert([parse_osv_record(json.dumps(r).encode()) for r in records])
    ecosystems: dict[str, int] = {}
    for advisory in store.advisories.values():
        for ecosystem in {entry.ecosystem for entry in advisory.affected}:
            ecosystems[ecosystem] = ecosystems.get(ecosystem, 0) + 1
    store.versions.append(VulnDbVersion(version=1, updated_at=None, advisories=len(records), ecosystems=ecosystems))
    return OsvQueries(VulnerabilityMatcher(store), store, store, query_page_size=page, batch_page_size=page), store


async def test_a_version_selects_the_affecting_advisories_and_none_selects_every_one() -> None:
    osv, _ = await queries(record("B-2", "Requests", OLD), record("A-1", "requests", NEW), record("C-3", "other", ALL))
    old = await osv.query(OsvQuery(name="requests", ecosystem="PyPI", version="1.5"))
    assert [r["id"] for r in old.vulns] == ["B-2"]
    assert old.vulns[0] == record("B-2", "Requests", OLD)  # the stored record itself
    every = await osv.query(OsvQuery(purl="pkg:pypi/requests"))
    assert [r["id"] for r in every.vulns] == ["A-1", "B-2"]  # by id, whatever the store's order
    assert every.next_page_token is None


async def test_keyset_pages_cover_every_id_once_and_tokens_are_bound_to_their_query() -> None:
    osv, _ = await queries(*(record(f"V-{n}", "pkg", ALL) for n in (5, 1, 4, 2, 3)), page=2)
    seen: list[str] = []
    token = None
    while True:
        page = await osv.query(OsvQuery(name="pkg", ecosystem="PyPI", version="1.0", page_token=token))
        seen += [r["id"] for r in page.vulns]
        token = page.next_page_token
        if token is None:
            break
    assert seen == ["V-1", "V-2", "V-3", "V-4", "V-5"]
    first = await osv.query(OsvQuery(name="pkg", ecosystem="PyPI", version="1.0"))
    assert first.next_page_token is not None
    with pytest.raises(InvalidOsvQuery) as refused:  # another version: another query
        await osv.query(OsvQuery(name="pkg", ecosystem="PyPI", version="2.0", page_token=first.next_page_token))
    assert refused.value.field == "page_token"
    for forged in ("x" * 600, "!!!", "WyJWLTEiXQ", "bnVsbA"):  # too long, not base64, one element, JSON null
        with pytest.raises(InvalidOsvQuery):
            await osv.query(OsvQuery(name="pkg", ecosystem="PyPI", version="1.0", page_token=forged))


async def test_a_batch_is_one_candidates_query_and_pages_each_query_alone() -> None:
    osv, store = await queries(*(record(f"V-{n}", "pkg", ALL) for n in range(3)), record("W-1", "lib", OLD), page=2)
    pages = await osv.query_batch([
        OsvQuery(name="pkg", ecosystem="PyPI", version="1.0"),
        OsvQuery(name="lib", ecosystem="PyPI", version="1.0"),
        OsvQuery(name="lib", ecosystem="PyPI", version="2.5"),
    ])  # fmt: skip
    assert store.candidate_queries == 1
    assert [[v.id for v in p.vulns] for p in pages] == [["V-0", "V-1"], ["W-1"], []]
    assert pages[0].next_page_token is not None
    assert pages[1].next_page_token is None
    assert pages[1].vulns[0].modified is not None
    assert pages[1].vulns[0].modified.year == 2024
    rest = await osv.query_batch(
        [OsvQuery(name="pkg", ecosystem="PyPI", version="1.0", page_token=pages[0].next_page_token)]
    )
    assert [v.id for v in rest[0].vulns] == ["V-2"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (OsvQuery(commit="abc123"), "queries[0].commit"),
        (OsvQuery(name="pkg"), "queries[0].package.ecosystem"),
        (OsvQuery(version="1.0"), "queries[0].package"),
        (OsvQuery(purl="pkg:pypi/pkg@1.0", version="1.0"), "queries[0].version"),
        (OsvQuery(purl="pkg:pypi/pkg", name="pkg"), "queries[0].package"),
        (OsvQuery(purl="not-a-purl"), "queries[0].package.purl"),
    ],
)
async def test_refused_queries_name_their_field(query: OsvQuery, field: str) -> None:
    osv, store = await queries(record("V-1", "pkg", ALL))
    with pytest.raises(InvalidOsvQuery) as refused:
        await osv.query_batch([query])
    assert refused.value.field == field
    assert store.candidate_queries == 0  # refused before any lookup


async def test_a_commit_query_is_unsupported_and_says_what_to_do_instead() -> None:
    osv, _ = await queries(record("V-1", "pkg", ALL))
    with pytest.raises(UnsupportedOsvQuery, match=r"commit queries are not supported.*query by package"):
        await osv.query(OsvQuery(commit="6879efc2c1596d11a6a6ad296f80063b558d5e0f"))


async def test_too_many_queries_an_empty_database_and_unknown_ids() -> None:
    osv, _ = await queries(record("V-1", "pkg", ALL))
    with pytest.raises(InvalidOsvQuery):
        await osv.query_batch([OsvQuery(name="pkg", ecosystem="PyPI")] * (MAX_BATCH_QUERIES + 1))
    assert (await osv.vulnerability("V-1"))["id"] == "V-1"
    with pytest.raises(NotFound):
        await osv.vulnerability("V-2")
    empty = InMemoryVulnerabilityStore()
    with pytest.raises(VulnDbEmpty):
        await OsvQueries(VulnerabilityMatcher(empty), empty, empty).query(OsvQuery(purl="pkg:pypi/pkg@1.0"))


async def test_a_release_less_distribution_covers_every_release_and_a_release_only_its_own() -> None:
    osv, store = await queries(
        record("DSA-2", "curl", OLD, ecosystem="Debian:11"),
        record("DSA-1", "curl", NEW, ecosystem="Debian:12"),
        record("DSA-3", "curl", ALL, ecosystem="Debian:12"),
        record("ALPINE-1", "curl", ALL, ecosystem="Alpine:v3.18"),
    )
    every = await osv.query_batch(
        [OsvQuery(name="curl", ecosystem="Debian", version="2.5"), OsvQuery(purl="pkg:deb/debian/curl")]
    )
    assert [[v.id for v in page.vulns] for page in every] == [["DSA-1", "DSA-3"], ["DSA-1", "DSA-2", "DSA-3"]]
    assert store.candidate_queries == 1
    one = await osv.query(OsvQuery(name="curl", ecosystem="Debian:11", version="1.0"))
    assert [r["id"] for r in one.vulns] == ["DSA-2"]
