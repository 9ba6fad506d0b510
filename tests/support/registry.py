"""A real OCI registry (Debian's `docker-registry`) for integration tests, a token server, and an image pusher.

`registry_fixture` runs an open registry; `token_registry_fixture` runs one that demands bearer tokens
from a small token server in a thread, which signs JWTs (RS256, x5c header) with an RSA key made by the
`openssl` command line tool. Both listen on 127.0.0.1 only and stop when the session ends.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from secapi.adapters.registry.auth import parse_challenges

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
TOKEN_SERVICE = "secapi-test-registry"
TOKEN_ISSUER = "secapi-test-issuer"
_apt_tried = False


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def registry_binary() -> str:
    """Path of `docker-registry`; installs the Debian package once if missing and running as root."""
    global _apt_tried
    found = shutil.which("docker-registry") or shutil.which("docker-registry", path="/usr/bin:/usr/sbin")
    if found is None and not _apt_tried and os.geteuid() == 0 and shutil.which("apt-get"):
        _apt_tried = True
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            "apt-get update -qq && apt-get install -y -qq docker-registry",
            shell=True,
            env=env,
            capture_output=True,
            timeout=600,
            check=False,
        )
        found = shutil.which("docker-registry", path="/usr/bin:/usr/sbin")
    if found is None:
        _unavailable("no docker-registry binary for registry integration tests: apt-get install docker-registry")
    assert found is not None
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunningRegistry:
    """A registry process: `host_port` is what goes in image references and the allowlist."""

    host_port: str
    url: str
    token_server: TokenServer | None = None


@contextmanager
def run_registry(workdir: Path, auth: Mapping[str, object] | None = None) -> Iterator[RunningRegistry]:
    """Start `docker-registry serve` on a free port with filesystem storage in `workdir`; stop it after."""
    binary = registry_binary()
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "storage")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
    }
    if auth is not None:
        config["auth"] = auth
    config_path = workdir / "config.yml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    log_path = workdir / "registry.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([binary, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
        yield RunningRegistry(host_port=f"127.0.0.1:{port}", url=url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/v2/", timeout=1).status_code in (200, 401):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"docker-registry did not answer within 20 s: {log_path.read_text()[-2000:]}")


class TokenServer:
    """Issues registry JWTs to one user; anonymous callers get a token that grants nothing."""

    def __init__(self, workdir: Path, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.key, self.cert = workdir / "token.key", workdir / "token.pem"
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(self.key),
            "-out",
            str(self.cert),
            "-days",
            "2",
            "-subj",
            "/CN=secapi-test-token",
        )
        der = _openssl("x509", "-in", str(self.cert), "-outform", "DER")
        self._x5c = base64.b64encode(der).decode()
        self.requests: list[dict[str, object]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.realm = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def issue(self, subject: str, access: list[dict[str, object]]) -> str:
        """A signed JWT in the format `docker-registry` verifies (RS256, certificate in x5c)."""
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": subject,
            "aud": TOKEN_SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = _openssl("dgst", "-sha256", "-sign", str(self.key), stdin=signing_input.encode())
        return f"{signing_input}.{_b64url(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                authorization = self.headers.get("Authorization", "")
                user = None
                if authorization.startswith("Basic "):
                    name, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
                    if (name, secret) != (server.username, server.password):
                        server.requests.append({"scope": query.get("scope"), "user": name, "refused": True})
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = name
                server.requests.append({"scope": query.get("scope"), "user": user, "refused": False})
                access = []
                for scope in query.get("scope", []) if user else []:
                    kind, _, rest = scope.partition(":")
                    name, _, actions = rest.rpartition(":")
                    access.append({"type": kind, "name": name, "actions": actions.split(",")})
                body = json.dumps({"token": server.issue(user or "anonymous", access), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    if shutil.which("openssl") is None:
        _unavailable("the openssl command is needed for the token-auth registry: apt-get install openssl")
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True, timeout=60).stdout


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="session", name="registry")
def registry_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """An open registry on 127.0.0.1 for the whole session."""
    with run_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="session", name="token_registry")
def token_registry_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A registry that accepts only bearer tokens from `TokenServer` (user `alice`, password `s3cret`)."""
    workdir = tmp_path_factory.mktemp("token-registry")
    tokens = TokenServer(workdir, "alice", "s3cret")
    tokens.start()
    auth = {
        "token": {
            "realm": tokens.realm,
            "service": TOKEN_SERVICE,
            "issuer": TOKEN_ISSUER,
            "rootcertbundle": str(tokens.cert),
        }
    }
    try:
        with run_registry(workdir, auth) as running:
            yield RunningRegistry(host_port=running.host_port, url=running.url, token_server=tokens)
    finally:
        tokens.stop()


