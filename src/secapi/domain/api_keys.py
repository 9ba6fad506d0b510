"""API key format: `sk_<prefix>_<secret>`, high entropy, stored as a SHA-256 hash.

The visible prefix (8 characters of its own entropy) finds the record; the
hash of the whole key is then compared in constant time. SHA-256 rather than
a slow password hash is right here because the key carries 256 bits of
entropy: brute force is not the threat a slow hash guards against, and the
hot path verifies keys on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_SCHEME = "sk"
PREFIX_LENGTH = 8
_PREFIX_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o/1/l: prefixes are read aloud and typed
_KEY_PATTERN = re.compile(rf"^{KEY_SCHEME}_([{_PREFIX_ALPHABET}]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """A syntactically valid key split into its visible prefix and the whole secret."""

    prefix: str
    full: str


def generate_key() -> tuple[str, str]:
    """A new (prefix, full key) pair with 32 random bytes of secret."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = secrets.token_urlsafe(32)
    return prefix, f"{KEY_SCHEME}_{prefix}_{secret}"


def parse_key(candidate: str) -> ParsedKey | None:
    """The key's parts if `candidate` has the key format, else None."""
    match = _KEY_PATTERN.fullmatch(candidate)
    if match is None:
        return None
    return ParsedKey(prefix=match.group(1), full=candidate)


def hash_key(full_key: str) -> str:
    """Hex SHA-256 of a full key: what the database stores."""
    return hashlib.sha256(full_key.encode()).hexdigest()


def key_matches(full_key: str, stored_hash: str) -> bool:
    """Constant-time check of a presented key against a stored hash."""
    return hmac.compare_digest(hash_key(full_key), stored_hash)


def redact(full_key: str) -> str:
    """A loggable form of a key: scheme and prefix only."""
    parsed = parse_key(full_key)
    return f"{KEY_SCHEME}_{parsed.prefix}_…" if parsed else "<malformed key>"
