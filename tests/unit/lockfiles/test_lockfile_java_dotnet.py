"""Java (Gradle) and .NET (NuGet) lockfiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile

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
        "org.postgresql:postgresql:42.6.0\ncom.example:shared-kernel:0.3.0-SNAPSHOT=runtimeClasspath\n",
    )
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("com.google.guava:guava", "32.1.3-jre", "line 1"),
        ("org.postgresql:postgresql", "42.6.0", "line 3"),
    ]
    missing, snapshot = parsed.unscannable
    assert (missing.name, missing.location) == ("org.slf4j:slf4j-api", "line 2")
    assert "group:artifact:version" in missing.reason
    assert (snapshot.name, snapshot.location) == ("com.example:shared-kernel", "line 4")
    assert "snapshot" in snapshot.reason


def test_packages_lock_json_reads_every_target_framework_and_reports_project_references() -> None:
    parsed = _parse("nuget-lock", "packages.lock.json")
    assert parsed.ecosystem == "NuGet"
    assert [(p.name, p.version) for p in parsed.packages] == [
        ("Azure.Identity", "1.7.0"),
        ("Microsoft.AspNetCore.Authentication.JwtBearer", "8.0.0"),
        ("Microsoft.Data.SqlClient", "5.1.1"),
        ("Microsoft.Data.SqlClient.SNI.runtime", "5.1.0"),
        ("Microsoft.EntityFrameworkCore.Relational", "8.0.0"),
        ("Microsoft.EntityFrameworkCore.SqlServer", "8.0.0"),
        ("Microsoft.IdentityModel.Protocols.OpenIdConnect", "7.0.3"),
        ("Serilog", "3.1.1"),
        ("Serilog.AspNetCore", "8.0.0"),
        ("Swashbuckle.AspNetCore", "6.5.0"),
        ("System.Text.Json", "8.0.4"),
    ]
    serilog = next(p for p in parsed.packages if p.name == "Serilog")
    assert (serilog.purl, serilog.location) == ("pkg:nuget/Serilog@3.1.1", 'dependencies["net8.0"]["Serilog"]')
    (project,) = parsed.unscannable
    assert (project.name, project.location) == (
        "contoso.orders.domain",
        'dependencies["net8.0"]["contoso.orders.domain"]',
    )
    assert "another project" in project.reason


def test_packages_lock_json_entry_without_resolved_is_unscannable_and_projects_are_reported_once() -> None:
    parsed = parse_lockfile(
        "packages.lock.json",
        '{"version": 1, "dependencies": {"net6.0": {"Polly": {"type": "Transitive", "resolved": "7.2.4+build.17"},'
        ' "Acme.Shared": {"type": "Project"}, "Acme.Broken": {"type": "Transitive"}},'
        ' "net8.0": {"Acme.Shared": {"type": "Project"}}}}',
    )
    assert [(p.name, p.version) for p in parsed.packages] == [("Polly", "7.2.4")]
    shared, broken = parsed.unscannable
    assert (shared.name, shared.location) == ("Acme.Shared", 'dependencies["net6.0"]["Acme.Shared"]')
    assert (broken.name, broken.location) == ("Acme.Broken", 'dependencies["net6.0"]["Acme.Broken"]')
    assert "resolved" in broken.reason


def test_packages_lock_json_reports_a_name_again_when_another_framework_gives_another_reason() -> None:
    parsed = parse_lockfile(
        "packages.lock.json",
        '{"version": 1, "dependencies": {"net6.0": {"Acme.Shared": {"type": "Project"}},'
        ' "net8.0": {"Acme.Shared": {"type": "Transitive"}}}}',
    )
    project, broken = parsed.unscannable
    assert (project.name, project.location) == ("Acme.Shared", 'dependencies["net6.0"]["Acme.Shared"]')
    assert (broken.name, broken.location) == ("Acme.Shared", 'dependencies["net8.0"]["Acme.Shared"]')
    assert "resolved" in broken.reason


def test_packages_config_reads_every_package_element_with_its_line() -> None:
    parsed = _parse("packages-config", "packages.config")
    assert parsed.ecosystem == "NuGet"
    assert len(parsed.packages) == 14
    assert parsed.unscannable == ()
    newtonsoft = next(p for p in parsed.packages if p.name == "Newtonsoft.Json")
    assert (newtonsoft.version, newtonsoft.purl, newtonsoft.location) == (
        "12.0.2",
        "pkg:nuget/Newtonsoft.Json@12.0.2",
        "line 15",
    )
    assert ("Microsoft.Web.Infrastructure", "1.0.0.0") in [(p.name, p.version) for p in parsed.packages]


def test_packages_config_element_without_a_version_is_unscannable() -> None:
    parsed = parse_lockfile(
        "packages.config",
        '<packages>\n  <package id="log4net" version="2.0.8" />\n  <package id="Acme.NoVersion" />\n</packages>',
    )
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [("log4net", "2.0.8", "line 2")]
    (missing,) = parsed.unscannable
    assert (missing.name, missing.location) == ("Acme.NoVersion", "line 3")
    assert "version" in missing.reason


@pytest.mark.parametrize(
    "content",
    [
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
        '<packages><package id="&lol2;" version="1.0" /></packages>',
        '<?xml version="1.0"?>\n<!DOCTYPE p SYSTEM "http://example.com/evil.dtd">\n<packages />',
    ],
    ids=["internal-entities", "external-dtd"],
)
def test_packages_config_with_a_dtd_is_refused_before_any_entity_expands(content: str) -> None:
    with pytest.raises(MalformedLockfile) as refused:
        parse_lockfile("packages.config", content)
    assert refused.value.location == "line 2"
    assert "DTD" in refused.value.reason


def test_packages_config_that_is_not_xml_names_the_line() -> None:
    with pytest.raises(MalformedLockfile) as refused:
        parse_lockfile("packages.config", '<packages>\n  <package id="a" version="1.0">\n</packages>')
    assert refused.value.location == "line 3, column 3"
    assert "invalid XML" in refused.value.reason


def test_deps_json_reads_packages_and_runtime_packs_and_reports_projects() -> None:
    parsed = _parse("deps-json", "Contoso.Orders.Api.deps.json")
    assert parsed.ecosystem == "NuGet"
    assert [(p.name, p.version) for p in parsed.packages] == [
        ("Azure.Core", "1.25.0"),
        ("Microsoft.AspNetCore.App.Runtime.linux-x64", "8.0.0"),
        ("Microsoft.Data.SqlClient", "5.1.1"),
        ("Microsoft.EntityFrameworkCore.SqlServer", "8.0.0"),
        ("Microsoft.NETCore.App.Runtime.linux-x64", "8.0.0"),
        ("Serilog", "3.1.1"),
        ("Serilog.AspNetCore", "8.0.0"),
        ("Swashbuckle.AspNetCore", "6.5.0"),
    ]
    serilog = next(p for p in parsed.packages if p.name == "Serilog")
    assert (serilog.purl, serilog.location) == ("pkg:nuget/Serilog@3.1.1", 'libraries["Serilog/3.1.1"]')
    assert [(e.name, e.location) for e in parsed.unscannable] == [
        ("Contoso.Orders.Api", 'libraries["Contoso.Orders.Api/1.4.0"]'),
        ("Contoso.Orders.Domain", 'libraries["Contoso.Orders.Domain/1.4.0"]'),
    ]
    assert all("project" in entry.reason for entry in parsed.unscannable)


def test_deps_json_is_chosen_by_the_application_name_pattern_and_bad_libraries_stay_entries() -> None:
    parsed = parse_lockfile(
        "bin/Release/net6.0/Acme.Worker.deps.json",
        '{"libraries": {"Polly/7.2.4": {"type": "package"}, "Legacy.Interop/1.0.0.0": {"type": "reference"},'
        ' "NoVersion": {"type": "package"}, "Untyped/2.0.0": {}}}',
    )
    assert [(p.name, p.version) for p in parsed.packages] == [("Polly", "7.2.4")]
    reference, no_version, untyped = parsed.unscannable
    assert (reference.name, "assembly referenced by file" in reference.reason) == ("Legacy.Interop", True)
    assert (no_version.name, no_version.location) == ("NoVersion", 'libraries["NoVersion"]')
    assert "Name/version" in no_version.reason
    assert (untyped.name, "type" in untyped.reason) == ("Untyped", True)


def test_pom_xml_scans_versions_the_file_fixes_and_reports_versions_from_the_parent() -> None:
    parsed = _parse("maven", "pom.xml")
    assert parsed.ecosystem == "Maven"
    assert [(p.name, p.version) for p in parsed.packages] == [
        ("com.example.petclinic:petclinic-model", "2.4.0"),  # ${project.groupId} and ${project.version}
        ("com.google.guava:guava", "32.1.3-jre"),  # from this file's <dependencyManagement>
        ("io.jsonwebtoken:jjwt-api", "0.11.5"),
        ("org.apache.commons:commons-text", "1.10.0"),
        ("org.mapstruct:mapstruct", "1.5.5.Final"),
        ("org.springdoc:springdoc-openapi-starter-webmvc-ui", "2.2.0"),
    ]
    mapstruct = next(p for p in parsed.packages if p.name == "org.mapstruct:mapstruct")
    assert (mapstruct.purl, mapstruct.location) == ("pkg:maven/org.mapstruct/mapstruct@1.5.5.Final", "line 45")
    assert [(e.name, e.reason) for e in parsed.unscannable] == [
        (name, "version comes from a parent POM or BOM, which is not fetched")
        for name in (
            "org.springframework.boot:spring-boot-starter-web",
            "org.springframework.boot:spring-boot-starter-data-jpa",
            "org.postgresql:postgresql",
            "org.springframework.boot:spring-boot-starter-test",
        )
    ]


def test_pom_xml_reports_why_each_unscannable_dependency_has_no_exact_version() -> None:
    parsed = _parse("edge-cases/maven", "pom.xml")
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("io.micrometer:micrometer-core", "1.11.5", "line 25"),  # inside a <profile>
        ("junit:junit", "4.13.2", "line 12"),
    ]
    reasons = {entry.name: entry.reason for entry in parsed.unscannable}
    assert "snapshot" in reasons["org.acme:sibling"]
    assert "range" in reasons["log4j:log4j"]
    assert "without end" in reasons["org.acme:loop"]
    assert "${revision}" in reasons["org.acme:undefined"]
    assert "<groupId>" in reasons["no-group"]
    assert "system-scoped" in reasons["com.sun:tools"]


def test_pom_xml_properties_that_double_each_round_stop_at_a_length_cap() -> None:
    properties = "".join(f"<p{i}>${{p{i + 1}}}${{p{i + 1}}}</p{i}>" for i in range(30)) + "<p30>x</p30>"
    parsed = parse_lockfile(
        "pom.xml",
        f"<project><properties>{properties}</properties><dependencies><dependency><groupId>g</groupId>"
        "<artifactId>a</artifactId><version>${p0}</version></dependency></dependencies></project>",
    )
    (entry,) = parsed.unscannable
    assert (entry.name, "expand too far" in entry.reason) == ("g:a", True)


def test_a_file_whose_root_is_not_project_is_not_a_pom() -> None:
    with pytest.raises(MalformedLockfile) as refused:
        parse_lockfile("pom.xml", '<?xml version="1.0"?>\n<settings />')
    assert refused.value.location == "line 2"
