"""Registry authentication: parsing `WWW-Authenticate` challenges and caching bearer tokens."""

from __future__ import annotations

import base64
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

from secapi.domain.images import RegistryAuthError

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?=\s|$)")
_PARAM = re.compile(r'([A-Za-z0-9!#$%&\'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))')
_SEPARATORS = " \t,"

DEFAULT_TOKEN_LIFETIME = 60
"""Seconds a token lives when the token service does not say (the distribution token spec's default)."""


@dataclass(frozen=True)
class Challenge:
    """One `WWW-Authenticate` challenge: a scheme (lowercase) and its parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        """Where to ask for a token (Bearer) or the protection space (Basic)."""
        return self.params.get("realm")


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Every challenge in the given header values (one header may hold several, comma-separated)."""
    challenges: list[Challenge] = []
    for value in values:
        params: dict[str, str] | None = None
        position = 0
        while position < len(value):
            if value[position] in _SEPARATORS:
                position += 1
                continue
            param = _PARAM.match(value, position)
            if param and params is not None:
                quoted, bare = param.group(2), param.group(3)
                params[param.group(1).lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
                position = param.end()
                continue
            scheme = _SCHEME.match(value, position)
            if scheme is None:
                break  # malformed from here on; keep what was understood
            params = {}
            challenges.append(Challenge(scheme=scheme.group(1).lower(), params=params))
            position = scheme.end()
    return challenges


def preferred_challenge(challenges: list[Challenge]) -> Challenge | None:
    """Bearer if offered (no password leaves SecAPI for the registry itself), else Basic, else None."""
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def basic_header(username: str, password: str) -> str:
    """`Basic <base64(user:password)>`."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class _TokenResponse(msgspec.Struct, kw_only=True):
    token: str | None = None
    access_token: str | None = None
    expires_in: int | None = None


def parse_token_response(data: bytes, realm: str) -> tuple[str, int]:
    """(token, lifetime in seconds) from a token service's JSON answer."""
    try:
        answer = msgspec.json.decode(data, type=_TokenResponse)
    except msgspec.DecodeError as exc:
        raise RegistryAuthError(f"token service {realm} answered with invalid JSON: {exc}") from None
    token = answer.token or answer.access_token
    if not token:
        raise RegistryAuthError(f"token service {realm} answered without a token")
    lifetime = answer.expires_in if answer.expires_in and answer.expires_in > 0 else DEFAULT_TOKEN_LIFETIME
    return token, lifetime


class TokenCache:
    """Authorization header values per (registry, scope), dropped shortly before they expire; bounded in size."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()
        self._max_entries = max_entries

    def get(self, key: tuple[str, str], now: float) -> str | None:
        """The cached header value, or None if absent or (nearly) expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: tuple[str, str], value: str, lifetime: float, now: float) -> None:
        """Cache `value` for `lifetime` seconds less a margin, so a token is never sent as it expires."""
        margin = min(30.0, lifetime * 0.1)
        self._entries[key] = (value, now + lifetime - margin)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
