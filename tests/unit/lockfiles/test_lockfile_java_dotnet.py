"""Java (Gradle) and .NET (NuGet) lockfiles."""

from __future__ import annotations

from pathlib import Path

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import ParsedLockfile

FIXTURES = Path(__file__).parent / "fixtures"


def _parse(case: str, name: str) -> ParsedLockfile:
    return parse_lockfile(name, (FIXTURES / case / name).read_text())


def test_gradle_lockfile_reads_maven_coordinates_and_skips_the_empty_line() -> None:
    parsed = _parse("gradle", "gradle.lockfile")
    assert parsed.ecosystem == "Maven"
    assert len(parsed.packages) == 19
    assert parsed.unscannable == ()
    web = next(p for p in parsed.packages if p.name == "org.springframework.boot:spring-boot-starter-web")
    assert (web.version, web.purl, web.location) == (
        "3.1.5",
        "pkg:maven/org.springframework.boot/spring-boot-starter-web@3.1.5",
        "line 18",
    )
    assert ("org.yaml:snakeyaml", "1.33") in [(p.name, p.version) for p in parsed.packages]


def test_buildscript_gradle_lockfile_reads_plugin_classpath() -> None:
    parsed = _parse("gradle", "buildscript-gradle.lockfile")
    assert [(p.name, p.version) for p in parsed.packages] == [
        ("io.spring.dependency-management:io.spring.dependency-management.gradle.plugin", "1.1.3"),
        ("io.spring.gradle:dependency-management-plugin", "1.1.3"),
        ("org.springframework.boot:org.springframework.boot.gradle.plugin", "3.1.5"),
        ("org.springframework.boot:spring-boot-gradle-plugin", "3.1.5"),
    ]
    assert parsed.unscannable == ()


def test_gradle_lines_that_are_not_coordinates_are_unscannable_and_the_rest_is_read() -> None:
    parsed = parse_lockfile(
        "gradle.lockfile",
        "com.google.guava:guava:32.1.3-jre=runtimeClasspath\norg.slf4j:slf4j-api=compileClasspath\n"
        "org.postgresql:postgresql:42.6.0\n",
    )
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("com.google.guava:guava", "32.1.3-jre", "line 1"),
        ("org.postgresql:postgresql", "42.6.0", "line 3"),
    ]
    (missing,) = parsed.unscannable
    assert (missing.name, missing.location) == ("org.slf4j:slf4j-api", "line 2")
    assert "group:artifact:version" in missing.reason
