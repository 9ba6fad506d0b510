"""HttpRegistryClient against a real registry (Debian's docker-registry), open and with token auth."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from secapi.adapters.registry import HttpRegistryClient
from secapi.domain.images import (
    DEFAULT_PLATFORM,
    ImageNotFound,
    ImageRejected,
    RegistryAuthError,
    RegistryNotAllowed,
    RegistryUnavailable,
    parse_image_reference,
    parse_platform,
)

from support.registry import (  # noqa: F401 - fixtures used by name
    RunningRegistry,
    digest_of,
    push_image,
    registry_fixture,
    token_registry_fixture,
)

pytestmark = pytest.mark.integration

LOOPBACK = frozenset({"127.0.0.1"})  # the test registries and token server listen on loopback ports


def _client(registry: RunningRegistry, **options: object) -> HttpRegistryClient:
    options.setdefault("allowlist", LOOPBACK)
    return HttpRegistryClient(insecure=frozenset({registry.host_port}), connect_timeout=2, read_timeout=5, **options)  # type: ignore[arg-type]


async def test_a_pushed_image_resolves_and_its_layer_downloads(registry: RunningRegistry, tmp_path: Path) -> None:
    pushed = push_image(registry, "it/single", "v1", ["linux/amd64"])
    ref = parse_image_reference(f"{registry.host_port}/it/single:v1")

    async with _client(registry) as client:
        resolved = await client.resolve(ref, DEFAULT_PLATFORM)
        path = await client.download_layer(resolved, resolved.layers[0], tmp_path)
        by_digest = await client.resolve(ref.with_digest(pushed.digest), DEFAULT_PLATFORM)

    assert resolved.manifest_digest == pushed.digest
    assert resolved.reference.canonical() == f"{registry.host_port}/it/single:v1@{pushed.digest}"
    assert path.read_bytes() == pushed.blobs[resolved.layers[0].digest]
    assert by_digest.manifest_digest == pushed.digest


async def test_a_multi_platform_index_serves_each_platform(registry: RunningRegistry) -> None:
    pushed = push_image(registry, "it/multi", "v1", ["linux/amd64", "linux/arm64"])
    ref = parse_image_reference(f"{registry.host_port}/it/multi:v1")

    async with _client(registry) as client:
        digest = await client.resolve_digest(ref, DEFAULT_PLATFORM)
        amd64 = await client.resolve(ref, DEFAULT_PLATFORM)
        arm64 = await client.resolve(ref, parse_platform("linux/arm64/v8"))
        with pytest.raises(ImageRejected, match="available platforms: linux/amd64, linux/arm64"):
            await client.resolve(ref, parse_platform("linux/ppc64le"))

    assert digest == pushed.digest == amd64.reference.digest
    assert amd64.manifest_digest == pushed.manifests["linux/amd64"]
    assert (arm64.manifest_digest, arm64.architecture) == (pushed.manifests["linux/arm64"], "arm64")


async def test_missing_tags_and_repositories_are_image_not_found(registry: RunningRegistry) -> None:
    push_image(registry, "it/present", "v1", ["linux/amd64"])
    async with _client(registry) as client:
        with pytest.raises(ImageNotFound, match="it/present:nope not found"):
            await client.resolve(parse_image_reference(f"{registry.host_port}/it/present:nope"), DEFAULT_PLATFORM)
        with pytest.raises(ImageNotFound):
            await client.resolve(parse_image_reference(f"{registry.host_port}/it/absent"), DEFAULT_PLATFORM)
        unknown = parse_image_reference(f"{registry.host_port}/it/present@{digest_of(b'nothing')}")
        with pytest.raises(ImageNotFound):
            await client.resolve(unknown, DEFAULT_PLATFORM)


async def test_a_loopback_registry_needs_allow_listing(registry: RunningRegistry) -> None:
    async with _client(registry, allowlist=frozenset()) as client:
        with pytest.raises(RegistryNotAllowed, match=f"add {registry.host_port} to SECAPI_REGISTRY_ALLOWLIST"):
            await client.resolve(parse_image_reference(f"{registry.host_port}/it/any"), DEFAULT_PLATFORM)


async def test_token_auth_with_credentials_fetches_one_token(token_registry: RunningRegistry, tmp_path: Path) -> None:
    tokens = token_registry.token_server
    assert tokens is not None
    pushed = push_image(token_registry, "private/app", "v1", ["linux/amd64"], credentials=("alice", "s3cret"))
    ref = parse_image_reference(f"{token_registry.host_port}/private/app:v1")
    before = len(tokens.requests)

    async with _client(token_registry, credentials={token_registry.host_port: ("alice", "s3cret")}) as client:
        resolved = await client.resolve(ref, DEFAULT_PLATFORM)
        await client.download_layer(resolved, resolved.layers[0], tmp_path)

    assert resolved.manifest_digest == pushed.digest
    issued = tokens.requests[before:]
    assert issued == [{"scope": ["repository:private/app:pull"], "user": "alice", "refused": False}]


async def test_token_auth_without_credentials_is_refused(token_registry: RunningRegistry) -> None:
    push_image(token_registry, "private/other", "v1", ["linux/amd64"], credentials=("alice", "s3cret"))
    ref = parse_image_reference(f"{token_registry.host_port}/private/other:v1")

    async with _client(token_registry) as client:
        with pytest.raises(RegistryAuthError, match="needs credentials"):
            await client.resolve(ref, DEFAULT_PLATFORM)
    async with _client(token_registry, credentials={token_registry.host_port: ("alice", "wrong")}) as client:
        with pytest.raises(RegistryAuthError, match="refused the credentials"):
            await client.resolve(ref, DEFAULT_PLATFORM)


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """A TCP server on loopback that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


async def test_a_registry_that_never_answers_is_unavailable_after_the_read_timeout(hanging_server: str) -> None:
    client = HttpRegistryClient(
        allowlist=LOOPBACK, insecure=frozenset({hanging_server}), connect_timeout=1, read_timeout=0.5, retries=1
    )
    started = time.monotonic()
    async with client:
        with pytest.raises(RegistryUnavailable, match="did not answer in time"):
            await client.resolve(parse_image_reference(f"{hanging_server}/it/hangs"), DEFAULT_PLATFORM)
    assert time.monotonic() - started < 5
