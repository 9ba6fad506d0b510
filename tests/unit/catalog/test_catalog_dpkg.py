"""dpkg: the status file of a Debian 12 image and the status.d directory of a distroless one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from secapi.adapters.catalog import LayerLimits, catalog_layer, parse_dpkg_status, parse_dpkg_status_d
from secapi.domain.inventory import merge_layers

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LIMITS = LayerLimits()

DEBIAN_12_STATUS = b"""\
Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u5
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Pre-Depends: awk
Breaks: debian-security-support (<< 2019.04.25), initscripts (<< 2.88dsf-13.3), sendfile (<< 2.1b.20080616-5.2~)
Conffiles:
 /etc/debian_version 31e4a2ce1c7bd8ae2fb15a4d8d9d2b8c
 /etc/dpkg/origins/debian c47b6815f67ad1aeccb0d4529bd0b990
 /etc/host.conf 4eb63731c9f5e30903ac4fc07a7fe3d6
 /etc/issue 2b4b2ae6ec4ab0a4d5a9bd8d7bc2e1cd
 /etc/issue.net 3b4b9e1f6c8d1d6f1dbb4ac7b6a8c9d5
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system, and
 several important miscellaneous files, such as /etc/debian_version,
 /etc/host.conf, /etc/issue, /etc/motd, /etc/profile, and others,
 and the text of several common licenses in use on Debian systems.
 .
 Package: not-a-package-line-but-a-continuation
Homepage: https://tracker.debian.org/pkg/base-files

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12985
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc (2.36-9+deb12u3)
Version: 2.36-9+deb12u3
Replaces: libc6-amd64
Depends: libgcc-s1
Recommends: libidn2-0 (>= 2.0.5~)
Suggests: glibc-doc, debconf | debconf-2.0, libc-l10n, locales, libnss-nis, libnss-nisplus
Breaks: aide (<< 0.17.3-4+b3), busybox (<< 1.30.1-6), chrony (<< 4.2-3~), fakechroot (<< 2.19-3.5)
Conffiles:
 /etc/ld.so.conf.d/x86_64-linux-gnu.conf d4e7a7b88a71b5ffd9e2644e71a0cfab
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system. This package includes shared versions of the standard C library
 and the standard math library, as well as many others.
Homepage: https://www.gnu.org/software/libc/libc.html

Package: login
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 2619
Maintainer: Shadow package maintainers <pkg-shadow-devel@lists.alioth.debian.org>
Architecture: amd64
Source: shadow (1:4.13+dfsg1-1)
Version: 1:4.13+dfsg1-1+b1
Pre-Depends: libc6 (>= 2.34), libcrypt1 (>= 1:4.1.0), libpam0g (>= 0.99.7.1), libpam-runtime, libpam-modules
Conffiles:
 /etc/login.defs 6c5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e
 /etc/pam.d/login 1fd6cb4d4267a68148ee9973510a9d3e
Description: system login tools
 This package provides some required infrastructure for logins and for
 changing effective user or group IDs, including: login, the program that
 invokes a user shell on a virtual terminal; nologin, a dummy shell for shell-less
 accounts; su, a basic tool for executing commands as root or another user.
Homepage: https://github.com/shadow-maint/shadow

Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6156
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols for secure communication over the
 Internet.
Homepage: https://www.openssl.org/

Package: libgdbm6
Status: deinstall ok config-files
Priority: optional
Section: libs
Installed-Size: 121
Maintainer: Nicolas Mora <babelouest@debian.org>
Architecture: amd64
Source: gdbm
Version: 1.23-3
Description: GNU dbm database routines (runtime version)

Package: libperl5.36
Status: install reinstreq half-installed
Priority: optional
Section: libs
Architecture: amd64
Source: perl
Version: 5.36.0-7+deb12u1
Description: shared Perl library

Package: tzdata
Status: hold ok installed
Priority: required
Section: localization
Installed-Size: 3466
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: all
Multi-Arch: foreign
Version: 2024a-0+deb12u1
Provides: tzdata-bookworm
Depends: debconf (>= 0.5) | debconf-2.0
Description: time zone and daylight-saving time data
 This package contains data required for the implementation of
 standard local time for many representative locations around the
 globe.
