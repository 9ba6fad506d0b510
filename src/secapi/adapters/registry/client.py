"""`HttpRegistryClient`: the `ImageSource` that speaks the OCI Distribution Spec to a registry."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType

import httpx

from secapi.adapters.outbound.address_policy import AddressPolicy, Resolver
from secapi.adapters.outbound.transport import PinnedTransport
from secapi.adapters.registry import media_types as mt
from secapi.adapters.registry.manifests import (
    SHA256_DIGEST,
    ImageIndex,
    ImageManifest,
    build_resolved,
    check_digest_format,
    descend,
    parse_config,
    parse_manifest,
    sha256_digest,
    verify_digest,
)
from secapi.adapters.registry.session import RegistrySession
from secapi.domain.images import (
    ImageReference,
    ImageRejected,
    ImageSource,
    LayerDescriptor,
    Platform,
    ResolvedImage,
)
from secapi.domain.services.image_scans import RegistryGate

MIB = 1024 * 1024
_WRITE_BATCH = MIB


class HttpRegistryClient(ImageSource, RegistryGate):
    """Resolves images and downloads layers from OCI registries, within size, address and time limits."""

    def __init__(
        self,
        *,
        allowlist: frozenset[str] = frozenset(),
        insecure: frozenset[str] = frozenset(),
        credentials: Mapping[str, tuple[str, str]] | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        max_manifest_bytes: int = 4 * MIB,
        max_layer_bytes: int = 2048 * MIB,
        max_layers: int = 200,
        retries: int = 3,
        backoff_base: float = 0.5,
        max_retry_wait: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        policy = AddressPolicy(allowlist, resolver)
        self._policy = policy
        self._client = httpx.AsyncClient(
            transport=transport or PinnedTransport(policy),
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,  # redirects are followed by hand, each hop checked (RegistrySession._follow)
            trust_env=False,  # an HTTP(S)_PROXY from the environment would bypass the address policy
            headers={"User-Agent": "secapi-registry-client/1", "Accept-Encoding": "identity"},
        )
        self._session = RegistrySession(
            client=self._client,
            policy=policy,
            insecure=insecure,
            credentials=credentials or {},
            retries=retries,
            backoff_base=backoff_base,
            max_retry_wait=max_retry_wait,
            sleep=sleep,
        )
        self._max_manifest_bytes = max_manifest_bytes
        self._max_layer_bytes = max_layer_bytes
        self._max_layers = max_layers

    async def __aenter__(self) -> HttpRegistryClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    async def check_registry(self, image: ImageReference) -> None:
        """Resolve the registry's host through the address policy, fetching nothing (`RegistryGate`).

        Raises `RegistryNotAllowed` for an internal address that is not allow-listed and
        `RegistryUnavailable` for a host that does not resolve: what the first fetch would meet.
        """
        url = httpx.URL(self._session.base_url(image.registry))
        port = url.port or (443 if url.scheme == "https" else 80)
        await self._policy.addresses(url.host, port)

    async def resolve_digest(self, image: ImageReference, platform: Platform) -> str:
        """The digest the reference names now, from a HEAD request (free of Docker Hub's pull limit)."""
        if image.digest is not None:
            return image.digest
        digest = await self._head_digest(image)
        if digest is None:  # a registry that omits Docker-Content-Digest: hash the manifest instead
            _, digest, _ = await self._get_manifest(image, self._reference_part(image), expected=None)
        return digest

    async def resolve(self, image: ImageReference, platform: Platform) -> ResolvedImage:
        """Fetch the manifest for `platform` (through an index if there is one) and the image config."""
        what = f"image {image.canonical()}"
        # A tag is turned into a digest first, so the bytes fetched next can be verified against it.
        pinned = image.digest or await self._head_digest(image)
        data, top_digest, content_type = await self._get_manifest(
            image, pinned or self._reference_part(image), expected=pinned
        )
        document = parse_manifest(data, content_type, what)
        manifest_digest, depth = top_digest, 0
        while isinstance(document, ImageIndex):
            depth += 1
            entry = descend(document, platform, depth, what)
            if entry.size > self._max_manifest_bytes:
                raise ImageRejected(
                    f"{what} manifest {entry.digest} is {entry.size} bytes; the limit is {self._max_manifest_bytes}"
                )
            data, manifest_digest, content_type = await self._get_manifest(image, entry.digest, expected=entry.digest)
            document = parse_manifest(data, content_type or entry.media_type, f"{what} manifest {entry.digest}")
        config = parse_config(await self._get_config(image, document, what), f"{what} config")
        return build_resolved(
            reference=image,
            top_digest=top_digest,
            manifest_digest=manifest_digest,
            manifest=document,
            config=config,
            wanted=platform,
            max_layers=self._max_layers,
            max_layer_bytes=self._max_layer_bytes,
            what=what,
        )

    async def download_layer(self, image: ResolvedImage, layer: LayerDescriptor, directory: Path) -> Path:
        """Stream the blob to `directory/<hex>.blob`, hashing as it arrives; a mismatch leaves no file."""
        reference = image.reference
        hex_digest = check_digest_format(layer.digest, "layer").split(":", 1)[1]
        limit = min(layer.size, self._max_layer_bytes)
        if layer.size > self._max_layer_bytes:
            raise ImageRejected(f"layer {layer.digest} is {layer.size} bytes; the limit is {self._max_layer_bytes}")
        target = directory / f"{hex_digest}.blob"
        partial = directory / f"{hex_digest}.partial"
        what = f"layer {layer.digest} of {reference.name()}"

        async def attempt() -> str:
            async with self._session.open(
                "GET",
                self._blob_url(reference, layer.digest),
                registry=reference.registry,
                repository=reference.repository,
                headers={},
                not_found=f"{what} not found in the registry",
            ) as response:
                return await _stream_to_file(response, partial, limit, what)

        try:
            actual = await self._session.retrying(f"downloading {what}", attempt)
            if actual != layer.digest:
                raise ImageRejected(f"{what} does not match its digest: got {actual}")
            await asyncio.to_thread(partial.replace, target)
        except BaseException:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
            raise
        return target

    async def _head_digest(self, image: ImageReference) -> str | None:
        async def attempt() -> str | None:
            async with self._open_manifest("HEAD", image, self._reference_part(image)) as response:
                header = response.headers.get("docker-content-digest", "")
            return header if SHA256_DIGEST.fullmatch(header) else None  # anything else is hashed from the GET

        return await self._session.retrying(f"checking {image.canonical()}", attempt)

    async def _get_manifest(self, image: ImageReference, ref: str, *, expected: str | None) -> tuple[bytes, str, str]:
        """(bytes, digest, content type); bytes verified against `expected` or the registry's digest header."""
        what = f"manifest {ref} of {image.name()}"

        async def attempt() -> tuple[bytes, str, str]:
            async with self._open_manifest("GET", image, ref) as response:
                data = await self._session.read_limited(response, self._max_manifest_bytes, what)
                return data, response.headers.get("docker-content-digest", ""), response.headers.get("content-type", "")

        data, header_digest, content_type = await self._session.retrying(f"fetching {what}", attempt)
        if expected is not None:
            verify_digest(data, expected, what)
            return data, expected, content_type
        digest = sha256_digest(data)
        if header_digest.startswith("sha256:") and header_digest != digest:
            raise ImageRejected(f"{what} does not match the registry's digest {header_digest} (got {digest})")
        return data, digest, content_type

    async def _get_config(self, image: ImageReference, manifest: ImageManifest, what: str) -> bytes:
        descriptor = manifest.config
        if descriptor.size > self._max_manifest_bytes:
            raise ImageRejected(f"{what} config is {descriptor.size} bytes; the limit is {self._max_manifest_bytes}")
        blob = f"config {descriptor.digest} of {image.name()}"

        async def attempt() -> bytes:
            async with self._session.open(
                "GET",
                self._blob_url(image, descriptor.digest),
                registry=image.registry,
                repository=image.repository,
                headers={},
                not_found=f"{blob} not found in the registry",
            ) as response:
                return await self._session.read_limited(response, self._max_manifest_bytes, blob)

        data = await self._session.retrying(f"fetching {blob}", attempt)
        verify_digest(data, descriptor.digest, blob)
        return data

    def _open_manifest(
        self, method: str, image: ImageReference, ref: str
    ) -> AbstractAsyncContextManager[httpx.Response]:
        return self._session.open(
            method,
            f"{self._session.base_url(image.registry)}/v2/{image.repository}/manifests/{ref}",
            registry=image.registry,
            repository=image.repository,
            headers={"Accept": mt.MANIFEST_ACCEPT},
            not_found=f"image {image.canonical()} not found: the registry has no such repository, tag or digest",
        )

    def _blob_url(self, image: ImageReference, digest: str) -> str:
        return f"{self._session.base_url(image.registry)}/v2/{image.repository}/blobs/{digest}"

    @staticmethod
    def _reference_part(image: ImageReference) -> str:
        return image.digest or image.tag or "latest"


async def _stream_to_file(response: httpx.Response, path: Path, limit: int, what: str) -> str:
    """Write the body to `path` (truncating), enforcing `limit`; return the `sha256:` digest of what was written.

    Each batch is hashed and written in a worker thread while the event loop reads the next one (hashlib and
    file writes release the GIL): hashing on the loop cost ~0.6 s per GiB, serialised with the network reads.
    At most one batch is in flight, so memory stays at two batches.
    """
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ImageRejected(f"{what} is {declared} bytes; the limit is {limit}")
    hasher, written, pending = hashlib.sha256(), 0, bytearray()
    handle = await asyncio.to_thread(path.open, "wb")

    def hash_and_write(batch: bytearray) -> None:
        hasher.update(batch)
        handle.write(batch)

    in_flight: asyncio.Future[None] | None = None
    try:
        async for chunk in response.aiter_bytes():
            written += len(chunk)
            if written > limit:
                raise ImageRejected(f"{what} is larger than its declared size or the limit ({limit} bytes)")
            pending += chunk
            if len(pending) >= _WRITE_BATCH:
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.ensure_future(asyncio.to_thread(hash_and_write, pending))
                pending = bytearray()
        if in_flight is not None:
            await in_flight
            in_flight = None
        if pending:
            await asyncio.to_thread(hash_and_write, pending)
    finally:
        if in_flight is not None:  # an error while a batch was being written: let it finish before closing
            await asyncio.gather(in_flight, return_exceptions=True)
        await asyncio.to_thread(handle.close)
    return "sha256:" + hasher.hexdigest()
