"""Package URLs read back into OSV packages, the way OSV's API reads them."""

from __future__ import annotations

import pytest

from secapi.domain.purl_ecosystems import PurlPackage, UnreadablePurl, parse_purl


@pytest.mark.parametrize(
    ("purl", "expected"),
    [
        ("pkg:pypi/jinja2@3.1.2", PurlPackage(ecosystem="PyPI", name="jinja2", version="3.1.2")),
        ("pkg:npm/%40babel/core@7.0.0", PurlPackage(ecosystem="npm", name="@babel/core", version="7.0.0")),
        ("pkg:npm/@babel/core", PurlPackage(ecosystem="npm", name="@babel/core")),
        ("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
         PurlPackage(ecosystem="Maven", name="org.apache.logging.log4j:log4j-core", version="2.14.1")),
        ("pkg:golang/golang.org/x/net@v0.7.0", PurlPackage(ecosystem="Go", name="golang.org/x/net", version="v0.7.0")),
        ("pkg:composer/laravel/framework@8.0.0",
         PurlPackage(ecosystem="Packagist", name="laravel/framework", version="8.0.0")),
        ("pkg:cargo/tokio@1.18.0?foo=bar#sub/path", PurlPackage(ecosystem="crates.io", name="tokio", version="1.18.0")),
        ("pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12.4",
         PurlPackage(ecosystem="Debian:12", name="curl", version="7.88.1-10")),
        ("pkg:deb/debian/curl", PurlPackage(ecosystem="Debian", name="curl")),
        ("pkg:apk/alpine/openssl@3.1.4-r0?distro=alpine-3.18.4",
         PurlPackage(ecosystem="Alpine:v3.18", name="openssl", version="3.1.4-r0")),
        ("pkg:gem/rack@2.2.3", PurlPackage(ecosystem="RubyGems", name="rack", version="2.2.3")),
    ],
)  # fmt: skip
def test_purls_name_osv_packages(purl: str, expected: PurlPackage) -> None:
    assert parse_purl(purl) == expected


@pytest.mark.parametrize(
    "purl", ["pypi/flask", "pkg:pypi/", "pkg:pypi/flask@", "pkg:unknown/x@1", "pkg:deb/mint/x@1", "pkg:" + "a" * 3000]
)
def test_unreadable_purls_are_refused(purl: str) -> None:
    with pytest.raises(UnreadablePurl):
        parse_purl(purl)


@pytest.mark.parametrize(
    ("purl", "ecosystem"),
    [
        ("pkg:deb/debian/curl@7.88.1-10?distro=debian-bookworm", "Debian:12"),
        ("pkg:rpm/suse/openssl@1.1.1l?distro=sles-15.5", "SUSE:Linux Enterprise Server 15 SP5"),
        ("pkg:rpm/opensuse/curl@8.0.1?distro=opensuse-leap-15.5", "openSUSE:Leap 15.5"),
        ("pkg:rpm/redhat/openssl@1.1.1k-7.el8?distro=redhat-8.6", "Red Hat:enterprise_linux:8"),
    ],
)
def test_a_release_is_named_as_an_image_of_it_and_an_sbom_entry_are(purl: str, ecosystem: str) -> None:
    # One reading for the OSV API and SBOM scans: a query names the ecosystem the image scan would match.
    from packageurl import PackageURL

    from secapi.domain.purl import purl_package

    assert parse_purl(purl).ecosystem == ecosystem
    assert purl_package(PackageURL.from_string(purl)).ecosystem == ecosystem
