"""Images for the load test, made of this host's real Debian packages, pushed to the loopback registry.

Each image's base layer holds installed Debian 12 packages exactly as `dpkg` left them on this machine: their
files (`dpkg -L`, without docs, man pages and locales), their `/var/lib/dpkg/status` stanzas and os-release. The
application layers hold real Python distributions' `*.dist-info` metadata from this virtualenv. "Popular" tags are
scanned over and over (cache hits after the first); every "new" tag has its own small build layer, so its manifest
digest (what the cache key is made of) was never seen: a cache miss that a worker scans.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.images import Image, Layer, digest_of, layer
from support.registry import RunningRegistry

BASE_PACKAGES = ("base-files", "libc6", "zlib1g", "libzstd1", "liblzma5", "libbz2-1.0")
SSL_PACKAGES = ("libssl3", "openssl")
SKIPPED = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/locale/", "/usr/share/lintian/", "/usr/share/info/")
APP_DISTRIBUTIONS = ("httpx", "msgspec", "redis", "SQLAlchemy", "alembic", "click", "Jinja2", "Werkzeug")
NEW_REPOSITORY = "app/service"


@dataclass(frozen=True)
class LoadImages:
    """References in the registry: popular ones (scanned again and again) and never-scanned new ones."""

    popular: list[str]
    new: list[str]


def dpkg_stanzas(packages: Iterable[str], status: Path = Path("/var/lib/dpkg/status")) -> bytes:
    """The `status` stanzas of `packages` (installed on this host), in the order of the file."""
    wanted = set(packages)
    stanzas = [s for s in status.read_text().split("\n\n") if s.startswith("Package: ")]
    chosen = [s.strip() for s in stanzas if s.split("\n", 1)[0][len("Package: ") :] in wanted]
    missing = wanted - {s.split("\n", 1)[0][len("Package: ") :] for s in chosen}
    if missing:
        raise RuntimeError(f"Debian packages not installed on this host: {', '.join(sorted(missing))}")
    return ("\n\n".join(chosen) + "\n").encode()


def package_files(packages: Iterable[str]) -> dict[str, bytes]:
    """Each package's regular files as installed (paths relative to /), docs and translations left out."""
    files: dict[str, bytes] = {}
    for package in packages:
        listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True).stdout
        for name in listed.splitlines():
            path = Path(name)
            if name.startswith(SKIPPED) or path.is_symlink() or not path.is_file():
                continue
            files[name.lstrip("/")] = path.read_bytes()
    return files


def debian_layer(packages: tuple[str, ...]) -> Layer:
    """A rootfs layer of `packages`: their files, their dpkg status and the host's os-release."""
    files = package_files(packages)
    files["etc/os-release"] = Path("/usr/lib/os-release").read_bytes()
    files["var/lib/dpkg/status"] = dpkg_stanzas(packages)
    return fast_layer(files)


def fast_layer(files: Mapping[str, bytes]) -> Layer:
    """`support.images.layer`, gzip level 1: the libc6 layer is 13 MB and is built on every run."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 1_700_000_000, 0o755 if "/bin/" in name else 0o644
            archive.addfile(info, io.BytesIO(content))
    tar = raw.getvalue()
    return Layer(
        gzip.compress(tar, compresslevel=1, mtime=0), digest_of(tar), "application/vnd.oci.image.layer.v1.tar+gzip"
    )


def python_app_layer() -> Layer:
    """Real `*.dist-info/METADATA` of distributions installed in this virtualenv, under a venv path."""
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    files = {}
    for name in APP_DISTRIBUTIONS:
        for info in site.glob("*.dist-info"):
            if info.name.lower().startswith(name.lower().replace("-", "_") + "-") and (info / "METADATA").is_file():
                files[f"opt/venv/lib/python3.11/site-packages/{info.name}/METADATA"] = (info / "METADATA").read_bytes()
    return layer(files)


def build_layer(n: int) -> Layer:
    """What makes build `n` a new image: a build id and a pinned (vulnerable in the sample) PyPI distribution."""
    version = ("2.2.4", "2.2.2", "2.0.0", "1.1.4")[n % 4]
    metadata = f"Metadata-Version: 2.1\nName: Flask\nVersion: {version}\n".encode()
    return layer(
        {
            "etc/build-id": f"load-test build {n}\n".encode(),
            f"srv/app/lib/python3.11/site-packages/Flask-{version}.dist-info/METADATA": metadata,
        }
    )


class Pusher:
    """Pushes images over one HTTP client, uploading each blob once."""

    def __init__(self, registry: RunningRegistry) -> None:
        self._client = httpx.Client(base_url=registry.url, timeout=60)
        self._pushed: set[tuple[str, str]] = set()

    def close(self) -> None:
        self._client.close()

    def push(self, repository: str, tag: str, image: Image) -> None:
        for blob in (image.config, *(item.blob for item in image.layers)):
            self._blob(repository, blob)
        response = self._client.put(
            f"/v2/{repository}/manifests/{tag}",
            content=image.manifest,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        response.raise_for_status()

    def _blob(self, repository: str, blob: bytes) -> None:
        digest = digest_of(blob)
        if (repository, digest) in self._pushed:
            return
        if self._client.head(f"/v2/{repository}/blobs/{digest}").status_code != 200:
            started = self._client.post(f"/v2/{repository}/blobs/uploads/")
            started.raise_for_status()
            location = httpx.URL(started.headers["location"]).copy_merge_params({"digest": digest})
            done = self._client.put(location, content=blob, headers={"Content-Type": "application/octet-stream"})
            done.raise_for_status()
        self._pushed.add((repository, digest))


def push_load_images(registry: RunningRegistry, new_tags: int) -> LoadImages:
    """Push the popular images and `new_tags` new ones; returns the references to scan."""
    base = debian_layer(BASE_PACKAGES)
    ssl = debian_layer(SSL_PACKAGES)
    app = python_app_layer()
    popular = {
        "library/debian:12-slim": Image([base]),
        "library/debian:12-ssl": Image([base, ssl]),
        "app/python:3.11": Image([base, app]),
        "app/python:3.11-ssl": Image([base, ssl, app]),
    }
    host = registry.host_port
    pusher = Pusher(registry)
    try:
        for reference, image in popular.items():
            repository, tag = reference.split(":")
            pusher.push(repository, tag, image)
        pusher.push(NEW_REPOSITORY, "base", Image([base, app]))  # the shared blobs, once, before the threads

        def push_new(n: int) -> None:
            pusher.push(NEW_REPOSITORY, f"build-{n}", Image([base, app, build_layer(n)]))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(push_new, range(new_tags)))
    finally:
        pusher.close()
    return LoadImages(
        popular=[f"{host}/{reference}" for reference in popular],
        new=[f"{host}/{NEW_REPOSITORY}:build-{n}" for n in range(new_tags)],
    )


def cyclonedx(components: list[tuple[str, str, str]]) -> str:
    """A CycloneDX 1.5 JSON document listing (name, version, purl) libraries."""
    items = [{"type": "library", "name": n, "version": v, "purl": p, "bom-ref": p} for n, v, p in components]
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": items})
