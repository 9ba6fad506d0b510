"""Which output format a scan answer is written in: `?format=` first, else the `Accept` header.

`?format=json|cyclonedx|spdx|sarif|html` names a format; a value outside that list is a 400 (Litestar
validates the parameter against the enum). An `Accept` header is read with its quality values (RFC 9110,
12.5.1): the format whose media type the client rates highest is chosen; on a tie, the one whose range
comes first in the header, then the server's order (the native JSON first, so `*/*` is JSON). No header,
or one without a single well-formed media range, means the native JSON.

A format this server does not write (`html` until a renderer named so is registered), or an `Accept`
header that rules out every format offered, is a 406 problem naming the formats there are. Either is
decided before any scan runs, so a refused request costs no scan quota.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from litestar import Request
from litestar.exceptions import HTTPException
from litestar.params import QueryParameter

from secapi.domain.ports import ResultFormat
from secapi.domain.result_formats import NATIVE_FORMAT, ResultFormats

FormatName = Literal["json", "cyclonedx", "spdx", "sarif", "html"]
"""What `?format=` may name (whether this server writes it or not)."""

FORMAT_MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "cyclonedx": "application/vnd.cyclonedx+json",
    "spdx": "application/spdx+json",
    "sarif": "application/sarif+json",
    "html": "text/html",
}
"""The media type of each format, as the OpenAPI document lists them."""

FORMAT_DESCRIPTION = (
    "The output format of a finished scan: `json` (the scan view, the default), `cyclonedx` (CycloneDX 1.6 "
    "JSON, components and vulnerabilities), `spdx` (SPDX 2.3 JSON), `sarif` (SARIF 2.1.0, for code scanning) "
    "or `html` (a report page). Takes precedence over `Accept`. A queued, running or failed scan answers as "
    "without it. A format this server does not write is a 406."
)

OutputFormat = Annotated[FormatName | None, QueryParameter(name="format", description=FORMAT_DESCRIPTION)]
"""The `?format=` parameter of the operations that answer with a scan."""


@dataclass(frozen=True, slots=True)
class _Range:
    maintype: str
    subtype: str
    quality: float
    position: int

    @property
    def specificity(self) -> int:
        return 0 if self.maintype == "*" else 1 if self.subtype == "*" else 2

    def matches(self, maintype: str, subtype: str) -> bool:
        return self.maintype in ("*", maintype) and self.subtype in ("*", subtype)


def _ranges(accept: str) -> list[_Range]:
    ranges = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        maintype, slash, subtype = media.lower().partition("/")
        if not slash or not maintype or not subtype or (maintype == "*" and subtype != "*"):
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        ranges.append(_Range(maintype, subtype, quality, position))
    return ranges


def _preference(ranges: list[_Range], media_type: str) -> tuple[float, int] | None:
    """The quality the client gives `media_type` (its most specific matching range's) and that range's
    position; None when no range matches."""
    maintype, _, subtype = media_type.partition(";")[0].strip().lower().partition("/")
    matching = [r for r in ranges if r.matches(maintype, subtype)]
    if not matching:
        return None
    best = max(matching, key=lambda r: (r.specificity, -r.position))
    return best.quality, best.position


def _not_acceptable(formats: ResultFormats, why: str) -> HTTPException:
    offered = ", ".join(f"{name} ({_media_type(formats, name)})" for name in formats.names)
    return HTTPException(status_code=406, detail=f"{why}; this server writes scans as {offered}")


def _media_type(formats: ResultFormats, name: str) -> str:
    fmt = formats.named(name)
    return FORMAT_MEDIA_TYPES[NATIVE_FORMAT] if fmt is None else fmt.media_type


def choose_format(request: Request[Any, Any, Any], formats: ResultFormats, asked: str | None) -> ResultFormat | None:
    """The format to write a finished scan in; None for the native JSON. Raises a 406 `HTTPException`."""
    if asked is not None:
        if asked == NATIVE_FORMAT:
            return None
        fmt = formats.named(asked)
        if fmt is None:
            raise _not_acceptable(formats, f"format {asked!r} is not available")
        return fmt
    ranges = _ranges(request.headers.get("accept", ""))
    if not ranges:
        return None
    candidates: list[tuple[float, int, int, ResultFormat | None]] = []
    offered: list[tuple[str, ResultFormat | None]] = [(FORMAT_MEDIA_TYPES[NATIVE_FORMAT], None)]
    offered += [(fmt.media_type, fmt) for fmt in formats]
    for order, (media_type, fmt) in enumerate(offered):
        preference = _preference(ranges, media_type)
        if preference is not None and preference[0] > 0:
            candidates.append((-preference[0], preference[1], order, fmt))
    if not candidates:
        raise _not_acceptable(formats, f"no format matches Accept: {request.headers.get('accept', '')[:200]}")
    return min(candidates, key=lambda c: c[:3])[3]
