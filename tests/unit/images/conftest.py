"""A scripted in-memory registry behind `httpx.MockTransport`, and a client wired to it (no network)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from secapi.adapters.registry import HttpRegistryClient
from secapi.adapters.registry.auth import basic_header

from support.registry import OCI_INDEX, OCI_MANIFEST, digest_of, image_blobs

PUBLIC_HOSTS = {
    "registry.example": ["93.184.216.34"],
    "auth.example": ["93.184.216.35"],
    "cdn.example": ["93.184.216.36"],
    "registry-1.docker.io": ["93.184.216.37"],
    "internal.example": ["10.0.0.5"],
    "169.254.169.254": ["169.254.169.254"],
}
_MANIFEST_PATH = re.compile(r"/v2/(?P<repo>.+)/manifests/(?P<ref>[^/]+)")
_BLOB_PATH = re.compile(r"/v2/(?P<repo>.+)/blobs/(?P<digest>[^/]+)")

Script = Callable[[httpx.Request], httpx.Response | None]
"""Consulted before normal routing: return a response to serve it, None to fall through, or raise."""


@dataclass
class FakeRegistry:
    """An OCI registry in memory: manifests and blobs per repository, optional token auth, scripted faults."""

    host: str = "registry.example"
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    scripts: list[Script] = field(default_factory=list)
    require_token: str | None = None
    """When set, registry requests need `Authorization: Bearer <this>`; the token service hands it out."""
    token_credentials: tuple[str, str] | None = None
    token_requests: list[httpx.Request] = field(default_factory=list)
    blob_redirect: str | None = None
    """When set, blob GETs answer 307 to `<blob_redirect>/<digest>`."""

    def add_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        digest = digest_of(body)
        self.manifests[(repo, ref)] = (body, media_type)
        self.manifests[(repo, digest)] = (body, media_type)
        return digest

    def add_image(self, repo: str, tag: str, platforms: list[str]) -> dict[str, str]:
        """Push like a client would; returns {"top": digest the tag names, <platform>: manifest digest}."""
        digests: dict[str, str] = {}
        entries = []
        for platform in platforms:
            manifest, config, layers = image_blobs(platform, {"etc/platform": platform.encode()})
            for blob in (config, *layers):
                self.blobs[(repo, digest_of(blob))] = blob
            digests[platform] = self.add_manifest(repo, digest_of(manifest), manifest, OCI_MANIFEST)
            os_name, arch, *variant = platform.split("/")
            spec = {"os": os_name, "architecture": arch, **({"variant": variant[0]} if variant else {})}
            entries.append(
                {"mediaType": OCI_MANIFEST, "digest": digests[platform], "size": len(manifest), "platform": spec}
            )
            top, media_type = manifest, OCI_MANIFEST
        if len(platforms) > 1:
            top, media_type = (
                json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode(),
                OCI_INDEX,
            )
        digests["top"] = self.add_manifest(repo, tag, top, media_type)
        return digests

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for script in list(self.scripts):
            response = script(request)
            if response is not None:
                return response
        if request.url.host == "auth.example":
            return self._token(request)
        if request.url.host == "cdn.example":
            return self._blob_response(request.url.path.rsplit("/", 1)[-1], None)
        if self.require_token and request.headers.get("authorization") != f"Bearer {self.require_token}":
            challenge = 'Bearer realm="https://auth.example/token",service="fake",scope="repository:x:pull"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if match := _MANIFEST_PATH.fullmatch(request.url.path):
            found = self.manifests.get((match["repo"], match["ref"]))
            if found is None:
                return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            body, media_type = found
            headers = {"Content-Type": media_type, "Docker-Content-Digest": digest_of(body)}
            return httpx.Response(200, headers=headers, content=b"" if request.method == "HEAD" else body)
        if match := _BLOB_PATH.fullmatch(request.url.path):
            if self.blob_redirect and request.method == "GET":
                return httpx.Response(307, headers={"Location": f"{self.blob_redirect}/{match['digest']}"})
            return self._blob_response(match["digest"], match["repo"])
        return _error(404, "NAME_UNKNOWN", "no such path")

    def _blob_response(self, digest: str, repo: str | None) -> httpx.Response:
        for (blob_repo, blob_digest), blob in self.blobs.items():
            if blob_digest == digest and (repo is None or blob_repo == repo):
                return httpx.Response(200, headers={"Content-Type": "application/octet-stream"}, content=blob)
        return _error(404, "BLOB_UNKNOWN", "blob unknown")

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(request)
        if self.token_credentials is not None:
            expected = basic_header(*self.token_credentials)
            if request.headers.get("authorization") != expected:
                return httpx.Response(401)
        return httpx.Response(200, json={"token": self.require_token, "expires_in": 300})


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": message}]})


async def fake_resolver(host: str, port: int) -> list[str]:
    """Public documentation-range answers for the fake hosts; loopback/private literals resolve to themselves."""
    return PUBLIC_HOSTS.get(host, [host])


@dataclass
class Sleeps:
    """Records requested sleeps instead of sleeping."""

    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake_registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(fake_registry: FakeRegistry, sleeps: Sleeps) -> Callable[..., HttpRegistryClient]:
    def make(**options: object) -> HttpRegistryClient:
        return HttpRegistryClient(
            transport=httpx.MockTransport(fake_registry.handler),
            resolver=fake_resolver,
            sleep=sleeps,
            **options,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture
async def client(make_client: Callable[..., HttpRegistryClient]) -> AsyncIterator[HttpRegistryClient]:
    async with make_client() as registry_client:
        yield registry_client
