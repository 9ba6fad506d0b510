"""Cache keys are SHA-256 of canonical JSON; the fast encoder must give exactly the canonical bytes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from secapi.domain.caching import RESULT_FORMAT, cache_key, canonical_hash

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=30))
_VALUES = st.recursive(_SCALARS, lambda inner: st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=8)


def _reference(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@given(st.dictionaries(st.text(max_size=12), _VALUES, max_size=6))
def test_the_digest_is_that_of_json_dumps_with_sorted_keys(data: dict[str, Any]) -> None:
    assert canonical_hash(data) == _reference(data)


def test_control_characters_and_non_ascii_text_hash_as_before() -> None:
    for text in ("line\nbreak\ttab\x00nul\x1f\x7f", "café ☃ 𝄞", 'quote " and \\ backslash', "</script>"):
        assert canonical_hash({"filename": text, "n": 1}) == _reference({"filename": text, "n": 1})


def test_key_order_does_not_change_the_key() -> None:
    one = cache_key("dependencies", {"filename": "poetry.lock", "content_sha256": "ab"}, tenant=None)
    two = cache_key("dependencies", {"content_sha256": "ab", "filename": "poetry.lock"}, tenant=None)
    keyed = {"content_sha256": "ab", "filename": "poetry.lock", "result_format": RESULT_FORMAT}
    assert one == two == "scan:dependencies:" + _reference(keyed)


def test_keys_change_with_the_result_format_so_older_results_are_never_served() -> None:
    data = {"filename": "poetry.lock", "content_sha256": "ab"}
    key = cache_key("dependencies", data, tenant=None)
    assert key != f"scan:dependencies:{canonical_hash(data)}"  # the key of a format-1 result
    assert key == f"scan:dependencies:{canonical_hash({**data, 'result_format': RESULT_FORMAT})}"
