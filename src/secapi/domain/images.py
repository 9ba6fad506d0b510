"""Container images: references, platforms, resolved manifests, their errors and the `ImageSource` port."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

import msgspec

from secapi.domain.errors import DependencyUnavailable, DomainError, InvalidInput

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
NAME_MAX_LENGTH = 255

# The grammar of github.com/distribution/reference, one piece at a time so errors can say which piece is wrong.
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_IPV6_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class InvalidImageReference(InvalidInput):
    """An image reference that does not follow the Docker reference grammar."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f"invalid image reference {reference!r}: {reason}", field="image")
        self.reason = reason


class ImageNotFound(DomainError):
    """The registry has no such repository, tag or manifest."""


class RegistryAuthError(DomainError):
    """The registry refused access (401/403) even after the token flow."""


class RegistryUnavailable(DependencyUnavailable):
    """The registry timed out, failed to connect or kept answering 5xx/429 after retries."""


class ImageRejected(DomainError):
    """The image violates a limit or is malformed; `str()` names the limit or the defect."""


class RegistryNotAllowed(DomainError):
    """The registry resolves to a private, loopback or otherwise internal address that is not allow-listed."""


class ImageReference(msgspec.Struct, frozen=True, kw_only=True):
    """A normalised image reference: `docker.io/library/nginx:latest`, `ghcr.io/o/r@sha256:...`."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def name(self) -> str:
        """`registry/repository`, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def canonical(self) -> str:
        """The fully qualified form; equal references have equal canonical strings."""
        text = self.name()
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    def with_digest(self, digest: str) -> ImageReference:
        """The same reference pinned to `digest` (the tag is kept for display)."""
        return ImageReference(registry=self.registry, repository=self.repository, tag=self.tag, digest=digest)

    @property
    def is_docker_hub(self) -> bool:
        """True for images served by Docker Hub."""
        return self.registry == DOCKER_HUB

    def __str__(self) -> str:
        return self.canonical()


