"""Sending registry requests: address policy, auth challenges, hand-followed redirects and retries."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TypeVar

import httpx
import msgspec

from secapi.adapters.outbound.address_policy import AddressPolicy, split_host_port
from secapi.adapters.registry.auth import (
    Challenge,
    TokenCache,
    basic_header,
    parse_challenges,
    parse_token_response,
    preferred_challenge,
)
from secapi.adapters.registry.retry import RETRYABLE_STATUSES, RetryLater, backoff_delay, parse_retry_after
from secapi.domain.images import (
    DOCKER_HUB,
    ImageNotFound,
    ImageRejected,
    RegistryAuthError,
    RegistryUnavailable,
)

T = TypeVar("T")

MAX_REDIRECTS = 5
MAX_SMALL_BODY = 1024 * 1024
"""Largest token or error body read into memory."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DOCKER_HUB_API = "registry-1.docker.io"
_DOCKER_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/")


class _RegistryErrors(msgspec.Struct):
    errors: list[dict[str, object]] = msgspec.field(default_factory=list)


class RegistrySession:
    """One registry conversation layer shared by every request of `HttpRegistryClient`."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        policy: AddressPolicy,
        insecure: frozenset[str],
        credentials: Mapping[str, tuple[str, str]],
        retries: int,
        backoff_base: float,
        max_retry_wait: float,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._policy = policy
        self._insecure = frozenset(split_host_port(entry) for entry in insecure if entry.strip())
        self._credentials = {key.lower(): value for key, value in credentials.items()}
        self._retries = retries
        self._backoff_base = backoff_base
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._clock = clock
        self._tokens = TokenCache()

    def base_url(self, registry: str) -> str:
        """`https://host[:port]` of the registry API (`http://` for hosts listed as insecure)."""
        host = _DOCKER_HUB_API if registry == DOCKER_HUB else registry
        return f"{'http' if self._is_insecure(registry) else 'https'}://{host}"

    async def retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run `attempt`, again after a backoff on timeouts, connection errors, 429 and 5xx."""
        reason = ""
        for number in range(self._retries + 1):
            retry_after: float | None = None
            try:
                return await attempt()
            except RetryLater as exc:
                reason, retry_after = exc.reason, exc.retry_after
            except httpx.TimeoutException as exc:
                reason = f"the registry did not answer in time ({type(exc).__name__})"
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason = f"the connection failed ({type(exc).__name__}: {exc})"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                # Not transient (a malformed header or body encoding): retrying would fail the same way.
                raise RegistryUnavailable(f"{what}: the exchange failed ({type(exc).__name__}: {exc})") from exc
            if number == self._retries:
                break
            wait = retry_after if retry_after is not None else backoff_delay(number, self._backoff_base, 30.0)
            if wait > self._max_retry_wait:
                raise RegistryUnavailable(f"{what}: {reason}; the registry asks to wait {wait:.0f} s")
            await self._sleep(wait)
        raise RegistryUnavailable(f"{what}: {reason} (gave up after {self._retries + 1} attempts)")

    @asynccontextmanager
    async def open(
        self,
        method: str,
        url: str,
        *,
        registry: str,
        repository: str,
        headers: Mapping[str, str],
        not_found: str,
    ) -> AsyncIterator[httpx.Response]:
        """One attempt at a registry resource, authenticated; yields a 2xx response with its body unread."""
        scope = f"repository:{repository}:pull"
        authorization = self._tokens.get((registry, scope), self._clock())
        for round_number in range(2):
            response = await self._follow(method, url, headers, authorization, registry)
            if response.status_code != 401:
                break
            challenge = preferred_challenge(parse_challenges(response.headers.get_list("www-authenticate")))
            await response.aclose()
            if round_number == 1 or challenge is None:
                raise RegistryAuthError(
                    f"registry {registry} refused access to {repository}: the repository does not exist, "
                    "or it needs credentials (SECAPI_REGISTRY_CREDENTIALS) that were missing or wrong"
                )
            authorization = await self._authorize(registry, scope, challenge)
        try:
            await self._check_status(response, registry, repository, not_found)
            yield response
        finally:
            await response.aclose()

    async def read_limited(self, response: httpx.Response, limit: int, what: str) -> bytes:
        """The whole body, refusing (before reading, when declared) anything over `limit` bytes."""
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ImageRejected(f"{what} is {declared} bytes; the limit is {limit}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise ImageRejected(f"{what} is larger than the limit of {limit} bytes")
        return bytes(body)

    async def _check_status(self, response: httpx.Response, registry: str, repository: str, not_found: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 404:
            raise ImageNotFound(not_found)
        if status in RETRYABLE_STATUSES:
            raise RetryLater(f"the registry answered {status}", parse_retry_after(response.headers.get("retry-after")))
        detail = await self._error_detail(response)
        if status == 403:
            raise RegistryAuthError(f"registry {registry} denied access to {repository}{detail}")
        raise ImageRejected(f"registry {registry} answered {status} for {repository}{detail}")

    async def _error_detail(self, response: httpx.Response) -> str:
        if response.request.method == "HEAD":
            return ""
        try:
            body = await self.read_limited(response, MAX_SMALL_BODY, "error body")
            errors = msgspec.json.decode(body, type=_RegistryErrors).errors
        except (ImageRejected, msgspec.DecodeError, httpx.HTTPError):
            return ""
        messages = [str(error.get("message") or error.get("code") or "") for error in errors]
        return f": {'; '.join(m for m in messages if m)[:300]}" if any(messages) else ""

    async def _follow(
        self, method: str, url: str, headers: Mapping[str, str], authorization: str | None, registry: str
    ) -> httpx.Response:
        """Send, following redirects by hand so each hop passes the address policy and keeps its credentials home."""
        target = httpx.URL(url)
        origin = (target.scheme, target.host, target.port)
        for _ in range(MAX_REDIRECTS + 1):
            await self._check_address(target)
            request_headers = dict(headers)
            if authorization and (target.scheme, target.host, target.port) == origin:
                request_headers["Authorization"] = authorization
            request = self._client.build_request(method, target, headers=request_headers)
            response = await self._client.send(request, stream=True)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or location is None:
                return response
            await response.aclose()
            next_target = target.join(location)  # httpx has already refused an unparseable Location
            if next_target.scheme not in ("http", "https"):
                raise ImageRejected(f"registry {registry} redirected to unsupported URL scheme {next_target.scheme!r}")
            if next_target.scheme == "http" and target.scheme == "https" and not self._is_insecure(next_target.host):
                raise ImageRejected(f"registry {registry} redirected from HTTPS to plain HTTP ({next_target.host})")
            if response.status_code == 303:
                method = "GET" if method != "HEAD" else method
            target = next_target
        raise ImageRejected(f"registry {registry} redirected more than {MAX_REDIRECTS} times")

    async def _check_address(self, url: httpx.URL) -> None:
        # The transport re-checks at connect time; checking here too gives a clear error before any
        # connection attempt, and covers transports (tests) that do not pin addresses.
        port = url.port or (443 if url.scheme == "https" else 80)
        await self._policy.addresses(url.host, port)

    async def _authorize(self, registry: str, scope: str, challenge: Challenge) -> str:
        credentials = self._credentials_for(registry)
        if challenge.scheme == "basic":
            if credentials is None:
                raise RegistryAuthError(
                    f"registry {registry} requires credentials; configure them in SECAPI_REGISTRY_CREDENTIALS"
                )
            value = basic_header(*credentials)
            self._tokens.put((registry, scope), value, 3600.0, self._clock())
            return value
        realm = challenge.realm
        if not realm:
            raise RegistryAuthError(f"registry {registry} sent a Bearer challenge without a realm")
        try:
            realm_url = httpx.URL(realm)
        except httpx.InvalidURL:
            raise RegistryAuthError(f"registry {registry} names an invalid token realm {realm[:200]!r}") from None
        if realm_url.scheme not in ("http", "https"):
            raise RegistryAuthError(f"registry {registry} names token realm {realm!r} with an unsupported scheme")
        if realm_url.scheme == "http" and not (self._is_insecure(registry) or self._is_insecure(realm_url.host)):
            raise RegistryAuthError(
                f"token realm {realm} of registry {registry} is plain HTTP; list its host in SECAPI_REGISTRY_INSECURE"
            )
        params = {"scope": challenge.params.get("scope") or scope}
        if "service" in challenge.params:
            params["service"] = challenge.params["service"]
        # The Basic header goes as `authorization` so that _follow drops it if the realm redirects elsewhere.
        basic = basic_header(*credentials) if credentials else None
        token_url = str(realm_url.copy_merge_params(params))
        response = await self._follow("GET", token_url, {"Accept": "application/json"}, basic, registry)
        try:
            if response.status_code in (401, 403):
                raise RegistryAuthError(f"token service {realm} refused the credentials for registry {registry}")
            if response.status_code in RETRYABLE_STATUSES:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                raise RetryLater(f"token service {realm} answered {response.status_code}", retry_after)
            if not 200 <= response.status_code < 300:
                raise RegistryAuthError(f"token service {realm} answered {response.status_code}")
            token, lifetime = parse_token_response(await self.read_limited(response, MAX_SMALL_BODY, "token"), realm)
        finally:
            await response.aclose()
        value = f"Bearer {token}"
        self._tokens.put((registry, scope), value, float(lifetime), self._clock())
        return value

    def _credentials_for(self, registry: str) -> tuple[str, str] | None:
        names = _DOCKER_HUB_NAMES if registry == DOCKER_HUB else (registry,)
        for name in names:
            if name in self._credentials:
                return self._credentials[name]
        return None

    def _is_insecure(self, host_port: str) -> bool:
        host, port = split_host_port(host_port)
        return (host, port) in self._insecure or (host, None) in self._insecure
