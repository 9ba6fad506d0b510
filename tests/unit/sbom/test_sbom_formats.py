"""SBOM documents of every supported format and version into packages: nothing dropped, nothing invented.

CycloneDX documents (1.2 to 1.7, JSON and XML) are written by cyclonedx-python-lib and SPDX documents (2.2 and
2.3, JSON and tag-value) by spdx-tools, each validated by its writer; the `fixtures/trivy-0.76-debian12.*` files
are Trivy 0.76's own output for the integration tests' Debian 12 image (`trivy image --input <OCI layout>
--format cyclonedx|spdx-json|spdx --scanners '' --offline-scan --skip-db-update`).
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL
from spdx_tools.spdx.model import (
    Actor,
    ActorType,
    CreationInfo,
    Document,
    ExternalPackageRef,
    ExternalPackageRefCategory,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
)
from spdx_tools.spdx.model import (
    Package as SpdxPackage,
)
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream as write_spdx_json
from spdx_tools.spdx.writer.tagvalue.tagvalue_writer import write_document_to_stream as write_spdx_tag_value

from secapi.adapters.sbom.reader import DocumentSbomReader
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.sbom import Inventory, SbomFormat, inventory

FIXTURES = Path(__file__).parent / "fixtures"
READER = DocumentSbomReader()
CYCLONEDX_VERSIONS = [v for v in SchemaVersion if v.value >= (1, 2)]


def read(content: bytes, declared: SbomFormat | None = None) -> Inventory:
    return inventory(READER.read(content, declared))


def cyclonedx(version: SchemaVersion, output: OutputFormat) -> bytes:
    """A BOM with a nested component, a distro package, a CPE-only component and one with neither."""
    bom = Bom()
    app = Component(
        name="app", version="1.0.0", type=ComponentType.APPLICATION, purl=PackageURL("npm", None, "app", "1.0.0")
    )
    app.components.add(Component(name="minimist", version="1.2.5", purl=PackageURL("npm", None, "minimist", "1.2.5")))
    bom.components.add(app)
    libc = PackageURL("deb", "debian", "libc6", "2.36-9+deb12u2", {"arch": "amd64", "distro": "debian-12.4"})
    bom.components.add(Component(name="libc6", version="2.36-9+deb12u2", purl=libc))
    bom.components.add(
        Component(name="openssl", version="3.0.11", cpe="cpe:2.3:a:openssl:openssl:3.0.11:*:*:*:*:*:*:*")
    )
    bom.components.add(Component(name="vendored-thing", version="0.1"))
    return make_outputter(bom, output, version).output_as_string().encode()


CYCLONEDX_PACKAGES = {
    ("npm", "app", "1.0.0"),
    ("npm", "minimist", "1.2.5"),
    ("Debian:12", "libc6", "2.36-9+deb12u2"),
}


def triples(found: Inventory) -> set[tuple[str, str, str]]:
    return {(p.ecosystem, p.name, p.version) for p in found.packages}


@pytest.mark.parametrize("version", CYCLONEDX_VERSIONS, ids=lambda v: v.to_version())
@pytest.mark.parametrize("output", [OutputFormat.JSON, OutputFormat.XML], ids=["json", "xml"])
def test_cyclonedx_documents_of_every_version_give_their_packages_nested_ones_included(
    version: SchemaVersion, output: OutputFormat
) -> None:
    content = cyclonedx(version, output)
    declared = SbomFormat.CYCLONEDX_JSON if output is OutputFormat.JSON else SbomFormat.CYCLONEDX_XML
    found = read(content, declared)
    assert triples(found) == CYCLONEDX_PACKAGES
    assert read(content) == found  # sniffed from the content (a multipart upload) as declared
    assert READER.read(content, None).spec_version == version.to_version()
    reasons = {entry.name: entry.reason for entry in found.unscannable}
    assert set(reasons) == {"openssl@3.0.11", "vendored-thing@0.1"}
    assert "only a CPE identifies it (cpe:2.3:a:openssl:openssl:3.0.11" in reasons["openssl@3.0.11"]
    assert "neither a purl nor a CPE" in reasons["vendored-thing@0.1"]
    minimist = next(p for p in found.packages if p.name == "minimist")
    assert minimist.location is not None
    assert ".components[" in minimist.location


def spdx(version: str) -> Document:
    info = CreationInfo(
        spdx_version=version,
        spdx_id="SPDXRef-DOCUMENT",
        name="sbom-test",
        document_namespace="https://example.com/sbom-test",
        creators=[Actor(ActorType.TOOL, "secapi-tests")],
        created=datetime(2026, 1, 1),
    )

    def package(
        spdx_id: str, name: str, version: str, *refs: ExternalPackageRef, source: str | None = None
    ) -> SpdxPackage:
        none = SpdxNoAssertion()
        return SpdxPackage(
            spdx_id=spdx_id,
            name=name,
            version=version,
            download_location=none,
            license_concluded=none,
            license_declared=none,
            copyright_text=none,
            files_analyzed=False,
            source_info=source,
            external_references=list(refs),
        )

    manager, security = ExternalPackageRefCategory.PACKAGE_MANAGER, ExternalPackageRefCategory.SECURITY
    packages = [
        package("SPDXRef-flask", "Flask", "2.2.4", ExternalPackageRef(manager, "purl", "pkg:pypi/flask@2.2.4")),
        package(
            "SPDXRef-zlib",
            "zlib1g",
            "1:1.2.13.dfsg-1",
            ExternalPackageRef(manager, "purl", "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?distro=debian-12&epoch=1"),
            source="built package from: zlib 1:1.2.13.dfsg-1",
        ),
        package(
            "SPDXRef-openssl",
            "openssl",
            "3.0.11",
            ExternalPackageRef(security, "cpe23Type", "cpe:2.3:a:openssl:openssl:3.0.11:*:*:*:*:*:*:*"),
        ),
        package("SPDXRef-bare", "bare", "1"),
    ]
    describes = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, p.spdx_id) for p in packages]
    return Document(info, packages=packages, relationships=describes)


@pytest.mark.parametrize("version", ["SPDX-2.2", "SPDX-2.3"])
@pytest.mark.parametrize("kind", [SbomFormat.SPDX_JSON, SbomFormat.SPDX_TAG_VALUE], ids=["json", "tag-value"])
def test_spdx_documents_of_both_versions_give_their_packages(version: str, kind: SbomFormat) -> None:
    stream = io.StringIO()
    writer = write_spdx_json if kind is SbomFormat.SPDX_JSON else write_spdx_tag_value
    writer(spdx(version), stream, validate=True)  # the library's validator accepts what we read
    content = stream.getvalue().encode()
    found = read(content, kind)
    assert read(content) == found
    assert triples(found) == {("PyPI", "Flask", "2.2.4"), ("Debian:12", "zlib1g", "1:1.2.13.dfsg-1")}
    zlib = next(p for p in found.packages if p.name == "zlib1g")
    assert (zlib.source_name, zlib.source_version) == ("zlib", "1:1.2.13.dfsg-1")  # advisories name the source
    reasons = {entry.name: entry.reason for entry in found.unscannable}
    assert set(reasons) == {"openssl@3.0.11", "bare@1"}
    assert "only a CPE" in reasons["openssl@3.0.11"]


TRIVY_DEBIAN_12 = {
    Package(
        name="base-files",
        version="12.4+deb12u2",
        ecosystem="Debian:12",
        source_name="base-files",
        source_version="12.4+deb12u2",
    ),
    Package(
        name="libc6",
        version="2.36-9+deb12u2",
        ecosystem="Debian:12",
        source_name="glibc",
        source_version="2.36-9+deb12u2",
    ),
    Package(
        name="zlib1g",
        version="1:1.2.13.dfsg-1",
        ecosystem="Debian:12",
        source_name="zlib",
        source_version="1:1.2.13.dfsg-1",
    ),
    Package(name="Flask", version="2.2.4", ecosystem="PyPI"),
    Package(name="minimist", version="1.2.5", ecosystem="npm"),
}


@pytest.mark.parametrize(
    "name", ["trivy-0.76-debian12.cdx.json", "trivy-0.76-debian12.spdx.json", "trivy-0.76-debian12.spdx"]
)
def test_trivys_sboms_of_one_image_give_the_same_packages_in_every_format(name: str) -> None:
    document = (FIXTURES / name).read_bytes()
    found = read(document)
    # Kept as the document states them (Go's JSON writer escapes `&` as \u0026: compared decoded).
    stated = json.dumps(json.loads(document)) if name.endswith(".json") else document.decode()
    assert all(p.purl is not None and p.purl in stated for p in found.packages)
    bare = {
        Package(
            name=p.name,
            version=p.version,
            ecosystem=p.ecosystem,
            source_name=p.source_name,
            source_version=p.source_version,
        )
        for p in found.packages
    }
    assert bare == TRIVY_DEBIAN_12
    assert found.unscannable == ()  # the OS and the image itself are what was inventoried, not packages


def test_one_bad_component_is_one_unscannable_entry_not_a_void_document() -> None:
    content = b"""{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "library", "name": "minimist", "version": "1.2.5", "purl": "pkg:npm/minimist@1.2.5"},
        {"type": "library", "name": "broken", "purl": "pkg:nonsense"},
        {"type": "library", "name": 5, "purl": ["not", "a", "string"]},
        "not an object",
        {"type": "library", "name": "odd", "version": "1", "purl": "pkg:github/actions/checkout@v4"},
        {"type": "library", "name": "unpinned", "purl": "pkg:npm/left-pad"},
        {"type": "library", "name": "nodistro", "version": "1", "purl": "pkg:deb/debian/curl@7.88.1-10"}
    ]}"""
    found = read(content)
    assert triples(found) == {("npm", "minimist", "1.2.5")}
    reasons = {entry.location: entry.reason for entry in found.unscannable}
    assert len(found.unscannable) == 6
    assert "its purl does not parse" in reasons["components[1]"]
    assert "neither a purl nor a CPE" in reasons["components[2]"]  # non-string fields are no purl
    assert "could not be read" in reasons["components[3]"]
    assert "purl type 'github' has no OSV ecosystem" in reasons["components[4]"]
    assert "no version" in reasons["components[5]"]
    assert "no `distro` qualifier and the SBOM names no operating system" in reasons["components[6]"]


def test_a_distro_purl_without_distro_takes_the_release_of_the_sboms_operating_system() -> None:
    content = b"""{"bomFormat": "CycloneDX", "specVersion": "1.5",
      "metadata": {"component": {"type": "operating-system", "name": "alpine", "version": "3.18.4"}},
      "components": [{"type": "library", "name": "libcrypto3", "version": "3.1.0-r0",
                      "purl": "pkg:apk/alpine/libcrypto3@3.1.0-r0?upstream=openssl"}]}"""
    (package,) = read(content).packages
    assert (package.ecosystem, package.name, package.source_name, package.source_version) == (
        "Alpine:v3.18",
        "libcrypto3",
        "openssl",
        "3.1.0-r0",
    )


def test_unscannable_entries_keep_the_place_they_were_found() -> None:
    found = read(cyclonedx(SchemaVersion.V1_6, OutputFormat.JSON))
    assert all(entry.location and entry.location.startswith("components[") for entry in found.unscannable)
    assert isinstance(found.unscannable[0], UnscannableEntry)
