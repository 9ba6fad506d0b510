"""Building real-format OCI images in tests: layers, manifests, registry pushes, archives.

Root filesystems carry the files real distributions ship (os-release, dpkg
status, apk installed database, dist-info, node_modules), so the catalogers
read exactly what they would in a real image.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from support.registry import RunningRegistry, _push_blob, _put_manifest, _TokenAuth

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"

DEBIAN_12_OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""

ALPINE_318_OS_RELEASE = b"""NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.18.4
PRETTY_NAME="Alpine Linux v3.18"
HOME_URL="https://alpinelinux.org/"
"""

DPKG_STATUS = b"""Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u2
Description: Debian base system miscellaneous files

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12987
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u2
Depends: libgcc-s1
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime

Package: old-tool
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1
Description: removed, only its configuration remains
"""

APK_INSTALLED = b"""C:Q1Ej6MeDVQ5IvJ7TPPvmaiJHCnE0k=
P:busybox
V:1.36.1-r2
A:x86_64
S:509286
I:967680
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Soeren Tempel <soeren+alpine@soeren-tempel.net>
t:1685970183
c:b5e3b4bd5abb1bfb4c5c1fd0ad0cd8d4dc1f6e20

C:Q1k8hmvX0H1iAUVuQ2H+FaqMCA3Xo=
P:libcrypto3
V:3.1.0-r0
A:x86_64
S:1781478
I:4210688
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1680620213
c:f6b0a7e4c7ac4b3a50e5cb2b2c6f5dd4d2a0e70f
D:so:libc.musl-x86_64.so.1

"""

FLASK_METADATA = b"""Metadata-Version: 2.1
Name: Flask
Version: 2.2.4
Summary: A simple framework for building complex web applications.
Requires-Python: >=3.7
"""

MINIMIST_PACKAGE = json.dumps({"name": "minimist", "version": "1.2.5", "license": "MIT"}).encode()


def digest_of(data: bytes) -> str:
    """`sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(files: Mapping[str, bytes], *, symlinks: Mapping[str, str] | None = None) -> bytes:
    """An uncompressed tar of `files` (and symlinks), deterministic."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 1_700_000_000, 0o644
            archive.addfile(info, io.BytesIO(content))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, 1_700_000_000
            archive.addfile(info)
    return raw.getvalue()


@dataclass
class Layer:
    """A layer: its blob (compressed per `media_type`), its diff_id and media type."""

    blob: bytes
    diff_id: str
    media_type: str

    @property
    def digest(self) -> str:
        return digest_of(self.blob)


def layer(files: Mapping[str, bytes], *, compression: str = "gzip", symlinks: Mapping[str, str] | None = None) -> Layer:
    """A layer holding `files`, compressed with gzip, zstd or nothing."""
    tar = tar_bytes(files, symlinks=symlinks)
    if compression == "gzip":
        return Layer(gzip.compress(tar, mtime=0), digest_of(tar), LAYER_GZIP)
    if compression == "zstd":
        import zstandard

        return Layer(zstandard.ZstdCompressor().compress(tar), digest_of(tar), LAYER_ZSTD)
    return Layer(tar, digest_of(tar), LAYER_TAR)


@dataclass
class Image:
    """An OCI image: config and manifest built from layers for one platform."""

    layers: list[Layer]
    platform: str = "linux/amd64"
    config: bytes = b""
    manifest: bytes = b""
    extra: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        os_name, arch, *variant = self.platform.split("/")
        config: dict[str, object] = {
            "os": os_name,
            "architecture": arch,
            "created": "2026-01-01T00:00:00Z",
            "rootfs": {"type": "layers", "diff_ids": [item.diff_id for item in self.layers]},
            "config": {},
        }
        if variant:
            config["variant"] = variant[0]
        self.config = json.dumps(config).encode()
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": digest_of(self.config), "size": len(self.config)},
                "layers": [
                    {"mediaType": item.media_type, "digest": item.digest, "size": len(item.blob)}
                    for item in self.layers
                ],
            }
        ).encode()

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def debian_image(*extra_layers: Layer) -> Image:
    """A Debian 12 image (vulnerable glibc) plus `extra_layers`."""
    base = layer({"etc/os-release": DEBIAN_12_OS_RELEASE, "var/lib/dpkg/status": DPKG_STATUS})
    return Image([base, *extra_layers])


def alpine_image(*extra_layers: Layer) -> Image:
    """An Alpine 3.18 image (vulnerable libcrypto3) plus `extra_layers`."""
    base = layer({"etc/os-release": ALPINE_318_OS_RELEASE, "lib/apk/db/installed": APK_INSTALLED})
    return Image([base, *extra_layers])


def app_layer() -> Layer:
    """Python and npm packages of an application."""
    return layer(
        {
            "usr/local/lib/python3.11/site-packages/Flask-2.2.4.dist-info/METADATA": FLASK_METADATA,
            "app/node_modules/minimist/package.json": MINIMIST_PACKAGE,
        }
    )


def push(
    registry: RunningRegistry,
    repository: str,
    tag: str,
    images: list[Image],
    credentials: tuple[str, str] | None = None,
) -> str:
    """Push one image, or an index of several (one per platform), under `tag`; returns the tag's digest."""
    with httpx.Client(base_url=registry.url, timeout=30, auth=_TokenAuth(credentials)) as client:
        for image in images:
            for blob in (image.config, *(item.blob for item in image.layers)):
                _push_blob(client, repository, blob)
            _put_manifest(client, repository, image.digest, image.manifest, OCI_MANIFEST)
        if len(images) == 1:
            _put_manifest(client, repository, tag, images[0].manifest, OCI_MANIFEST)
            return images[0].digest
        descriptors = []
        for image in images:
            os_name, arch, *variant = image.platform.split("/")
            spec = {"os": os_name, "architecture": arch, **({"variant": variant[0]} if variant else {})}
            descriptors.append(
                {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": len(image.manifest), "platform": spec}
            )
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}).encode()
        _put_manifest(client, repository, tag, index, OCI_INDEX)
        return digest_of(index)


def oci_layout_tar(image: Image, path: Path, *, compress: bool = False) -> Path:
    """Write `image` as an OCI image layout tarball (optionally gzipped as a whole)."""
    blobs = {image.digest: image.manifest, digest_of(image.config): image.config}
    blobs.update({item.digest: item.blob for item in image.layers})
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": image.digest, "size": len(image.manifest)}],
    }
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": json.dumps(index).encode()}
    files.update({f"blobs/sha256/{digest.split(':', 1)[1]}": data for digest, data in blobs.items()})
    data = tar_bytes(files)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def docker_save_tar(image: Image, path: Path, repo_tag: str = "app:latest") -> Path:
    """Write `image` the way `docker save` does: manifest.json, <config>.json, <n>/layer.tar (uncompressed)."""
    config_name = digest_of(image.config).split(":", 1)[1] + ".json"
    files: dict[str, bytes] = {config_name: image.config}
    layer_names = []
    for n, item in enumerate(image.layers):
        raw = gzip.decompress(item.blob) if item.media_type == LAYER_GZIP else item.blob
        name = f"{n:064x}/layer.tar"
        files[name] = raw
        layer_names.append(name)
    files["manifest.json"] = json.dumps(
        [{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]
    ).encode()
    path.write_bytes(tar_bytes(files))
    return path