def parse_image_reference(text: str) -> ImageReference:
    """Parse and normalise a reference as `docker pull` does (`nginx` → `docker.io/library/nginx:latest`)."""
    if not text or text != text.strip():
        raise InvalidImageReference(text, "must be non-empty and have no surrounding whitespace")
    _refuse_url_parts(text)
    name, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise InvalidImageReference(text, "digest must be sha256:<64 lowercase hex>")
    tag: str | None = None
    colon, slash = name.rfind(":"), name.rfind("/")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidImageReference(text, "tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
    if not name:
        raise InvalidImageReference(text, "repository name is missing")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidImageReference(text, f"name must be at most {NAME_MAX_LENGTH} characters")
    registry, repository = _split_registry(name)
    _check_registry(text, registry)
    _check_repository(text, repository)
    if _looks_like_registry(registry.lower()):
        registry = registry.lower()  # host names are case-insensitive; one spelling keeps cache keys equal
    if registry in _DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in repository:
            repository = f"library/{repository}"
    if tag is None and not digest:
        tag = "latest"
    return ImageReference(registry=registry, repository=repository, tag=tag, digest=digest or None)


def _refuse_url_parts(text: str) -> None:
    # What a URL has and a reference has not: said plainly, not as the grammar error it would cause.
    scheme = _SCHEME.match(text)
    bare = text[scheme.end() :] if scheme else text
    user, at, rest = bare.partition("@")
    if at and "/" in rest and "/" not in user:
        # `user:pw@host/repo`: before "@" is a user, not a repository, and after it no digest. Never echoed.
        raise InvalidImageReference(
            f"***@{rest}",
            "credentials do not belong in an image reference; send it without them and have the operator "
            "configure them for the registry in SECAPI_REGISTRY_CREDENTIALS",
        )
    if scheme:
        raise InvalidImageReference(text, f"an image reference has no scheme: drop {scheme[0]!r} and write {bare!r}")


def _looks_like_registry(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost"


def _split_registry(name: str) -> tuple[str, str]:
    # As docker does: the first component is a registry only if it looks like a host (has "." or ":",
    # is "localhost", or has uppercase letters, which a repository never has).
    first, sep, rest = name.partition("/")
    if not sep:
        return DOCKER_HUB, name
    if _looks_like_registry(first) or first.lower() != first:
        return first, rest
    return DOCKER_HUB, name


def _check_registry(text: str, registry: str) -> None:
    host, port = registry, None
    if registry.startswith("["):
        end = registry.find("]")
        host, rest = registry[: end + 1], registry[end + 1 :]
        if end < 0 or not _IPV6_HOST.fullmatch(host) or (rest and not rest.startswith(":")):
            raise InvalidImageReference(text, f"registry {registry!r} is not a valid bracketed IPv6 address")
        port = rest[1:] if rest else None
    elif ":" in registry:
        host, port = registry.split(":", 1)
    if not host.startswith("[") and not all(_DOMAIN_LABEL.fullmatch(label) for label in host.split(".")):
        raise InvalidImageReference(text, f"registry {registry!r} is not a valid host name")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise InvalidImageReference(text, f"registry port {port!r} must be a number from 1 to 65535")


def _check_repository(text: str, repository: str) -> None:
    if not repository:
        raise InvalidImageReference(text, "repository name is missing")
    if repository.lower() != repository:
        raise InvalidImageReference(text, "repository name must be lowercase")
    for component in repository.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            raise InvalidImageReference(
                text,
                f"repository component {component!r} must be lowercase letters and digits, "
                "separated by '.', '_', '__' or '-'",
            )
    if _HEX64.fullmatch(repository):
        raise InvalidImageReference(text, "a repository name cannot be a 64-character hex string (an image id)")


_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386"}
_ARM_ALIASES = {"armhf": "v7", "armel": "v6"}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


class Platform(msgspec.Struct, frozen=True, kw_only=True):
    """An OS/architecture/variant triple as in OCI image indexes (`linux/arm/v7`)."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def of(cls, os: str, architecture: str, variant: str | None = None) -> Platform:
        """A normalised platform: aliases resolved, `arm64/v8` stored as `arm64`, `arm` as `arm/v7`."""
        os, architecture, variant = os.lower(), architecture.lower(), (variant or "").lower() or None
        if architecture in _ARM_ALIASES:
            architecture, variant = "arm", variant or _ARM_ALIASES[architecture]
        architecture = _ARCH_ALIASES.get(architecture, architecture)
        if architecture == "arm64" and variant in ("v8", "8"):
            variant = None  # v8 is what arm64 means; one spelling keeps cache keys equal
        elif architecture == "arm" and variant is None:
            variant = "v7"
        return cls(os=os, architecture=architecture, variant=variant)

    def matches(self, other: Platform) -> bool:
        """True if an image built for `other` serves a request for `self` (no variant asked → any)."""
        mine = Platform.of(self.os, self.architecture, self.variant)
        theirs = Platform.of(other.os, other.architecture, other.variant)
        if (mine.os, mine.architecture) != (theirs.os, theirs.architecture):
            return False
        if mine.variant is None and mine.architecture not in _DEFAULT_VARIANT:
            return True  # e.g. linux/amd64 is served by any amd64 microarchitecture level
        default = _DEFAULT_VARIANT.get(mine.architecture)
        return (mine.variant or default) == (theirs.variant or default)

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


DEFAULT_PLATFORM = Platform(os="linux", architecture="amd64")

_PLATFORM_PART = re.compile(r"[a-z0-9_.-]+")


def parse_platform(text: str) -> Platform:
    """Parse `os/arch[/variant]` (`linux/amd64`, `linux/arm64/v8`, `linux/aarch64`)."""
    parts = text.strip().lower().split("/")
    if not 2 <= len(parts) <= 3 or not all(_PLATFORM_PART.fullmatch(part) for part in parts):
        raise InvalidInput(
            f"invalid platform {text!r}: expected os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7",
            field="platform",
        )
    return Platform.of(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


class LayerDescriptor(msgspec.Struct, frozen=True, kw_only=True):
    """One layer blob of an image, still compressed as the registry serves it."""

    digest: str
    size: int
    media_type: str


class ResolvedImage(msgspec.Struct, frozen=True, kw_only=True):
    """An image pinned to one platform's manifest: what to download and what it claims to be."""

    reference: ImageReference
    """The requested reference with `digest` filled in."""
    manifest_digest: str
    """Digest of the platform's image manifest (not of the multi-platform index)."""
    platform: Platform
    config_digest: str
    layers: tuple[LayerDescriptor, ...]
    os: str
    architecture: str
    created: str | None = None


class ImageSource(Protocol):
    """Finds an image's manifest and layers: a registry, or an uploaded archive."""

    async def resolve(self, image: ImageReference, platform: Platform) -> ResolvedImage:
        """The manifest and config for `platform`; raises the image errors above."""
        ...

    async def resolve_digest(self, image: ImageReference, platform: Platform) -> str:
        """The digest `image` names right now (an index digest for multi-platform images), cheaply."""
        ...

    async def download_layer(self, image: ResolvedImage, layer: LayerDescriptor, directory: Path) -> Path:
        """Store the (compressed) layer blob in a new file inside `directory`, digest verified; return its path."""
        ...
