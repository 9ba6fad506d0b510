"""Registry fetches reach public addresses only, unless allow-listed, and connect to the address checked."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpcore
import httpx
import pytest

from secapi.adapters.outbound.address_policy import AddressPolicy, is_public_address, split_host_port
from secapi.adapters.outbound.transport import PinnedNetworkBackend, PinnedTransport
from secapi.domain.images import RegistryNotAllowed

INTERNAL = [
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.251",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "2002:a00:1::1",  # 6to4 wrapping 10.0.0.1
    "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
    "::10.0.0.1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


@pytest.mark.parametrize("address", ["10.0.0.8", "172.16.5.5", "192.168.0.10", "127.0.0.1", "::1", "fe80::1"])
async def test_a_host_resolving_to_an_internal_address_is_refused(address: str) -> None:
    policy = AddressPolicy(resolver=_resolver({"registry.corp": [address]}))
    with pytest.raises(RegistryNotAllowed, match=r"registry.corp resolves to .*SECAPI_REGISTRY_ALLOWLIST"):
        await policy.addresses("registry.corp", 443)


async def test_one_internal_address_among_public_ones_is_enough_to_refuse() -> None:
    policy = AddressPolicy(resolver=_resolver({"mixed.example": ["93.184.216.34", "10.0.0.1"]}))
    with pytest.raises(RegistryNotAllowed):
        await policy.addresses("mixed.example", 443)


async def test_the_metadata_endpoint_is_refused() -> None:
    policy = AddressPolicy(resolver=_resolver({"169.254.169.254": ["169.254.169.254"]}))
    with pytest.raises(RegistryNotAllowed, match=r"add 169.254.169.254:80 to SECAPI_REGISTRY_ALLOWLIST"):
        await policy.addresses("169.254.169.254", 80)


@pytest.mark.parametrize(
    ("allowlist", "host", "port", "allowed"),
    [
        (["registry.corp:5000"], "registry.corp", 5000, True),
        (["registry.corp:5000"], "registry.corp", 5001, False),
        (["registry.corp"], "registry.corp", 443, True),
        (["Registry.Corp"], "registry.corp", 443, True),
        (["127.0.0.1"], "127.0.0.1", 41000, True),
        (["[::1]:5000"], "::1", 5000, True),
        (["::1"], "::1", 5000, True),
        (["other.corp"], "registry.corp", 443, False),
    ],
)
async def test_allow_listed_hosts_may_be_internal(allowlist: list[str], host: str, port: int, allowed: bool) -> None:
    policy = AddressPolicy(allowlist, resolver=_resolver({host: ["10.0.0.8"]}))
    if allowed:
        assert await policy.addresses(host, port) == ["10.0.0.8"]
    else:
        with pytest.raises(RegistryNotAllowed):
            await policy.addresses(host, port)


async def test_public_hosts_are_allowed() -> None:
    policy = AddressPolicy(resolver=_resolver({"ghcr.io": ["140.82.112.33", "2606:50c0::1"]}))
    assert await policy.addresses("ghcr.io", 443) == ["140.82.112.33", "2606:50c0::1"]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("reg:5000", ("reg", 5000)), ("REG", ("reg", None)), ("[::1]:5000", ("::1", 5000)), ("::1", ("::1", None))],
)
def test_split_host_port(text: str, parsed: tuple[str, int | None]) -> None:
    assert split_host_port(text) == parsed


class _RecordingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.connected: list[tuple[str, int]] = []
        self._refuse = refuse or set()

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.connected.append((host, port))
        if host in self._refuse:
            raise httpcore.ConnectError("refused")
        return httpcore.AsyncNetworkStream()


async def test_the_transport_connects_to_the_address_it_checked_not_the_name() -> None:
    answers = iter([["93.184.216.34"], ["10.0.0.1"]])  # a rebinding DNS server: public first, private next

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    inner = _RecordingBackend()
    backend = PinnedNetworkBackend(AddressPolicy(resolver=rebinding), inner)

    await backend.connect_tcp("rebind.example", 443)
    with pytest.raises(RegistryNotAllowed):
        await backend.connect_tcp("rebind.example", 443)
    assert inner.connected == [("93.184.216.34", 443)]


async def test_the_transport_tries_the_next_checked_address_when_one_fails() -> None:
    inner = _RecordingBackend(refuse={"2606:4700::1"})
    policy = AddressPolicy(resolver=_resolver({"dual.example": ["2606:4700::1", "93.184.216.34"]}))

    await PinnedNetworkBackend(policy, inner).connect_tcp("dual.example", 443)

    assert inner.connected == [("2606:4700::1", 443), ("93.184.216.34", 443)]


async def test_the_transport_refuses_an_internal_address_before_connecting() -> None:
    policy = AddressPolicy(resolver=_resolver({"sneaky.example": ["10.0.0.1"]}))
    async with httpx.AsyncClient(transport=PinnedTransport(policy)) as client:
        with pytest.raises(RegistryNotAllowed, match=r"sneaky\.example resolves to 10\.0\.0\.1"):
            await client.get("https://sneaky.example/v2/")
