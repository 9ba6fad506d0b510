"""Webhook URLs: https to public addresses only, unless allow-listed; checked when registered."""

from __future__ import annotations

import ipaddress

import pytest

from secapi.adapters.webhooks.url_policy import WebhookAddressPolicy
from secapi.domain.images import RegistryUnavailable
from secapi.domain.notifications import InvalidWebhookUrl

DNS = {
    "hooks.example": ["93.184.216.34"],
    "dual.example": ["93.184.216.34", "2606:4700:4700::1111"],
    "corp.example": ["10.1.2.3"],
    "sneaky.example": ["93.184.216.34", "192.168.1.1"],
    "localhost": ["127.0.0.1", "::1"],
    "metadata.google.internal": ["169.254.169.254"],
    "xn--bcher-kva.example": ["93.184.216.34"],
}


async def fake_resolver(host: str, port: int) -> list[str]:
    if host in DNS:
        return DNS[host]
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        raise RegistryUnavailable(f"cannot resolve registry host {host}") from None


def policy(*allowlist: str) -> WebhookAddressPolicy:
    return WebhookAddressPolicy(allowlist, resolver=fake_resolver)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example/secapi",
        "https://hooks.example:8443/a?b=c",
        "https://dual.example/",
        "https://93.184.216.34/hook",
        "https://bücher.example/hook",
    ],
)
async def test_https_urls_of_public_hosts_are_accepted(url: str) -> None:
    await policy().check(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://corp.example/hook",
        "https://sneaky.example/hook",
        "https://localhost/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
    ],
)
async def test_internal_addresses_are_refused_without_revealing_them(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl, match="internal address") as caught:
        await policy().check(url)
    assert caught.value.field == "url"
    for address in ("10.1.2.3", "192.168.1.1", "169.254.169.254"):
        if address not in url:
            assert address not in str(caught.value)


@pytest.mark.parametrize(
    ("allowlist", "url"),
    [
        ("127.0.0.1", "https://127.0.0.1:9000/hook"),
        ("127.0.0.1:9000", "http://127.0.0.1:9000/hook"),
        ("corp.example", "https://corp.example/hook"),
        ("[::1]:9000", "http://[::1]:9000/hook"),
    ],
)
async def test_allow_listed_hosts_may_be_internal_and_plain_http(allowlist: str, url: str) -> None:
    await policy(allowlist).check(url)


async def test_the_allowlist_port_must_match_when_given() -> None:
    with pytest.raises(InvalidWebhookUrl):
        await policy("127.0.0.1:9000").check("https://127.0.0.1:9001/hook")


@pytest.mark.parametrize("url", ["http://hooks.example/hook", "http://corp.example/hook"])
async def test_plain_http_is_refused_unless_allow_listed(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl, match="https://"):
        await policy().check(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example/x", "https://"),
        ("file:///etc/passwd", "https://"),
        ("hooks.example/x", "https://"),
        ("https:///x", "no host"),
        ("https://user:pw@hooks.example/x", "credentials"),
        ("https://hooks.example/x#frag", "fragment"),
        ("https://hooks.example/a b", "whitespace"),
        ("https://hooks.example/\x00", "control"),
        ("https://hooks.example:99999/x", "parsed"),
        ("https://hooks.example:0/x", "port"),
        ("https://hooks.example/" + "a" * 2000, "longer than 2000"),
        ("https://nowhere.invalid/x", "does not resolve"),
    ],
)
async def test_malformed_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(InvalidWebhookUrl, match=reason):
        await policy().check(url)