# --- building and pushing images ---------------------------------------------------------------


def digest_of(data: bytes) -> str:
    """`sha256:<hex>`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_layer(files: Mapping[str, bytes]) -> tuple[bytes, str]:
    """A gzipped tar layer holding `files`, and its diff_id (digest of the uncompressed tar)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(content), 1_700_000_000
            archive.addfile(info, io.BytesIO(content))
    tar = raw.getvalue()
    return gzip.compress(tar, mtime=0), digest_of(tar)


@dataclass
class PushedImage:
    """What was pushed: the digest the tag names, and per platform its manifest digest and layer blobs."""

    digest: str
    manifests: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)


def image_blobs(platform: str, files: Mapping[str, bytes]) -> tuple[bytes, bytes, list[bytes]]:
    """(manifest, config, layers) of a one-layer OCI image for `platform` (`os/arch[/variant]`)."""
    os_name, arch, *variant = platform.split("/")
    layer, diff_id = build_layer(files)
    config_doc: dict[str, object] = {
        "os": os_name,
        "architecture": arch,
        "created": "2026-01-01T00:00:00Z",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    }
    if variant:
        config_doc["variant"] = variant[0]
    config = json.dumps(config_doc).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": digest_of(layer), "size": len(layer)}],
        }
    ).encode()
    return manifest, config, [layer]


def push_image(
    registry: RunningRegistry,
    repository: str,
    tag: str,
    platforms: list[str],
    credentials: tuple[str, str] | None = None,
) -> PushedImage:
    """Push one image (one platform) or a multi-platform index (several) with `tag`."""
    with httpx.Client(base_url=registry.url, timeout=10, auth=_TokenAuth(credentials)) as client:
        pushed = PushedImage(digest="")
        descriptors = []
        for platform in platforms:
            manifest, config, layers = image_blobs(platform, {"etc/platform": platform.encode()})
            for blob in (config, *layers):
                _push_blob(client, repository, blob)
                pushed.blobs[digest_of(blob)] = blob
            _put_manifest(client, repository, digest_of(manifest), manifest, OCI_MANIFEST)
            pushed.manifests[platform] = digest_of(manifest)
            os_name, arch, *variant = platform.split("/")
            spec = {"os": os_name, "architecture": arch, **({"variant": variant[0]} if variant else {})}
            descriptors.append(
                {"mediaType": OCI_MANIFEST, "digest": digest_of(manifest), "size": len(manifest), "platform": spec}
            )
            top, media_type = manifest, OCI_MANIFEST
        if len(platforms) > 1:
            top = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}).encode()
            media_type = OCI_INDEX
        _put_manifest(client, repository, tag, top, media_type)
        pushed.digest = digest_of(top)
        return pushed


def _push_blob(client: httpx.Client, repository: str, blob: bytes) -> None:
    started = client.post(f"/v2/{repository}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = httpx.URL(started.headers["location"])
    done = client.put(
        location.copy_merge_params({"digest": digest_of(blob)}),
        content=blob,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 201, done.text


def _put_manifest(client: httpx.Client, repository: str, reference: str, body: bytes, media_type: str) -> None:
    response = client.put(f"/v2/{repository}/manifests/{reference}", content=body, headers={"Content-Type": media_type})
    assert response.status_code == 201, response.text


class _TokenAuth(httpx.Auth):
    """Answers a registry's bearer challenge with a token for `credentials` (used only for pushing)."""

    def __init__(self, credentials: tuple[str, str] | None) -> None:
        self._credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        response = yield request
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        if response.status_code != 401 or not challenges or self._credentials is None:
            return
        params = dict(challenges[0].params)
        token_response = httpx.get(params.pop("realm"), params=params, auth=self._credentials, timeout=10)
        request.headers["Authorization"] = f"Bearer {token_response.json()['token']}"
        yield request
