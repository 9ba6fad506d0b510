"""Pieces of the registry protocol: Retry-After, backoff, auth challenges, tokens, manifest decoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from secapi.adapters.registry.auth import (
    Challenge,
    TokenCache,
    parse_challenges,
    parse_token_response,
    preferred_challenge,
)
from secapi.adapters.registry.manifests import (
    MAX_INDEX_DEPTH,
    ImageIndex,
    ImageManifest,
    descend,
    parse_manifest,
    select_platform,
)
from secapi.adapters.registry.retry import backoff_delay, parse_retry_after
from secapi.domain.images import ImageRejected, RegistryAuthError, parse_platform

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # in the past: retry now
        (None, None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    assert backoff_delay(0, 0.5, 30.0, rand=lambda: 0.0) == 0.25
    assert backoff_delay(0, 0.5, 30.0, rand=lambda: 1.0) == 0.5
    assert backoff_delay(3, 0.5, 30.0, rand=lambda: 1.0) == 4.0
    assert backoff_delay(20, 0.5, 30.0, rand=lambda: 1.0) == 30.0


def test_a_docker_hub_bearer_challenge_is_parsed() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'
    )
    [challenge] = parse_challenges([header])
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.docker.io/token"
    assert challenge.params["service"] == "registry.docker.io"
    assert challenge.params["scope"] == "repository:library/nginx:pull"


def test_scopes_with_commas_escapes_and_several_challenges_in_one_header() -> None:
    header = (
        'Basic realm="Registry \\"R\\"", '
        'Bearer realm="https://a/t",scope="repository:x:pull,push" , error=insufficient_scope'
    )
    basic, bearer = parse_challenges([header])
    assert basic == Challenge("basic", {"realm": 'Registry "R"'})
    assert bearer.params == {"realm": "https://a/t", "scope": "repository:x:pull,push", "error": "insufficient_scope"}
    assert preferred_challenge([basic, bearer]) is bearer


def test_unparseable_challenges_yield_what_was_understood() -> None:
    assert parse_challenges(['Bearer realm="x", ===']) == [Challenge("bearer", {"realm": "x"})]
    assert parse_challenges([""]) == []
    assert preferred_challenge(parse_challenges(["Negotiate"])) is None


def test_token_responses() -> None:
    assert parse_token_response(b'{"token": "t", "expires_in": 300}', "r") == ("t", 300)
    assert parse_token_response(b'{"access_token": "a"}', "r") == ("a", 60)
    with pytest.raises(RegistryAuthError, match="without a token"):
        parse_token_response(b"{}", "r")
    with pytest.raises(RegistryAuthError, match="invalid JSON"):
        parse_token_response(b"<html>", "r")


def test_tokens_expire_before_their_lifetime_ends_and_the_cache_is_bounded() -> None:
    cache = TokenCache(max_entries=2)
    cache.put(("reg", "a"), "Bearer a", 300, now=0)
    assert cache.get(("reg", "a"), now=269) == "Bearer a"
    assert cache.get(("reg", "a"), now=271) is None  # 10% margin
    cache.put(("reg", "1"), "x", 300, now=0)
    cache.put(("reg", "2"), "y", 300, now=0)
    cache.put(("reg", "3"), "z", 300, now=0)
    assert cache.get(("reg", "1"), now=1) is None
    assert cache.get(("reg", "3"), now=1) == "z"


def _index(*platforms: dict[str, str]) -> ImageIndex:
    entries = [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{i:064x}",
            "size": 1,
            "platform": p,
        }
        for i, p in enumerate(platforms)
    ]
    parsed = parse_manifest(json.dumps({"schemaVersion": 2, "manifests": entries}).encode(), None, "index")
    assert isinstance(parsed, ImageIndex)
    return parsed


def test_an_exact_variant_beats_a_compatible_one() -> None:
    index = _index({"os": "linux", "architecture": "amd64"}, {"os": "linux", "architecture": "amd64", "variant": "v3"})
    assert select_platform(index, parse_platform("linux/amd64"), "i").digest == f"sha256:{0:064x}"
    assert select_platform(index, parse_platform("linux/amd64/v3"), "i").digest == f"sha256:{1:064x}"


def test_descending_through_indexes_is_bounded_and_follows_only_manifests_or_indexes() -> None:
    index = _index({"os": "linux", "architecture": "amd64"})
    for depth in range(1, MAX_INDEX_DEPTH + 1):
        assert descend(index, parse_platform("linux/amd64"), depth, "i").digest == f"sha256:{0:064x}"
    with pytest.raises(ImageRejected, match=f"nests image indexes more than {MAX_INDEX_DEPTH} deep"):
        descend(index, parse_platform("linux/amd64"), MAX_INDEX_DEPTH + 1, "i")
    odd = parse_manifest(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "text/plain",
                        "digest": f"sha256:{0:064x}",
                        "size": 1,
                        "platform": {"os": "linux", "architecture": "amd64"},
                    }
                ],
            }
        ).encode(),
        None,
        "index",
    )
    assert isinstance(odd, ImageIndex)
    with pytest.raises(ImageRejected, match="unsupported media type 'text/plain'"):
        descend(odd, parse_platform("linux/amd64"), 1, "i")


def test_attestation_entries_are_neither_chosen_nor_listed() -> None:
    index = _index({"os": "unknown", "architecture": "unknown"}, {"os": "linux", "architecture": "arm64"})
    with pytest.raises(ImageRejected, match=r"available platforms: linux/arm64$"):
        select_platform(index, parse_platform("linux/amd64"), "i")


def test_a_manifest_without_media_type_is_recognised_by_shape() -> None:
    body = {"schemaVersion": 2, "config": {"digest": "sha256:" + "a" * 64, "size": 2}, "layers": []}
    assert isinstance(parse_manifest(json.dumps(body).encode(), "application/json", "m"), ImageManifest)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not a valid image manifest"),
        (b'{"schemaVersion": 3}', "unsupported schemaVersion 3"),
        (b'{"schemaVersion": 2, "mediaType": "application/vnd.example+json"}', "unsupported media type"),
        (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}', "missing its config"),
        (b'{"schemaVersion": 2, "manifests": [{"digest": "sha256:../../x", "size": 1}]}', "only sha256"),
    ],
)
def test_malformed_manifests_are_rejected(body: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected, match=reason):
        parse_manifest(body, None, "m")
