"""opkg: an OpenWrt root filesystem's package database, listed but with no advisory source to match."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from secapi.adapters.catalog import LayerLimits, catalog_layer, parse_opkg_status
from secapi.domain.inventory import merge_layers

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

OPENWRT_OS_RELEASE = b"""\
NAME="OpenWrt"
VERSION="23.05.2"
ID="openwrt"
ID_LIKE="lede openwrt"
PRETTY_NAME="OpenWrt 23.05.2"
VERSION_ID="23.05.2"
HOME_URL="https://openwrt.org/"
OPENWRT_BOARD="x86/64"
OPENWRT_ARCH="x86_64"
"""

OPENWRT_STATUS = b"""\
Package: libc
Version: 1.2.4-4
Depends: libgcc1
Status: install hold installed
Architecture: x86_64
Installed-Time: 1700000000

Package: busybox
Version: 1.36.1-1
Depends: libc, libcrypt-compat
Status: install user installed
Architecture: x86_64
Conffiles:
 /etc/syslog.conf 8b8d7e5b3e9e0c8e7d1e6cbb5e3b2c9a1f0d4e6c7b8a9d0e1f2a3b4c5d6e7f80
Installed-Time: 1700000000

Package: dropbear
Version: 2022.82-6
Status: install user post-inst-failed
Architecture: x86_64
Installed-Time: 1700000000

Package: luci-app-old
Version: git-23.051.66410-a505bb1
Status: deinstall user config-files
Architecture: all
Installed-Time: 1700000000

Package: no-status-line
Version: 1.0-1
Architecture: x86_64
"""


def test_status_keeps_packages_whose_files_are_on_disk() -> None:
    assert [(r.kind, r.name, r.version, r.arch) for r in parse_opkg_status(OPENWRT_STATUS)] == [
        ("opkg", "libc", "1.2.4-4", "x86_64"),
        ("opkg", "busybox", "1.36.1-1", "x86_64"),
        ("opkg", "dropbear", "2022.82-6", "x86_64"),  # configuring failed after its files were unpacked
    ]


@pytest.mark.parametrize("status_path", ["usr/lib/opkg/status", "var/lib/opkg/status"])
def test_openwrt_packages_are_listed_and_said_to_have_no_advisory_source(
    build_layer: Callable[..., Path], status_path: str
) -> None:
    blob = build_layer([("etc/os-release", OPENWRT_OS_RELEASE), (status_path, OPENWRT_STATUS)])
    image = merge_layers([catalog_layer(blob, GZIP, "sha256:owrt", LayerLimits())])
    assert image.os is not None
    assert (image.os.id, image.os.ecosystem) == ("openwrt", None)
    assert [(p.ecosystem, p.name, p.version, p.location) for p in image.packages] == [
        ("opkg", "libc", "1.2.4-4", f"sha256:owrt:{status_path}"),
        ("opkg", "busybox", "1.36.1-1", f"sha256:owrt:{status_path}"),
        ("opkg", "dropbear", "2022.82-6", f"sha256:owrt:{status_path}"),
    ]
    (item,) = image.unscanned  # OpenWrt is an OS whose packages SecAPI reads: no unknown-os item
    assert (item.path, item.kind) == (f"sha256:owrt:{status_path}", "no-advisory-source")
    assert item.reason.startswith("3 opkg packages listed: no public advisory database")
