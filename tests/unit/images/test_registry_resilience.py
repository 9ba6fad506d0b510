"""HttpRegistryClient when the registry misbehaves: retries, auth challenges, redirects and address policy."""

from __future__ import annotations

import httpx
import pytest

from secapi.adapters.registry import HttpRegistryClient
from secapi.adapters.registry.auth import basic_header
from secapi.domain.images import (
    ImageRejected,
    RegistryAuthError,
    RegistryNotAllowed,
    RegistryUnavailable,
    parse_image_reference,
    parse_platform,
)

REF = parse_image_reference("registry.example/team/app:1.0")
AMD64 = parse_platform("linux/amd64")


def _fail_first(count: int, make: callable) -> callable:  # type: ignore[valid-type]
    remaining = [count]

    def script(request: httpx.Request) -> httpx.Response | None:
        if remaining[0] > 0:
            remaining[0] -= 1
            return make(request)
        return None

    return script


async def test_429_waits_as_long_as_retry_after_says(client: HttpRegistryClient, fake_registry, sleeps) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    fake_registry.scripts.append(_fail_first(1, lambda r: httpx.Response(429, headers={"Retry-After": "7"})))

    await client.resolve(REF, AMD64)

    assert sleeps.calls == [7.0]


async def test_5xx_is_retried_with_growing_backoff_then_succeeds(
    client: HttpRegistryClient, fake_registry, sleeps
) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    fake_registry.scripts.append(_fail_first(3, lambda r: httpx.Response(503)))

    resolved = await client.resolve(REF, AMD64)

    assert resolved.os == "linux"
    assert len(sleeps.calls) == 3
    assert 0.25 <= sleeps.calls[0] <= 0.5
    assert 0.5 <= sleeps.calls[1] <= 1.0
    assert 1.0 <= sleeps.calls[2] <= 2.0


async def test_persistent_5xx_gives_registry_unavailable(client: HttpRegistryClient, fake_registry, sleeps) -> None:
    fake_registry.scripts.append(lambda r: httpx.Response(502))

    with pytest.raises(RegistryUnavailable, match=r"answered 502 \(gave up after 4 attempts\)"):
        await client.resolve(REF, AMD64)
    assert len(fake_registry.requests) == 4
    assert len(sleeps.calls) == 3


async def test_a_retry_after_beyond_the_patience_fails_at_once(make_client, fake_registry, sleeps) -> None:
    fake_registry.scripts.append(lambda r: httpx.Response(429, headers={"Retry-After": "3600"}))

    async with make_client(max_retry_wait=60.0) as client:
        with pytest.raises(RegistryUnavailable, match="asks to wait 3600 s"):
            await client.resolve(REF, AMD64)
    assert sleeps.calls == []


async def test_connection_errors_are_retried(client: HttpRegistryClient, fake_registry, sleeps) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    fake_registry.scripts.append(_fail_first(2, refuse))

    await client.resolve(REF, AMD64)
    assert len(sleeps.calls) == 2


async def test_timeouts_end_in_registry_unavailable(make_client, fake_registry) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake_registry.scripts.append(hang)
    async with make_client(retries=1) as client:
        with pytest.raises(RegistryUnavailable, match="did not answer in time"):
            await client.resolve(REF, AMD64)
    assert len(fake_registry.requests) == 2


@pytest.mark.parametrize(("status", "error"), [(400, ImageRejected), (403, RegistryAuthError), (405, ImageRejected)])
async def test_other_4xx_are_not_retried(client: HttpRegistryClient, fake_registry, sleeps, status, error) -> None:
    fake_registry.scripts.append(lambda r: httpx.Response(status, json={"errors": [{"message": "nope"}]}))

    with pytest.raises(error):
        await client.resolve(REF, AMD64)
    assert len(fake_registry.requests) == 1
    assert sleeps.calls == []


async def test_a_layer_download_cut_off_midway_is_retried(client: HttpRegistryClient, fake_registry, tmp_path) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    resolved = await client.resolve(REF, AMD64)

    async def broken():  # type: ignore[no-untyped-def]
        yield b"partial"
        raise httpx.ReadError("connection reset")

    fake_registry.scripts.append(
        _fail_first(1, lambda r: httpx.Response(200, content=broken()) if "/blobs/" in r.url.path else None)
    )

    path = await client.download_layer(resolved, resolved.layers[0], tmp_path)
    assert path.stat().st_size == resolved.layers[0].size


async def test_a_bearer_challenge_is_answered_with_a_token_that_is_reused(make_client, fake_registry, tmp_path) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    fake_registry.require_token = "good-token"
    fake_registry.token_credentials = ("alice", "s3cret")

    async with make_client(credentials={"registry.example": ("alice", "s3cret")}) as client:
        resolved = await client.resolve(REF, AMD64)
        await client.download_layer(resolved, resolved.layers[0], tmp_path)

    assert len(fake_registry.token_requests) == 1
    token_request = fake_registry.token_requests[0]
    assert token_request.url.params["scope"] == "repository:x:pull"  # the challenge's scope wins
    assert token_request.url.params["service"] == "fake"
    assert token_request.headers["authorization"] == basic_header("alice", "s3cret")
    registry_requests = [r for r in fake_registry.requests if r.url.host == "registry.example"]
    assert all(r.headers.get("authorization") == "Bearer good-token" for r in registry_requests[1:])