"""

DEBIAN_12_OS_RELEASE = b"""\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

DISTROLESS_OS_RELEASE = b"""\
PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="12"
VERSION="Debian GNU/Linux 12 (bookworm)"
HOME_URL="https://github.com/GoogleContainerTools/distroless"
SUPPORT_URL="https://github.com/GoogleContainerTools/distroless/blob/master/README.md"
BUG_REPORT_URL="https://github.com/GoogleContainerTools/distroless/issues/new"
"""

DISTROLESS_LIBC6 = b"""\
Package: libc6
Source: glibc
Version: 2.36-9+deb12u4
Architecture: amd64
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Installed-Size: 12986
Depends: libgcc-s1
Recommends: libidn2-0 (>= 2.0.5~)
Section: libs
Priority: optional
Multi-Arch: same
Homepage: https://www.gnu.org/software/libc/libc.html
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system. This package includes shared versions of the standard C library
 and the standard math library, as well as many others.
"""

DISTROLESS_BASE_FILES = b"""\
Package: base-files
Version: 12.4+deb12u5
Architecture: amd64
Essential: yes
Priority: required
Section: admin
Maintainer: Santiago Vila <sanvila@debian.org>
Description: Debian base system miscellaneous files
"""


def test_status_keeps_packages_whose_files_are_on_disk() -> None:
    records = parse_dpkg_status(DEBIAN_12_STATUS)
    assert [(r.name, r.version) for r in records] == [
        ("base-files", "12.4+deb12u5"),
        ("libc6", "2.36-9+deb12u3"),
        ("login", "1:4.13+dfsg1-1+b1"),
        ("libssl3", "3.0.11-1~deb12u2"),
        ("libperl5.36", "5.36.0-7+deb12u1"),  # half-installed: some of its files may be there
        ("tzdata", "2024a-0+deb12u1"),
    ]


@pytest.mark.parametrize("wanted", ["install", "hold", "deinstall", "purge", "unknown"])
@pytest.mark.parametrize(
    ("state", "on_disk"),
    [
        ("installed", True),
        ("half-installed", True),
        ("unpacked", True),
        ("half-configured", True),
        ("triggers-awaited", True),
        ("triggers-pending", True),
        ("config-files", False),
        ("not-installed", False),
    ],
)
def test_the_state_not_the_wanted_action_decides_whether_a_package_is_there(
    wanted: str, state: str, on_disk: bool
) -> None:
    stanza = f"Package: libfoo\nStatus: {wanted} ok {state}\nArchitecture: amd64\nVersion: 1.0-1\n".encode()
    assert [r.name for r in parse_dpkg_status(stanza)] == (["libfoo"] if on_disk else [])


def test_a_main_status_stanza_without_status_is_not_installed_but_a_status_d_one_is() -> None:
    stanza = b"Package: libfoo\nArchitecture: amd64\nVersion: 1.0-1\n"
    assert parse_dpkg_status(stanza) == ()
    assert [r.name for r in parse_dpkg_status_d(stanza)] == ["libfoo"]
    removed = b"Package: libfoo\nStatus: purge ok not-installed\nVersion: 1.0-1\n"
    assert parse_dpkg_status_d(removed) == ()


def test_status_source_field_gives_source_name_and_version() -> None:
    by_name = {r.name: r for r in parse_dpkg_status(DEBIAN_12_STATUS)}
    assert (by_name["libc6"].source_name, by_name["libc6"].source_version) == ("glibc", "2.36-9+deb12u3")
    # binNMU: the binary's version has +b1, the source's does not (and keeps the epoch)
    assert (by_name["login"].source_name, by_name["login"].source_version) == ("shadow", "1:4.13+dfsg1-1")
    # `Source: openssl` without a version: the source version is the binary's
    assert (by_name["libssl3"].source_name, by_name["libssl3"].source_version) == ("openssl", "3.0.11-1~deb12u2")
    assert (by_name["base-files"].source_name, by_name["base-files"].source_version) == (None, None)
    assert by_name["libc6"].arch == "amd64"
    assert by_name["tzdata"].arch == "all"


