"""Purls read back into the packages a lockfile or an image scan gives: ecosystem, name, version, source."""

from __future__ import annotations

import pytest
from packageurl import PackageURL

from secapi.domain.purl import SourcePackage, UnscannablePurl, purl_package


def package(purl: str, **kwargs: object) -> tuple[str, str, str, str | None, str | None]:
    found = purl_package(PackageURL.from_string(purl), **kwargs)  # type: ignore[arg-type]
    return found.ecosystem, found.name, found.version, found.source_name, found.source_version


@pytest.mark.parametrize(
    ("purl", "expected"),
    [
        ("pkg:pypi/flask@2.2.4", ("PyPI", "flask", "2.2.4", None, None)),
        ("pkg:npm/%40angular/core@16.0.0", ("npm", "@angular/core", "16.0.0", None, None)),
        ("pkg:golang/github.com/gin-gonic/gin@v1.9.0", ("Go", "github.com/gin-gonic/gin", "1.9.0", None, None)),
        (
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            ("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1", None, None),
        ),
        ("pkg:composer/symfony/http-kernel@6.0.0", ("Packagist", "symfony/http-kernel", "6.0.0", None, None)),
        ("pkg:cargo/smallvec@1.6.0", ("crates.io", "smallvec", "1.6.0", None, None)),
        ("pkg:gem/rack@2.2.3", ("RubyGems", "rack", "2.2.3", None, None)),
        ("pkg:nuget/Newtonsoft.Json@12.0.1", ("NuGet", "Newtonsoft.Json", "12.0.1", None, None)),
        # The epoch is a qualifier in purls and part of the version in dpkg and rpm, as the image scans keep it.
        (
            "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?distro=debian-12.4&epoch=1",
            ("Debian:12", "zlib1g", "1:1.2.13.dfsg-1", None, None),
        ),
        (
            "pkg:deb/debian/libc6@2.36-9?distro=bookworm&upstream=glibc",
            ("Debian:12", "libc6", "2.36-9", "glibc", "2.36-9"),
        ),
        (
            "pkg:deb/ubuntu/libc6@2.35-0ubuntu3?distro=ubuntu-22.04&upstream=glibc%402.35-0ubuntu3",
            ("Ubuntu:22.04", "libc6", "2.35-0ubuntu3", "glibc", "2.35-0ubuntu3"),
        ),
        ("pkg:apk/alpine/busybox@1.36.1-r2?distro=alpine-3.18.4", ("Alpine:v3.18", "busybox", "1.36.1-r2", None, None)),
        (
            "pkg:rpm/rocky/openssl@3.0.7-24.el9?distro=rocky-9.3&epoch=1",
            ("Rocky Linux:9", "openssl", "1:3.0.7-24.el9", None, None),
        ),
        (
            "pkg:rpm/redhat/openssl@3.0.7-24.el9?distro=redhat-9.3",
            ("Red Hat:enterprise_linux:9", "openssl", "3.0.7-24.el9", None, None),
        ),
    ],
)
def test_purls_name_the_packages_lockfiles_and_images_name(
    purl: str, expected: tuple[str, str, str, str | None, str | None]
) -> None:
    assert package(purl) == expected


def test_the_documents_own_spelling_is_kept_when_it_names_the_same_package() -> None:
    assert package("pkg:pypi/flask@2.2.4", declared_name="Flask")[1] == "Flask"
    assert package("pkg:pypi/flask@2.2.4", declared_name="something-else")[1] == "flask"


def test_a_source_the_document_states_wins_and_the_os_fills_a_missing_distro() -> None:
    found = package("pkg:deb/debian/libc6@2.36-9", source=SourcePackage("glibc", "2.36-9"), os=("debian", "12.4"))
    assert found == ("Debian:12", "libc6", "2.36-9", "glibc", "2.36-9")


@pytest.mark.parametrize(
    ("purl", "reason"),
    [
        ("pkg:npm/left-pad", "no version"),
        ("pkg:github/actions/checkout@v4", "purl type 'github' has no OSV ecosystem"),
        ("pkg:deb/debian/curl@7.88.1-10", "no `distro` qualifier"),
        ("pkg:rpm/fedora/curl@8.0-1?distro=fedora-39", "no OSV ecosystem is known for the distribution fedora 39"),
    ],
)
def test_purls_that_name_nothing_matchable_say_why(purl: str, reason: str) -> None:
    with pytest.raises(UnscannablePurl, match=reason.replace("(", r"\(")):
        purl_package(PackageURL.from_string(purl))
