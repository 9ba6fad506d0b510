"""Image sources: an OCI Distribution client for registries, and a reader for uploaded image archives."""

from secapi.adapters.registry.archive import ArchiveImageSource
from secapi.adapters.registry.client import HttpRegistryClient

__all__ = ["ArchiveImageSource", "HttpRegistryClient"]
