"""`ArchiveImageSource`: images uploaded as `docker save` or OCI image layout tarballs (optionally gzipped)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import msgspec

from secapi.adapters.registry import media_types as mt
from secapi.adapters.registry.archive_members import ArchiveMembers, normalise_member_name, plain_tar
from secapi.adapters.registry.manifests import (
    Descriptor,
    ImageIndex,
    ImageManifest,
    build_resolved,
    check_digest_format,
    check_index_entry,
    descend,
    parse_config,
    parse_manifest,
    platform_of,
    select_platform,
    sha256_digest,
    verify_digest,
)
from secapi.adapters.registry.scratch import ScanScratch, unlimited_scratch
from secapi.domain.images import (
    ImageReference,
    ImageRejected,
    ImageSource,
    InvalidImageReference,
    LayerDescriptor,
    Platform,
    ResolvedImage,
    parse_image_reference,
)

MIB = 1024 * 1024
_NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


class _DockerSaveEntry(msgspec.Struct, rename="pascal", kw_only=True):
    config: str
    layers: list[str]
    repo_tags: list[str] | None = None


class ArchiveImageSource(ImageSource):
    """Reads one uploaded image tarball by member name, with limits on members, sizes, paths and links.

    A gzipped upload is decompressed once into `scratch_dir` (default: the system temp dir); `close()`
    (or `async with`) deletes that copy. The upload itself is never modified or extracted. What is written
    to scratch (that copy, and each layer copied out) is charged to `scratch`, released on `close()`.
    """

    def __init__(
        self,
        archive: Path,
        *,
        scratch_dir: Path | None = None,
        max_members: int = 10_000,
        max_manifest_bytes: int = 4 * MIB,
        max_layer_bytes: int = 2048 * MIB,
        max_layers: int = 200,
        max_uncompressed_bytes: int = 8192 * MIB,
        scratch: ScanScratch | None = None,
    ) -> None:
        self._archive = archive
        self._scratch_dir = scratch_dir
        self._max_members = max_members
        self._max_manifest_bytes = max_manifest_bytes
        self._max_layer_bytes = max_layer_bytes
        self._max_layers = max_layers
        self._max_uncompressed_bytes = max_uncompressed_bytes
        self._scratch = scratch or unlimited_scratch()
        self._lock = threading.Lock()
        self._members: ArchiveMembers | None = None
        self._decompressed: Path | None = None
        self._layer_members: dict[str, str] = {}

    async def resolve(self, image: ImageReference, platform: Platform) -> ResolvedImage:
        """The image in the archive named like `image` (or its only image), for `platform`."""
        return await asyncio.to_thread(self._resolve, image, platform)

    async def resolve_digest(self, image: ImageReference, platform: Platform) -> str:
        """The digest the archive names the image by (its index for multi-platform layouts); reads the archive."""
        resolved = await self.resolve(image, platform)
        return resolved.reference.digest or resolved.manifest_digest

    async def download_layer(self, image: ResolvedImage, layer: LayerDescriptor, directory: Path) -> Path:
        """Copy the layer member to `directory/<hex>.blob`, verifying its digest as it is copied."""
        hex_digest = check_digest_format(layer.digest, "layer").split(":", 1)[1]
        if layer.digest not in self._layer_members:
            await self.resolve(image.reference, image.platform)
        name = self._layer_members.get(layer.digest)
        if name is None:
            raise ImageRejected(f"layer {layer.digest} is not part of the uploaded archive")
        target = directory / f"{hex_digest}.blob"
        members = await asyncio.to_thread(self._index)
        await asyncio.to_thread(
            members.copy_verified, name, target, self._max_layer_bytes, layer.digest, self._scratch.charge
        )
        return target

    def close(self) -> None:
        """Delete the decompressed copy, if one was made."""
        with self._lock:
            if self._decompressed is not None:
                self._decompressed.unlink(missing_ok=True)
                self._decompressed = None
                self._members = None
            self._scratch.release()

    async def aclose(self) -> None:
        """`close()` off the event loop."""
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> ArchiveImageSource:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _index(self) -> ArchiveMembers:
        with self._lock:
            if self._members is None:
                if self._decompressed is None:
                    self._decompressed = plain_tar(
                        self._archive, self._scratch_dir, self._max_uncompressed_bytes, self._scratch.charge
                    )
                self._members = ArchiveMembers.index(self._decompressed or self._archive, self._max_members)
            return self._members

    def _resolve(self, image: ImageReference, platform: Platform) -> ResolvedImage:
        members = self._index()
        if members.has("index.json") and members.has("oci-layout"):
            return self._resolve_oci_layout(members, image, platform)
        if members.has("manifest.json"):
            return self._resolve_docker_save(members, image, platform)
        raise ImageRejected(
            "the archive is neither an OCI image layout (oci-layout, index.json) "
            "nor a docker save archive (manifest.json)"
        )

    def _resolve_oci_layout(self, members: ArchiveMembers, image: ImageReference, platform: Platform) -> ResolvedImage:
        members.read("oci-layout", self._max_manifest_bytes)  # present and a regular file; its content is not needed
        index = parse_manifest(members.read("index.json", self._max_manifest_bytes), mt.OCI_INDEX, "archive index.json")
        if not isinstance(index, ImageIndex):
            raise ImageRejected("archive index.json is not an image index")
        named = [entry for entry in index.manifests if _entry_matches(entry, image)]
        candidates = named or list(index.manifests)
        if len(candidates) == 1:
            entry = candidates[0]
        elif any(platform_of(entry) is not None for entry in candidates):
            entry = select_platform(ImageIndex(manifests=tuple(candidates)), platform, "archive index.json")
        else:
            names = sorted({value for c in candidates for value in (c.annotations or {}).values()}) or ["(unnamed)"]
            raise ImageRejected(f"the archive holds {len(candidates)} images ({', '.join(names[:10])}); name one")
        top_digest = entry.digest
        document: ImageIndex | ImageManifest = self._load_manifest(members, entry, "archive index.json")
        manifest_digest, depth = top_digest, 0
        while isinstance(document, ImageIndex):
            depth += 1
            entry = descend(document, platform, depth, f"archive index {manifest_digest}")
            document, manifest_digest = self._load_manifest(members, entry, "archive index"), entry.digest
        config_name = _blob_name(document.config.digest)
        config_bytes = members.read(config_name, self._max_manifest_bytes)
        verify_digest(config_bytes, document.config.digest, "archive image config")
        resolved = build_resolved(
            reference=image,
            top_digest=top_digest,
            manifest_digest=manifest_digest,
            manifest=document,
            config=parse_config(config_bytes, "archive image config"),
            wanted=platform,
            max_layers=self._max_layers,
            max_layer_bytes=self._max_layer_bytes,
            what="the archive's image",
        )
        for layer in resolved.layers:
            members.regular(_blob_name(layer.digest))  # missing or linked blobs fail now, not mid-scan
            self._layer_members[layer.digest] = _blob_name(layer.digest)
        return resolved

    def _load_manifest(self, members: ArchiveMembers, entry: Descriptor, what: str) -> ImageIndex | ImageManifest:
        check_index_entry(entry, what)
        data = members.read(_blob_name(entry.digest), self._max_manifest_bytes)
        verify_digest(data, entry.digest, f"archive manifest {entry.digest}")
        return parse_manifest(data, entry.media_type or None, f"archive manifest {entry.digest}")

    def _resolve_docker_save(self, members: ArchiveMembers, image: ImageReference, platform: Platform) -> ResolvedImage:
        try:
            entries = msgspec.json.decode(
                members.read("manifest.json", self._max_manifest_bytes), type=list[_DockerSaveEntry]
            )
        except msgspec.DecodeError as exc:
            raise ImageRejected(f"archive manifest.json is not a docker save manifest: {exc}") from None
        entry = _choose_docker_save_entry(entries, image)
        config_bytes = members.read(normalise_member_name(entry.config), self._max_manifest_bytes)
        config = parse_config(config_bytes, "archive image config")
        if len(entry.layers) > self._max_layers:
            raise ImageRejected(
                f"the archive's image has {len(entry.layers)} layers; at most {self._max_layers} are scanned"
            )
        diff_ids = config.rootfs.diff_ids if config.rootfs else []
        if len(diff_ids) != len(entry.layers):
            raise ImageRejected(
                f"archive manifest.json lists {len(entry.layers)} layers "
                f"but the image config has {len(diff_ids)} diff_ids"
            )
        layers: list[Descriptor] = []
        for path, diff_id in zip(entry.layers, diff_ids, strict=True):
            name = normalise_member_name(path)
            media_type = mt.sniff_layer_media_type(members.head(name, 4))
            # An uncompressed layer's digest is its diff_id, checked while it is copied; a compressed one
            # (some tools write them) has no digest on record, so it is hashed here.
            digest = diff_id if mt.compression_of(media_type) is None else members.sha256(name)
            layers.append(Descriptor(digest=digest, size=members.regular(name).size, media_type=media_type))
            self._layer_members[check_digest_format(digest, "archive layer")] = name
        config_digest = sha256_digest(config_bytes)  # the image id; legacy archives have no registry manifest
        manifest = ImageManifest(
            media_type=mt.DOCKER_MANIFEST,
            config=Descriptor(digest=config_digest, size=len(config_bytes), media_type=mt.DOCKER_CONFIG),
            layers=tuple(layers),
        )
        return build_resolved(
            reference=image,
            top_digest=config_digest,
            manifest_digest=config_digest,
            manifest=manifest,
            config=config,
            wanted=platform,
            max_layers=self._max_layers,
            max_layer_bytes=self._max_layer_bytes,
            what="the archive's image",
        )


def _blob_name(digest: str) -> str:
    return "blobs/" + check_digest_format(digest, "archive blob").replace(":", "/", 1)


def _name_matches(value: str, image: ImageReference) -> bool:
    if value == image.tag:  # OCI layouts often name an image by its tag alone
        return True
    try:
        named = parse_image_reference(value)
    except InvalidImageReference:
        return False
    return named.name() == image.name() and named.tag == image.tag


def _entry_matches(entry: Descriptor, image: ImageReference) -> bool:
    annotations = entry.annotations or {}
    return any(_name_matches(annotations[key], image) for key in _NAME_ANNOTATIONS if key in annotations)


def _choose_docker_save_entry(entries: Sequence[_DockerSaveEntry], image: ImageReference) -> _DockerSaveEntry:
    if not entries:
        raise ImageRejected("archive manifest.json lists no images")
    named = [entry for entry in entries if any(_name_matches(tag, image) for tag in entry.repo_tags or ())]
    if len(named) == 1 or len(entries) == 1:
        return named[0] if named else entries[0]
    tags = sorted({tag for entry in entries for tag in entry.repo_tags or ()}) or ["(untagged)"]
    raise ImageRejected(f"the archive holds {len(entries)} images ({', '.join(tags[:10])}); name one")
