"""Decoding image indexes, manifests and configs into domain values, with the checks both image sources share."""

from __future__ import annotations

import hashlib
import re

import msgspec

from secapi.adapters.registry import media_types as mt
from secapi.domain.images import ImageReference, ImageRejected, LayerDescriptor, Platform, ResolvedImage

MAX_INDEX_DEPTH = 2
"""An index may point at one more index (OCI layouts wrap multi-platform indexes); deeper nesting is refused."""

SHA256_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class PlatformSpec(msgspec.Struct, kw_only=True):
    """The `platform` object of an index entry."""

    os: str = ""
    architecture: str = ""
    variant: str | None = None


class Descriptor(msgspec.Struct, kw_only=True, rename="camel"):
    """An OCI content descriptor."""

    digest: str
    size: int
    media_type: str = ""
    platform: PlatformSpec | None = None
    annotations: dict[str, str] | None = None


class _Document(msgspec.Struct, kw_only=True, rename="camel"):
    schema_version: int = 2
    media_type: str | None = None
    config: Descriptor | None = None
    layers: list[Descriptor] | None = None
    manifests: list[Descriptor] | None = None


class ImageIndex(msgspec.Struct, frozen=True, kw_only=True):
    """A multi-platform index (OCI index or Docker manifest list)."""

    manifests: tuple[Descriptor, ...]


