"""The `min_epss` / `kev_only` response filter at the HTTP edge: read from bodies, forms and queries.

The filter narrows the `vulnerabilities` a response shows (`narrow_result`); it never reaches the cache
key or the stored result, so the same scan read with another filter (or none) shows everything again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar.exceptions import ValidationException

from secapi.domain.errors import InvalidInput
from secapi.domain.services.exploit_intel import RiskFilter, narrow_result

NO_FILTER = RiskFilter()
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def risk_filter(min_epss: float | None, kev_only: bool | None, *, source: str) -> RiskFilter:
    """A filter from already-typed values; a value out of range is a 400 naming the field."""
    try:
        return RiskFilter(min_epss=min_epss, kev_only=bool(kev_only))
    except InvalidInput as exc:
        raise _invalid(exc.field or "min_epss", str(exc), source) from exc


def risk_filter_from_form(fields: Mapping[str, Any]) -> RiskFilter:
    """A filter from multipart form fields `min_epss` (a number 0..1) and `kev_only` (true/false)."""
    raw_min = str(fields.get("min_epss") or "").strip()
    raw_kev = str(fields.get("kev_only") or "").strip().lower()
    min_epss: float | None = None
    if raw_min:
        try:
            min_epss = float(raw_min)
        except ValueError:
            min_epss = math.nan
        if not math.isfinite(min_epss):
            raise _invalid("min_epss", f"min_epss must be a number between 0 and 1, got {raw_min[:40]!r}", "body")
    if raw_kev not in _TRUE | _FALSE:
        raise _invalid("kev_only", f"kev_only must be true or false, got {raw_kev[:40]!r}", "body")
    return risk_filter(min_epss, raw_kev in _TRUE, source="body")


def filtered_raw(raw: bytes, active: RiskFilter) -> bytes:
    """A cached result's JSON as this response shows it (decoded only when a filter applies)."""
    if not active.active:
        return raw
    return msgspec.json.encode(narrow_result(msgspec.json.decode(raw), active))


def filtered_etag(etag: str, active: RiskFilter) -> str:
    """A distinct validator per filter: a narrowed body is another representation of the same result."""
    if not active.active or not etag.endswith('"'):
        return etag
    suffix = f";epss>={active.min_epss if active.min_epss is not None else '-'};kev={int(active.kev_only)}"
    return f'{etag[:-1]}{suffix}"'


def _invalid(field: str, message: str, source: str) -> ValidationException:
    extra = [{"key": field, "message": message, "source": source}]
    return ValidationException(detail="the request is not valid", extra=extra)
