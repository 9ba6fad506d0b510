"""Events are signed over timestamp and body; receivers can verify them and refuse replays."""

from __future__ import annotations

import pytest

from secapi.domain.webhook_signing import sign, verify

SECRET = "whsec_0123456789abcdef"
BODY = b'{"type":"rate_limit.reset"}'
STAMP = 1_700_000_000


def test_signature_matches_an_independent_hmac_sha256() -> None:
    # printf '1700000000.{"type":"rate_limit.reset"}' | openssl dgst -sha256 -hmac whsec_0123456789abcdef
    expected = "c3791c35fe292fbc5b05dd3589c253f911470f63f2a0e38288b2c4683b87cc4b"
    assert sign(SECRET, STAMP, BODY) == f"sha256={expected}"


def test_a_fresh_signature_verifies() -> None:
    assert verify(SECRET, str(STAMP), BODY, sign(SECRET, STAMP, BODY), now=STAMP + 10)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body"),
    [
        ("another-secret-of-16+", STAMP, BODY),
        (SECRET, STAMP + 1, BODY),
        (SECRET, STAMP, BODY + b" "),
        (SECRET, STAMP, b'{"type":"rate_limit.reset","limit":1000}'),
    ],
)
def test_any_change_breaks_the_signature(secret: str, timestamp: int, body: bytes) -> None:
    signature = sign(SECRET, STAMP, BODY)
    assert not verify(secret, timestamp, body, signature, now=STAMP)


def test_a_replay_outside_the_tolerance_is_refused() -> None:
    signature = sign(SECRET, STAMP, BODY)
    assert verify(SECRET, STAMP, BODY, signature, now=STAMP + 300)
    assert not verify(SECRET, STAMP, BODY, signature, now=STAMP + 301)
    assert not verify(SECRET, STAMP, BODY, signature, now=STAMP - 301)


@pytest.mark.parametrize("signature", ["", "sha256=", "sha256=zz", "sha1=abc", "sha256=é"])
def test_malformed_signatures_are_refused_without_error(signature: str) -> None:
    assert not verify(SECRET, STAMP, BODY, signature, now=STAMP)


@pytest.mark.parametrize("timestamp", ["", "soon", "1.5e9"])
def test_malformed_timestamps_are_refused_without_error(timestamp: str) -> None:
    assert not verify(SECRET, timestamp, BODY, sign(SECRET, STAMP, BODY), now=STAMP)