def test_status_handles_crlf_and_missing_trailing_newline() -> None:
    text = b"Package: a\r\nStatus: install ok installed\r\nVersion: 1.0\r\n\r\n"
    text += b"Package: b\nStatus: install ok unpacked\nVersion: 2"
    assert [(r.name, r.version) for r in parse_dpkg_status(text)] == [("a", "1.0"), ("b", "2")]


def test_status_with_garbage_yields_nothing_rather_than_failing() -> None:
    assert parse_dpkg_status(b"\x00\xff\xfe garbage\n\n: :\n") == ()


def test_debian_layer_becomes_debian_12_packages_with_purls(build_layer: Callable[..., Path]) -> None:
    blob = build_layer(
        [
            ("./", "dir"),
            ("./etc/", "dir"),
            ("./etc/os-release", "symlink:../usr/lib/os-release"),
            ("./etc/debian_version", b"12.5\n"),
            ("./usr/lib/os-release", DEBIAN_12_OS_RELEASE),
            ("./var/lib/dpkg/status", DEBIAN_12_STATUS),
            ("./var/lib/dpkg/status-old", DEBIAN_12_STATUS),
            ("./var/lib/dpkg/info/libc6:amd64.list", b"/lib/x86_64-linux-gnu/libc.so.6\n"),
        ]
    )
    layer = catalog_layer(blob, GZIP, "sha256:aaa", LIMITS)
    assert set(layer.packages) == {"var/lib/dpkg/status"}
    assert set(layer.os_files) == {"etc/debian_version", "usr/lib/os-release"}
    assert layer.deleted == ("etc/os-release",)  # the symlink hides any lower etc/os-release
    assert layer.skipped == {}

    image = merge_layers([layer])
    assert image.os is not None
    assert (image.os.id, image.os.version_id, image.os.ecosystem) == ("debian", "12", "Debian:12")
    libc6 = next(p for p in image.packages if p.name == "libc6")
    assert libc6.ecosystem == "Debian:12"
    assert libc6.purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u3?arch=amd64&distro=debian-12"
    assert (libc6.source_name, libc6.source_version) == ("glibc", "2.36-9+deb12u3")
    assert libc6.location == "sha256:aaa:var/lib/dpkg/status"
    login = next(p for p in image.packages if p.name == "login")
    assert login.purl == "pkg:deb/debian/login@1:4.13%2Bdfsg1-1%2Bb1?arch=amd64&distro=debian-12"
    assert len(image.packages) == 6
    assert image.unscanned == ()


def test_distroless_status_d_files_are_one_stanza_each(build_layer: Callable[..., Path]) -> None:
    blob = build_layer(
        [
            ("etc/os-release", DISTROLESS_OS_RELEASE),
            ("var/lib/dpkg/status.d/", "dir"),
            ("var/lib/dpkg/status.d/base-files", DISTROLESS_BASE_FILES),
            ("var/lib/dpkg/status.d/libc6", DISTROLESS_LIBC6),
            ("var/lib/dpkg/status.d/libc6.md5sums", b"0e1f6c3f2e0d3ad1c3fbd8d7ac1b29b9  lib/libc.so.6\n"),
            ("var/lib/dpkg/status.d/nested/ignored", DISTROLESS_LIBC6),
        ]
    )
    layer = catalog_layer(blob, GZIP, "sha256:bbb", LIMITS)
    assert sorted(layer.packages) == ["var/lib/dpkg/status.d/base-files", "var/lib/dpkg/status.d/libc6"]

    image = merge_layers([layer])
    assert image.os is not None
    assert (image.os.pretty_name, image.os.ecosystem) == ("Distroless", "Debian:12")
    assert sorted((p.name, p.version, p.ecosystem, p.source_name) for p in image.packages) == [
        ("base-files", "12.4+deb12u5", "Debian:12", None),
        ("libc6", "2.36-9+deb12u4", "Debian:12", "glibc"),
    ]
