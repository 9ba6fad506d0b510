"""Outbound HTTP to tenant-chosen hosts: the address policy and the transport that pins each connection to an
approved address. Shared by the registry client and the webhook sender, so both refuse internal addresses
the same way."""

from secapi.adapters.outbound.address_policy import AddressPolicy, Resolver, is_public_address, split_host_port
from secapi.adapters.outbound.transport import PinnedNetworkBackend, PinnedTransport

__all__ = [
    "AddressPolicy",
    "PinnedNetworkBackend",
    "PinnedTransport",
    "Resolver",
    "is_public_address",
    "split_host_port",
]
