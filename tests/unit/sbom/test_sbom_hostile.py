"""Hostile and unsupported SBOMs are refused with a sentence (a 422 at the edge), never a crash or a hang."""

from __future__ import annotations

import pytest

from secapi.adapters.sbom import _common
from secapi.adapters.sbom.reader import DocumentSbomReader
from secapi.domain.sbom import SbomError, SbomFormat, inventory

READER = DocumentSbomReader()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6"><components><component type="library"><name>&c;</name>
</component></components></bom>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components><component type="library"><name>&secret;</name>
</component></components></bom>"""


@pytest.mark.parametrize(
    ("content", "declared", "says"),
    [
        (BILLION_LAUGHS, SbomFormat.CYCLONEDX_XML, "no DTD or entities"),
        (EXTERNAL_ENTITY, None, "no DTD or entities"),
        (b"<bom xmlns='http://cyclonedx.org/schema/bom/1.6'><components>", None, "not valid XML"),
        (b"<project xmlns='http://maven.apache.org/POM/4.0.0'/>", None, "not a CycloneDX BOM"),
        (b"<bom xmlns='http://cyclonedx.org/schema/bom/1.1'/>", None, "'1.1' is not supported"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.1"}', None, "'1.1' is not supported"),
        (b'{"bomFormat": "CycloneDX", "specVersion": 1.6}', None, "'float' is not supported"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": {}}', None, "not valid"),
        (b'{"bomFormat": "SPDX"}', SbomFormat.CYCLONEDX_JSON, "not a CycloneDX BOM"),
        (b'{"spdxVersion": "SPDX-3.0", "packages": []}', None, "'SPDX-3.0' is not supported"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [', None, "not valid JSON"),
        (b'{"name": "package.json"}', None, "neither CycloneDX"),
        (b"SPDXVersion: SPDX-2.3\nPackageName: a\nPackageComment: <text>never closed\n", None, "never ends"),
        (b"SPDXVersion: SPDX-2.3\nthis line has no tag\n", None, "line 2"),
        (b"PackageName: a\n", SbomFormat.SPDX_TAG_VALUE, "no `SPDXVersion:` line"),
        (b"SPDXVersion: SPDX-2.3\nPackageName: \xff\xfe\n", None, "not UTF-8"),
        (b"\x00\x01\x02 binary", None, "not an SBOM SecAPI reads"),
        (b"   \n", None, "empty"),
        (
            b'{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            None,
            "deeply",
        ),
    ],
)
def test_hostile_or_unsupported_documents_are_refused_with_a_reason(
    content: bytes, declared: SbomFormat | None, says: str
) -> None:
    with pytest.raises(SbomError) as refused:
        READER.read(content, declared)
    assert says in str(refused.value)


def test_more_components_than_the_limit_are_refused_before_all_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "MAX_COMPONENTS", 3)
    nested = b'{"name": "a", "purl": "pkg:npm/a@1", "components": [{"name": "b"}, {"name": "c"}, {"name": "d"}]}'
    content = b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [' + nested + b"]}"
    with pytest.raises(SbomError, match="more than 3 components"):
        READER.read(content, None)
    with pytest.raises(SbomError, match="more than 3 components"):
        READER.read(b"SPDXVersion: SPDX-2.3\n" + b"PackageName: p\n" * 4, None)


def test_an_spdx_package_spdx_tools_refuses_is_one_unscannable_entry() -> None:
    content = b"""{"spdxVersion": "SPDX-2.3", "packages": [
        {"SPDXID": "SPDXRef-a", "name": "minimist", "versionInfo": "1.2.5", "downloadLocation": "NONE",
         "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                           "referenceLocator": "pkg:npm/minimist@1.2.5"}]},
        {"name": "no-id", "versionInfo": ["not", "text"]},
        42
    ]}"""
    parsed = READER.read(content, SbomFormat.SPDX_JSON)
    assert [c.purl for c in parsed.components] == ["pkg:npm/minimist@1.2.5"]
    assert [entry.location for entry in parsed.unscannable] == ["packages[1]", "packages[2]"]
    assert all("could not read" in e.reason or "could not be read" in e.reason for e in parsed.unscannable)


def test_nul_characters_and_odd_fields_become_unscannable_entries_never_stored_text() -> None:
    content = b"""{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "library", "name": "evil\\u0000name", "version": "1", "purl": "pkg:npm/evil@1"},
        {"type": "library", "name": "no-name", "version": "1", "purl": "pkg:npm/@1"},
        {"type": ["not", "hashable"], "name": "odd-type", "version": "1", "purl": "pkg:npm/odd-type@1"},
        {"type": "library", "name": "fine", "version": "1.0.0", "purl": "pkg:npm/fine@1.0.0"}
    ]}"""
    found = inventory(READER.read(content, None))
    assert [p.name for p in found.packages] == ["fine", "odd-type"]
    reasons = {entry.location: entry for entry in found.unscannable}
    assert reasons["components[0]"].name == "evil\ufffdname@1"
    assert "NUL character" in reasons["components[0]"].reason
    assert "does not parse" in reasons["components[1]"].reason
    assert all("\x00" not in entry.name + entry.reason for entry in found.unscannable)
