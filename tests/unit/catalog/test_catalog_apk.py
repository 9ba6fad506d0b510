"""apk: the installed database of an Alpine 3.18 image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from secapi.adapters.catalog import LayerLimits, catalog_layer, parse_apk_installed
from secapi.domain.inventory import merge_layers

ALPINE_3_18_INSTALLED = """\
C:Q1CcbKMl8Ip8GSrHPJ0vKd2mGQEKc=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1698326588
c:ca7f2ab5e88794e4e654b40776f8a92256f50639
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1Ev0bY3M4Mz4/VxUQvrVgeLZx2Ds=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1pcPnjeAVCmhI8GN1xdFlpuCdW2k=
P:busybox
V:1.36.1-r5
A:x86_64
S:509804
I:930816
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1698316512
c:4a2ff00a3eb0ffd52ba1a82adc59e5a2f1ec9ac6
D:so:libc.musl-x86_64.so.1
p:/bin/sh cmd:busybox=1.36.1-r5 cmd:sh=1.36.1-r5
r:busybox-initscripts
F:bin
R:busybox
a:0:0:755
Z:Q1WUwBY0eOGgzgVxTZxJBZPyQUicI=
R:sh
a:0:0:777
Z:Q1pcfTfDNEbNKQc2s1tia7da05M8Q=
F:etc
R:securetty
Z:Q1mB95Hq2NUTZ599RDiSsj9w5FrOU=
R:udhcpd.conf
Z:Q1EgLFjj67ou3eMqp4m3r2ZjnQ7QU=

C:Q1dfX0/oBg7KGbm5kCvxw6RN3pKA0=
P:libcrypto3
V:3.1.4-r0
A:x86_64
S:1762014
I:4214784
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1698326300
c:6d9a2a8bbb0ce1d8d2e0a0ae4ae0cc0d7f16ef5d
D:so:libc.musl-x86_64.so.1
p:so:libcrypto.so.3=3
F:etc
F:etc/ssl
R:openssl.cnf.dist
Z:Q1sQ8KcTVEWnvhDE8Y9ANUSBlmRVI=
F:usr
F:usr/lib
R:libcrypto.so.3
a:0:0:755
Z:Q1hXMvwhFDyNPHlfb/TXUvtm8UPTE=

C:Q1L2jzV8N0M8hFh4dM8Z5yV4v7Qbo=
P:ca-certificates-bundle
V:20230506-r0
A:x86_64
S:126907
I:233472
T:Pre generated bundle of Mozilla certificates
U:https://www.mozilla.org/en-US/about/governance/policies/security-group/certs/
L:MPL-2.0 AND MIT
o:ca-certificates
m:Natanael Copa <ncopa@alpinelinux.org>
t:1683386232
c:59cbc9ed76e4f5ab1a9ea6ee05e3a0d1fa4fb2ed
p:ca-certificates-cacert=20230506-r0
F:etc
F:etc/ssl
R:cert.pem
a:0:0:777
Z:Q1Nj6gTBdkZpTFW/obJGdpfvK0StA=

""".encode()

ALPINE_OS_RELEASE = b"""\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.18.4
PRETTY_NAME="Alpine Linux v3.18"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"""


def test_installed_db_names_versions_origins_and_arches() -> None:
    records = parse_apk_installed(ALPINE_3_18_INSTALLED)
    assert [(r.name, r.version, r.source_name, r.arch) for r in records] == [
        ("musl", "1.2.4-r2", "musl", "x86_64"),
        ("busybox", "1.36.1-r5", "busybox", "x86_64"),
        ("libcrypto3", "3.1.4-r0", "openssl", "x86_64"),
        ("ca-certificates-bundle", "20230506-r0", "ca-certificates", "x86_64"),
    ]
    assert all(r.source_version == r.version for r in records)


def test_installed_db_without_trailing_blank_line_keeps_last_record() -> None:
    records = parse_apk_installed(b"P:zlib\nV:1.3-r2\no:zlib\n\nP:nameless-version-missing\n\nP:last\nV:1-r0")
    assert [(r.name, r.version, r.source_name) for r in records] == [("zlib", "1.3-r2", "zlib"), ("last", "1-r0", None)]


def test_alpine_layer_becomes_alpine_v3_18_packages(build_layer: Callable[..., Path]) -> None:
    blob = build_layer(
        [
            ("etc/os-release", ALPINE_OS_RELEASE),
            ("etc/alpine-release", b"3.18.4\n"),
            ("lib/apk/db/installed", ALPINE_3_18_INSTALLED),
            ("lib/apk/db/triggers", b"/usr/share/man\n"),
            ("bin/busybox", b"\x7fELF" + bytes(4000)),
        ]
    )
    layer = catalog_layer(blob, "application/vnd.docker.image.rootfs.diff.tar.gzip", "sha256:alp", LayerLimits())
    image = merge_layers([layer])
    assert image.os is not None
    assert image.os.ecosystem == "Alpine:v3.18"
    libcrypto = next(p for p in image.packages if p.name == "libcrypto3")
    assert (libcrypto.ecosystem, libcrypto.source_name, libcrypto.source_version) == (
        "Alpine:v3.18",
        "openssl",
        "3.1.4-r0",
    )
    assert libcrypto.purl == "pkg:apk/alpine/libcrypto3@3.1.4-r0?arch=x86_64&distro=alpine-3.18.4"
    assert libcrypto.location == "sha256:alp:lib/apk/db/installed"
    assert len(image.packages) == 4