class ImageManifest(msgspec.Struct, frozen=True, kw_only=True):
    """One platform's image manifest."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


class RootFs(msgspec.Struct, kw_only=True):
    """The `rootfs` section of an image config."""

    diff_ids: list[str] = msgspec.field(default_factory=list)


class ImageConfig(msgspec.Struct, kw_only=True):
    """The fields of an image config blob that SecAPI reads."""

    os: str = ""
    architecture: str = ""
    variant: str | None = None
    created: str | None = None
    rootfs: RootFs | None = None


def sha256_digest(data: bytes) -> str:
    """`sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest_format(digest: str, what: str) -> str:
    """Return `digest` if it is `sha256:<64 hex>`; anything else could not be verified (or could inject a path)."""
    if not SHA256_DIGEST.fullmatch(digest):
        raise ImageRejected(f"{what} has unsupported digest {digest[:80]!r}: only sha256:<64 hex> is accepted")
    return digest


def verify_digest(data: bytes, expected: str, what: str) -> None:
    """Raise `ImageRejected` unless `data` hashes to `expected`."""
    actual = sha256_digest(data)
    if actual != expected:
        raise ImageRejected(f"{what} does not match its digest: expected {expected}, got {actual}")


def parse_manifest(data: bytes, content_type: str | None, what: str) -> ImageIndex | ImageManifest:
    """Decode a manifest or index; schema 1, artifacts without layers and unknown types are rejected."""
    try:
        doc = msgspec.json.decode(data, type=_Document)
    except msgspec.DecodeError as exc:
        raise ImageRejected(f"{what} is not a valid image manifest: {exc}") from None
    header_type = mt.strip_parameters(content_type)
    media_type = doc.media_type or (header_type if header_type in mt.INDEX_TYPES | mt.MANIFEST_TYPES else "")
    if doc.schema_version == 1 or media_type in mt.SCHEMA1_TYPES or header_type in mt.SCHEMA1_TYPES:
        raise ImageRejected(f"{what}: schema 1 manifests are not supported; push the image again with a current client")
    if doc.schema_version != 2:
        raise ImageRejected(f"{what} has unsupported schemaVersion {doc.schema_version}")
    if not media_type:  # OCI lets mediaType be absent; the shape then tells
        media_type = mt.OCI_INDEX if doc.manifests is not None else mt.OCI_MANIFEST
    if media_type in mt.INDEX_TYPES:
        entries = tuple(doc.manifests or ())
        for entry in entries:
            check_digest_format(entry.digest, f"{what} entry")
        return ImageIndex(manifests=entries)
    if media_type not in mt.MANIFEST_TYPES:
        raise ImageRejected(f"{what} has unsupported media type {media_type!r}")
    if doc.config is None or doc.layers is None:
        raise ImageRejected(f"{what} is missing its config or layers")
    check_digest_format(doc.config.digest, f"{what} config")
    return ImageManifest(media_type=media_type, config=doc.config, layers=tuple(doc.layers))


def parse_config(data: bytes, what: str) -> ImageConfig:
    """Decode an image config blob."""
    try:
        return msgspec.json.decode(data, type=ImageConfig)
    except msgspec.DecodeError as exc:
        raise ImageRejected(f"{what} is not a valid image config: {exc}") from None


def platform_of(entry: Descriptor) -> Platform | None:
    """The entry's platform, or None for entries without one (and for attestations, `unknown/unknown`)."""
    spec = entry.platform
    if spec is None or not spec.os or not spec.architecture or spec.os == "unknown":
        return None
    return Platform.of(spec.os, spec.architecture, spec.variant)


def select_platform(index: ImageIndex, wanted: Platform, what: str) -> Descriptor:
    """The index entry for `wanted` (an exact variant beats a compatible one); else list what there is."""
    candidates = [
        (entry, platform)
        for entry in index.manifests
        if (platform := platform_of(entry)) is not None and wanted.matches(platform)
    ]
    exact = [
        entry
        for entry, platform in candidates
        if platform == Platform.of(wanted.os, wanted.architecture, wanted.variant)
    ]
    if exact or candidates:
        return (exact or [entry for entry, _ in candidates])[0]
    available = sorted({str(p) for entry in index.manifests if (p := platform_of(entry)) is not None})
    listed = ", ".join(available) if available else "none that name a platform"
    raise ImageRejected(f"{what} has no manifest for platform {wanted}; available platforms: {listed}")


def check_index_entry(entry: Descriptor, what: str) -> None:
    """An index entry must point at a manifest or a nested index."""
    if entry.media_type and entry.media_type not in mt.INDEX_TYPES | mt.MANIFEST_TYPES:
        raise ImageRejected(f"{what} points at unsupported media type {entry.media_type!r}")


def descend(index: ImageIndex, wanted: Platform, depth: int, what: str) -> Descriptor:
    """The entry to follow from the `depth`-th index met on the way to a manifest (nesting is bounded)."""
    if depth > MAX_INDEX_DEPTH:
        raise ImageRejected(f"{what} nests image indexes more than {MAX_INDEX_DEPTH} deep")
    entry = select_platform(index, wanted, what)
    check_index_entry(entry, what)
    return entry


def build_resolved(
    *,
    reference: ImageReference,
    top_digest: str,
    manifest_digest: str,
    manifest: ImageManifest,
    config: ImageConfig,
    wanted: Platform,
    max_layers: int,
    max_layer_bytes: int,
    what: str,
) -> ResolvedImage:
    """Check the manifest against the limits and the wanted platform, and build the domain value.

    `top_digest` is what the reference names (an index for multi-platform images); it pins the reference.
    """
    if manifest.config.media_type and manifest.config.media_type not in mt.CONFIG_TYPES:
        raise ImageRejected(f"{what} is not a container image: config media type {manifest.config.media_type!r}")
    if len(manifest.layers) > max_layers:
        raise ImageRejected(f"{what} has {len(manifest.layers)} layers; at most {max_layers} are scanned")
    layers = tuple(_layer(layer, max_layer_bytes, what) for layer in manifest.layers)
    actual = Platform.of(config.os or wanted.os, config.architecture or wanted.architecture, config.variant)
    if config.os and config.architecture and not wanted.matches(actual):
        raise ImageRejected(f"{what} is built for {actual} only; platform {wanted} was requested")
    return ResolvedImage(
        reference=reference if reference.digest is not None else reference.with_digest(top_digest),
        manifest_digest=manifest_digest,
        platform=actual,
        config_digest=manifest.config.digest,
        layers=layers,
        os=actual.os,
        architecture=actual.architecture,
        created=config.created,
    )


def _layer(layer: Descriptor, max_layer_bytes: int, what: str) -> LayerDescriptor:
    if layer.media_type in mt.FOREIGN_LAYER_TYPES:
        # Their content is not in the registry; scanning without them would hide packages, so say so.
        raise ImageRejected(
            f"{what} has a foreign (non-distributable) layer {layer.digest}: such layers are not fetched or scanned"
        )
    if layer.media_type not in mt.LAYER_TYPES:
        raise ImageRejected(f"{what} has a layer of unsupported media type {layer.media_type!r}")
    check_digest_format(layer.digest, f"{what} layer")
    if layer.size < 0 or layer.size > max_layer_bytes:
        raise ImageRejected(f"{what} layer {layer.digest} is {layer.size} bytes; the limit is {max_layer_bytes}")
    return LayerDescriptor(digest=layer.digest, size=layer.size, media_type=layer.media_type)
