"""Text SecAPI can store: PostgreSQL text and JSON values cannot hold the NUL character (U+0000)."""

from __future__ import annotations

from secapi.domain.errors import InvalidInput

NUL = "\x00"
REPLACEMENT = "\ufffd"
"""What stands for a NUL in text that is reported back rather than refused (U+FFFD, the replacement character)."""


def refuse_nul(value: str, field: str, what: str | None = None) -> str:
    """`value` unchanged, or `InvalidInput` naming `field` (described as `what`) when it holds a NUL character."""
    if NUL in value:
        raise InvalidInput(
            f"{what or field} contains a NUL character (U+0000) at position {value.index(NUL)}; "
            "remove it: no name, address or path here can hold one",
            field=field,
        )
    return value


def without_nul(value: str) -> str:
    """`value` with each NUL character replaced by U+FFFD, for text echoed back in a report."""
    return value.replace(NUL, REPLACEMENT) if NUL in value else value
