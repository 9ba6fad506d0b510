"""Which addresses an outbound fetch (registry or webhook) may reach: public ones, plus allow-listed hosts."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

from secapi.domain.images import RegistryNotAllowed, RegistryUnavailable

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves (host, port) to IP address strings."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


async def system_resolver(host: str, port: int) -> list[str]:
    """getaddrinfo in the default executor thread (asyncio runs it there), deduplicated, in order."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RegistryUnavailable(f"cannot resolve registry host {host}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public_address(address: IPAddress) -> bool:
    """True for globally routable unicast addresses; False for anything internal, special or embedding one."""
    if isinstance(address, ipaddress.IPv6Address):
        # Addresses that carry an IPv4 address are judged by that address: a mapped 10.0.0.1 is still 10.0.0.1.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def split_host_port(text: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address → (lowercase host, port or None)."""
    text = text.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port) if port.isdigit() else None
    return text, None


class AddressPolicy:
    """Refuses hosts that resolve to internal addresses unless `host` or `host:port` is allow-listed."""

    def __init__(self, allowlist: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        self._allowed = frozenset(split_host_port(entry) for entry in allowlist if entry.strip())
        self._resolve = resolver or system_resolver

    def is_allow_listed(self, host: str, port: int) -> bool:
        """True if `host` (any port) or `host:port` is in the allowlist."""
        host = host.lower().strip("[]")
        return (host, None) in self._allowed or (host, port) in self._allowed

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of `host` that may be connected to; raises `RegistryNotAllowed` if any is internal.

        One internal address is enough to refuse: a name that resolves to both a public and a private
        address could otherwise be steered to the private one.
        """
        resolved = await self._resolve(host, port)
        if not resolved:
            raise RegistryUnavailable(f"registry host {host} has no addresses")
        if self.is_allow_listed(host, port):
            return resolved
        for text in resolved:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
            except ValueError:
                raise RegistryNotAllowed(
                    f"registry host {host} resolves to {text!r}, which is not an IP address"
                ) from None
            if not is_public_address(address):
                shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                raise RegistryNotAllowed(
                    f"registry host {host} resolves to {address}, a private, loopback or otherwise internal "
                    f"address; add {shown} to SECAPI_REGISTRY_ALLOWLIST to allow it"
                )
        return resolved
