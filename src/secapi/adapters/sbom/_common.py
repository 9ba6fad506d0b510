"""Shared plumbing of the SBOM readers: the component limit and the OS component's name."""

from __future__ import annotations

from secapi.domain.sbom import MAX_COMPONENTS, SbomError


def check_count(count: int) -> None:
    """Refuse a document with more components than `MAX_COMPONENTS` (before building them all)."""
    if count > MAX_COMPONENTS:
        raise SbomError(f"the SBOM lists more than {MAX_COMPONENTS} components; split it")


def os_of(name: str | None, version: str | None) -> tuple[str, str | None] | None:
    """(os-release ID, version) of an operating-system component (`debian`, `12.4`), or None without a name."""
    if not name or not name.strip():
        return None
    return name.strip().lower(), (version or "").strip() or None


def text(value: object) -> str | None:
    """`value` if it is a non-empty string (a hostile document may put anything anywhere), else None."""
    return value.strip() if isinstance(value, str) and value.strip() else None