async def test_refused_token_credentials_are_an_auth_error(make_client, fake_registry) -> None:
    fake_registry.require_token = "good-token"
    fake_registry.token_credentials = ("alice", "s3cret")

    async with make_client(credentials={"registry.example": ("alice", "wrong")}) as client:
        with pytest.raises(RegistryAuthError, match="refused the credentials"):
            await client.resolve(REF, AMD64)


async def test_a_token_the_registry_still_refuses_is_an_auth_error(client: HttpRegistryClient, fake_registry) -> None:
    fake_registry.require_token = "good-token"
    fake_registry.scripts.append(
        lambda r: httpx.Response(200, json={"token": "useless"}) if r.url.host == "auth.example" else None
    )

    with pytest.raises(RegistryAuthError, match="does not exist, or it needs credentials"):
        await client.resolve(REF, AMD64)


async def test_a_basic_challenge_is_answered_with_configured_credentials(make_client, fake_registry) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    expected = basic_header("bob", "pw")
    fake_registry.scripts.append(
        lambda r: (
            httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="registry"'})
            if r.headers.get("authorization") != expected
            else None
        )
    )

    async with make_client(credentials={"registry.example": ("bob", "pw")}) as client:
        await client.resolve(REF, AMD64)

    unauthenticated = [r for r in fake_registry.requests if r.headers.get("authorization") != expected]
    assert len(unauthenticated) == 1  # only the very first; the Basic header is then sent up front


async def test_a_basic_challenge_without_credentials_says_what_to_configure(
    client: HttpRegistryClient, fake_registry
) -> None:
    fake_registry.scripts.append(lambda r: httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="x"'}))

    with pytest.raises(RegistryAuthError, match="SECAPI_REGISTRY_CREDENTIALS"):
        await client.resolve(REF, AMD64)


async def test_a_plain_http_token_realm_is_refused(client: HttpRegistryClient, fake_registry) -> None:
    challenge = 'Bearer realm="http://auth.example/token",service="fake"'
    fake_registry.scripts.append(lambda r: httpx.Response(401, headers={"WWW-Authenticate": challenge}))

    with pytest.raises(RegistryAuthError, match="plain HTTP"):
        await client.resolve(REF, AMD64)


async def test_blob_redirects_are_followed_without_credentials(make_client, fake_registry, tmp_path) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    fake_registry.require_token = "good-token"
    fake_registry.blob_redirect = "https://cdn.example/blobs"

    async with make_client() as client:
        resolved = await client.resolve(REF, AMD64)
        await client.download_layer(resolved, resolved.layers[0], tmp_path)

    cdn = [r for r in fake_registry.requests if r.url.host == "cdn.example"]
    assert len(cdn) == 2  # the config and the layer
    assert all("authorization" not in r.headers for r in cdn)


@pytest.mark.parametrize("target", ["https://internal.example/blob", "https://169.254.169.254/latest/meta-data"])
async def test_a_redirect_to_an_internal_address_is_refused(client: HttpRegistryClient, fake_registry, target) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    fake_registry.blob_redirect = target

    with pytest.raises(RegistryNotAllowed, match="SECAPI_REGISTRY_ALLOWLIST"):
        await client.resolve(REF, AMD64)
    assert not any(r.url.host in ("internal.example", "169.254.169.254") for r in fake_registry.requests)


async def test_a_redirect_from_https_to_plain_http_is_refused(client: HttpRegistryClient, fake_registry) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    fake_registry.blob_redirect = "http://cdn.example/blobs"

    with pytest.raises(ImageRejected, match="from HTTPS to plain HTTP"):
        await client.resolve(REF, AMD64)


async def test_a_registry_on_a_private_address_is_refused(client: HttpRegistryClient, fake_registry) -> None:
    with pytest.raises(RegistryNotAllowed, match=r"internal.example resolves to 10.0.0.5.*internal.example:443"):
        await client.resolve(parse_image_reference("internal.example/team/app"), AMD64)
    assert fake_registry.requests == []


async def test_an_allow_listed_private_registry_is_reached_over_plain_http(make_client, fake_registry) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])

    async with make_client(
        allowlist=frozenset({"internal.example:5000"}), insecure=frozenset({"internal.example:5000"})
    ) as client:
        await client.resolve(parse_image_reference("internal.example:5000/team/app:1.0"), AMD64)

    assert {str(r.url.copy_with(path="/")) for r in fake_registry.requests} == {"http://internal.example:5000/"}


async def test_a_protocol_error_on_our_side_is_not_retried(client: HttpRegistryClient, fake_registry, sleeps) -> None:
    def reject_header(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError("Illegal header value", request=request)  # as h11 does for CR/LF

    fake_registry.scripts.append(reject_header)

    with pytest.raises(RegistryUnavailable, match=r"exchange failed \(LocalProtocolError"):
        await client.resolve(REF, AMD64)
    assert len(fake_registry.requests) == 1
    assert sleeps.calls == []


async def test_an_invalid_redirect_location_is_rejected(client: HttpRegistryClient, fake_registry) -> None:
    fake_registry.add_image("team/app", "1.0", ["linux/amd64"])
    fake_registry.blob_redirect = "https://[::1"

    with pytest.raises(RegistryUnavailable, match="Invalid URL in location header"):
        await client.resolve(REF, AMD64)
