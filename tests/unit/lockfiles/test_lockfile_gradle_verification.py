"""Gradle's dependency verification file (`gradle/verification-metadata.xml`), on a real file's components."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile

REAL = Path(__file__).parent / "fixtures" / "gradle-verification" / "verification-metadata.xml"
EDGE = Path(__file__).parent / "fixtures" / "edge-cases" / "gradle-verification" / "verification-metadata.xml"


def _parse(path: Path, name: str = "gradle/verification-metadata.xml") -> ParsedLockfile:
    return parse_lockfile(name, path.read_text())


def test_real_verification_metadata_lists_every_component_with_code_as_a_maven_package() -> None:
    parsed = _parse(REAL)
    assert parsed.ecosystem == "Maven"
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("com.fasterxml.jackson.core:jackson-databind", "2.12.7.1", "line 23"),
        ("com.fasterxml.woodstox:woodstox-core", "6.2.4", "line 31"),
        ("fr.acinq.secp256k1:secp256k1-kmp-iosarm64", "0.16.0", "line 39"),
        ("org.jetbrains.kotlinx:kotlinx-coroutines-core", "1.7.3", "line 53"),
        ("org.jetbrains.kotlinx:kotlinx-coroutines-core-jvm", "1.7.3", "line 58"),
    ]
    databind = parsed.packages[0]
    assert databind.purl == "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.12.7.1"


def test_parent_poms_and_boms_are_not_packages_but_a_kotlin_multiplatform_root_is() -> None:
    names = {p.name for p in _parse(REAL).packages}
    assert not names & {"com.fasterxml:oss-parent", "com.fasterxml.jackson:jackson-bom"}
    assert "org.jetbrains.kotlinx:kotlinx-serialization-bom" not in names
    assert "org.jetbrains.kotlinx:kotlinx-coroutines-core" in names  # only a `.module` file: the KMP root


def test_a_component_without_a_group_is_unscannable_with_the_reason() -> None:
    (entry,) = _parse(REAL).unscannable
    assert (entry.name, entry.location) == ("kotlin-native-prebuilt-linux-x86_64", "line 8")
    assert "without a group" in entry.reason


def test_snapshots_and_components_without_a_version_are_unscannable_and_the_rest_is_read() -> None:
    parsed = _parse(EDGE, "verification-metadata.xml")
    assert [(p.name, p.version) for p in parsed.packages] == [
        ("io.ktor:ktor-client-core", "2.3.4"),
        ("org.yaml:snakeyaml", "1.33"),
    ]
    reasons = {entry.name: entry.reason for entry in parsed.unscannable}
    assert "snapshot" in reasons["org.example:app-lib"]
    assert "version" in reasons["no-version"]
    assert "ignored-by-the-parser" not in str(parsed)  # trusted-artifacts configuration names no dependency


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('<?xml version="1.0"?><project/>', "expected a <verification-metadata> root"),
        ("<verification-metadata><components>", "invalid XML"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><verification-metadata/>', "document type declaration"),
    ],
)
def test_other_documents_are_malformed_with_the_place(content: str, message: str) -> None:
    with pytest.raises(MalformedLockfile, match=message):
        parse_lockfile("verification-metadata.xml", content)
