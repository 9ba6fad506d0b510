"""Platforms parse, normalise and match as OCI indexes use them."""

from __future__ import annotations

import pytest

from secapi.domain.errors import InvalidInput
from secapi.domain.images import DEFAULT_PLATFORM, Platform, parse_platform


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/arm64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm/v7", "linux/arm/v7"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("Linux/AMD64", "linux/amd64"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("windows/amd64", "windows/amd64"),
    ],
)
def test_platforms_normalise(text: str, expected: str) -> None:
    assert str(parse_platform(text)) == expected


def test_the_default_platform_is_linux_amd64() -> None:
    assert parse_platform("linux/amd64") == DEFAULT_PLATFORM


@pytest.mark.parametrize("text", ["", "linux", "linux/", "/amd64", "linux/amd64/v8/x", "linux amd64", "linux/am d64"])
def test_invalid_platforms_are_invalid_input_on_the_platform_field(text: str) -> None:
    with pytest.raises(InvalidInput, match="expected os/architecture") as caught:
        parse_platform(text)
    assert caught.value.field == "platform"


@pytest.mark.parametrize(
    ("wanted", "offered", "matches"),
    [
        ("linux/arm64", "linux/arm64/v8", True),
        ("linux/arm64/v8", "linux/arm64", True),
        ("linux/arm64", "linux/arm64/v9", False),
        ("linux/arm", "linux/arm/v7", True),
        ("linux/arm/v7", "linux/arm/v6", False),
        ("linux/amd64", "linux/amd64/v3", True),
        ("linux/amd64/v3", "linux/amd64", False),
        ("linux/amd64", "linux/arm64", False),
        ("linux/amd64", "windows/amd64", False),
    ],
)
def test_matching(wanted: str, offered: str, matches: bool) -> None:
    assert parse_platform(wanted).matches(parse_platform(offered)) is matches


def test_unnormalised_platforms_from_indexes_still_match() -> None:
    assert parse_platform("linux/arm64").matches(Platform(os="linux", architecture="aarch64", variant="v8"))
