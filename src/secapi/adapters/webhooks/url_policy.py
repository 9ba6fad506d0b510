"""Which webhook URLs SecAPI will call: the registry address policy, applied to webhooks with their own allowlist.

Rules: `https://` only, `http://` only for allow-listed hosts; every address the host resolves to must
be public (no private, loopback, link-local — which includes cloud metadata at 169.254.169.254 —
multicast, reserved, or IPv6 forms embedding one) unless `host` or `host:port` is allow-listed. The
allowlist is deliberately not the registry one: an internal registry that scans may reach is not a
place every tenant may POST to.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from secapi.adapters.outbound.address_policy import AddressPolicy, Resolver
from secapi.domain.images import RegistryNotAllowed, RegistryUnavailable
from secapi.domain.notifications import InvalidWebhookUrl, WebhookUrlPolicy, check_webhook_url

INTERNAL_ADDRESS = (
    "is or resolves to a private, loopback, link-local or otherwise internal address; "
    "webhooks may only reach public addresses"
)


class WebhookAddressPolicy(WebhookUrlPolicy):
    """`WebhookUrlPolicy`: the URL's scheme and allowlist here, its addresses through `AddressPolicy`."""

    def __init__(self, allowlist: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        self.addresses = AddressPolicy(allowlist, resolver)
        """Shared with the sender's pinned transport, which re-checks at every connect."""

    def target(self, url: str) -> tuple[str, int]:
        """(host, port) of a URL whose shape and scheme are allowed; `InvalidWebhookUrl` otherwise. No DNS."""
        check_webhook_url(url)
        try:
            parsed = httpx.URL(url)
            host = parsed.raw_host.decode("ascii")  # IDNA-encoded: the name DNS and the transport will see
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise InvalidWebhookUrl(f"the URL cannot be parsed: {exc}") from None
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if parsed.scheme == "http" and not self.addresses.is_allow_listed(host, port):
            raise InvalidWebhookUrl("the URL must use https:// (plain http is only allowed for allow-listed hosts)")
        return host, port

    async def check(self, url: str) -> None:
        """Shape, scheme and resolved addresses; `InvalidWebhookUrl` (422) with the reason."""
        host, port = self.target(url)
        try:
            await self.addresses.addresses(host, port)
        except RegistryNotAllowed:
            # The resolved address is not echoed back: it would let tenants map internal DNS names.
            raise InvalidWebhookUrl(f"the URL's host {host} {INTERNAL_ADDRESS}") from None
        except RegistryUnavailable:
            raise InvalidWebhookUrl(f"the URL's host {host} does not resolve to any address") from None
