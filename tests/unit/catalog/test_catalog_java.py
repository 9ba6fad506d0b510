"""Java archives in layers become Maven packages: real Debian jars, fat jars, wars and ears built from them."""

from __future__ import annotations

import io
import struct
import tarfile
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.adapters.catalog.java import JAVA_ARCHIVE, JavaLimits, directory_bytes, read_java_archive
from secapi.adapters.catalog.java_identity import manifest_main_section
from secapi.domain.inventory import merge_layers
from secapi.domain.osv_ranges import normalize_package_name
from secapi.domain.versions import compare_versions

from support.java_archives import (
    REAL_JARS,
    RealJar,
    debian_version,
    ear,
    pom_properties,
    real_jar,
    spring_boot_jar,
    war,
    without_maven_metadata,
    zip_bytes,
)

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
IDENTIFIED = ["commons-io", "commons-lang3", "jackson-databind", "log4j-api", "log4j-core", "guava"]


def identities(found: dict[str, tuple[object, ...]]) -> dict[str, set[tuple[str, str, str | None]]]:
    return {
        location: {(r.name, r.version, r.purl) for r in records}  # type: ignore[attr-defined]
        for location, records in found.items()
    }


def maven(jar: RealJar) -> tuple[str, str, str]:
    return jar.name, jar.version, f"pkg:maven/{jar.group}/{jar.artifact}@{jar.version}"


@pytest.mark.parametrize("key", IDENTIFIED)
def test_a_real_debian_jar_is_the_maven_artifact_its_pom_names(key: str) -> None:
    jar = real_jar(key)
    found = read_java_archive("usr/share/java/x.jar", jar.data())
    assert identities(found.packages) == {"usr/share/java/x.jar": {maven(jar)}}
    assert found.unscanned == ()
    # The Maven version is the upstream part of the Debian package's version (31.1-jre for guava 31.1-1).
    upstream = debian_version(jar.debian_package).split("-")[0]
    assert jar.version.startswith(upstream)


def test_a_jar_with_only_a_manifest_is_identified_only_where_its_plugins_agree() -> None:
    databind, log4j, logging = real_jar("jackson-databind"), real_jar("log4j-api"), real_jar("commons-logging")
    # jackson-databind: Implementation-Vendor-Id + Implementation-Title = Bundle-SymbolicName: its pom's identity.
    found = read_java_archive("a.jar", without_maven_metadata(databind.data()))
    assert identities(found.packages) == {"a.jar": {maven(databind)}}
    # log4j-api says Implementation-Vendor-Id: org.apache, not its groupId org.apache.logging.log4j.
    assert manifest_main_section(_manifest(log4j.data()))["implementation-vendor-id"] == "org.apache"
    unread = read_java_archive("b.jar", without_maven_metadata(log4j.data()))
    assert unread.packages == {}
    assert [(i.path, i.kind) for i in unread.unscanned] == [("b.jar", JAVA_ARCHIVE)]
    assert "identity cannot be read" in unread.unscanned[0].reason
    # Debian's commons-logging 1.2 jar has no pom.properties and says "Implementation-Title: Commons Logging".
    assert logging.name == "commons-logging:commons-logging"
    unread = read_java_archive("c.jar", logging.data())
    assert unread.packages == {}
    assert "identity cannot be read" in unread.unscanned[0].reason


def _manifest(jar: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(jar)) as archive:
        return archive.read("META-INF/MANIFEST.MF").decode()


def test_manifest_main_section_joins_continuations_and_ignores_entry_sections() -> None:
    text = (
        "Manifest-Version: 1.0\r\nBundle-SymbolicName: com.example.very-long-artif\r\n act;singleton:=true\r\n"
        "\r\nName: com/example/\r\nImplementation-Title: not-the-archive\r\n"
    )
    main = manifest_main_section(text)
    assert main["bundle-symbolicname"] == "com.example.very-long-artifact;singleton:=true"
    assert "implementation-title" not in main


def test_a_shaded_jar_is_every_artifact_its_pom_properties_name() -> None:
    shaded = zip_bytes(
        {
            "META-INF/maven/com.example/app/pom.properties": pom_properties("com.example", "app", "2.0"),
            "META-INF/maven/com.google.guava/guava/pom.properties": pom_properties("com.google.guava", "guava", "20.0"),
            "META-INF/maven/x/unresolved/pom.properties": b"groupId=x\nartifactId=unresolved\nversion=${revision}\n",
            "com/example/App.class": b"\xca\xfe\xba\xbe",
        }
    )
    found = read_java_archive("app.jar", shaded)
    assert {r.name: r.version for r in found.packages["app.jar"]} == {
        "com.example:app": "2.0",
        "com.google.guava:guava": "20.0",
    }


def test_a_spring_boot_fat_jar_locates_each_library_inside_it() -> None:
    io_jar, databind = real_jar("commons-io"), real_jar("jackson-databind")
    found = read_java_archive("opt/app/app.jar", spring_boot_jar([io_jar, databind]))
    assert identities(found.packages) == {
        "opt/app/app.jar": {("com.example:demo", "0.0.1", "pkg:maven/com.example/demo@0.0.1")},
        f"opt/app/app.jar/BOOT-INF/lib/{io_jar.file_name}": {maven(io_jar)},
        f"opt/app/app.jar/BOOT-INF/lib/{databind.file_name}": {maven(databind)},
    }
    assert found.unscanned == ()


def test_an_ear_with_a_war_is_read_two_archives_deep() -> None:
    lang, log4j, guava = real_jar("commons-lang3"), real_jar("log4j-api"), real_jar("guava")
    archive = ear([guava], {"shop.war": war([lang, log4j])})
    found = read_java_archive("srv/store.ear", archive)
    assert identities(found.packages) == {
        "srv/store.ear": {("com.example:store-ear", "1.4", "pkg:maven/com.example/store-ear@1.4")},
        f"srv/store.ear/lib/{guava.file_name}": {maven(guava)},
        f"srv/store.ear/shop.war/WEB-INF/lib/{lang.file_name}": {maven(lang)},
        f"srv/store.ear/shop.war/WEB-INF/lib/{log4j.file_name}": {maven(log4j)},
    }
    # The war has no Maven metadata of its own: its own classes are not identified, and it says so.
    assert [(i.path, i.kind) for i in found.unscanned] == [("srv/store.ear/shop.war", JAVA_ARCHIVE)]
    assert "identity cannot be read" in found.unscanned[0].reason


def test_maven_names_and_versions_match_as_osv_writes_them() -> None:
    record = read_java_archive("g.jar", real_jar("guava").data()).packages["g.jar"][0]
    assert normalize_package_name("Maven", record.name) == "com.google.guava:guava"  # case-sensitive, unchanged
    # GHSA-7g45-4rm6-3mm3 (guava) says fixed 32.0.0-android: Maven's order puts 31.1-jre below it.
    assert compare_versions("Maven", record.version, "32.0.0-android") < 0
    assert compare_versions("Maven", record.version, "31.1") > 0  # "jre" is a qualifier after the release


def test_a_layer_with_java_archives_gives_maven_packages_at_their_locations(
    build_layer: Callable[..., Path],
) -> None:
    io_jar, lang, logging = real_jar("commons-io"), real_jar("commons-lang3"), real_jar("commons-logging")
    fat = spring_boot_jar([io_jar])
    blob = build_layer(
        [
            ("opt/app/app.jar", fat),
            ("usr/share/java/commons-io.jar", io_jar.data()),  # the same library again: reported once
            ("usr/share/java/commons-lang3.jar", lang.data()),
            ("usr/share/java/commons-logging-1.2.jar", logging.data()),
            ("usr/share/java/broken.jar", b"PK\x03\x04 not really a zip"),
        ]
    )
    layer = catalog_layer(blob, GZIP, "sha256:java", LayerLimits())
    assert set(layer.packages) == {
        "opt/app/app.jar",
        f"opt/app/app.jar/BOOT-INF/lib/{io_jar.file_name}",
        "usr/share/java/commons-io.jar",
        "usr/share/java/commons-lang3.jar",
    }
    assert {(i.path, i.kind) for i in layer.unscanned} == {
        ("usr/share/java/commons-logging-1.2.jar", JAVA_ARCHIVE),
        ("usr/share/java/broken.jar", JAVA_ARCHIVE),
    }
    image = merge_layers([layer])
    packages = {(p.name, p.version, p.ecosystem): p.location for p in image.packages}
    assert packages == {
        ("com.example:demo", "0.0.1", "Maven"): "sha256:java:opt/app/app.jar",
        (io_jar.name, io_jar.version, "Maven"): f"sha256:java:opt/app/app.jar/BOOT-INF/lib/{io_jar.file_name}",
        (lang.name, lang.version, "Maven"): "sha256:java:usr/share/java/commons-lang3.jar",
    }


def test_a_jenkins_plugin_is_read_like_a_war(build_layer: Callable[..., Path]) -> None:
    lang = real_jar("commons-lang3")
    plugin = zip_bytes(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nShort-Name: workflow-support\r\n\r\n",
            "META-INF/maven/org.jenkins-ci.plugins.workflow/workflow-support/pom.properties": pom_properties(
                "org.jenkins-ci.plugins.workflow", "workflow-support", "865.v43e78cc44e0d"
            ),
            f"WEB-INF/lib/{lang.file_name}": lang.data(),
        }
    )
    blob = build_layer([("var/jenkins_home/plugins/workflow-support.jpi", plugin)])
    layer = catalog_layer(blob, GZIP, "sha256:jenkins", LayerLimits())
    assert identities(layer.packages) == {
        "var/jenkins_home/plugins/workflow-support.jpi": {
            (
                "org.jenkins-ci.plugins.workflow:workflow-support",
                "865.v43e78cc44e0d",
                "pkg:maven/org.jenkins-ci.plugins.workflow/workflow-support@865.v43e78cc44e0d",
            )
        },
        f"var/jenkins_home/plugins/workflow-support.jpi/WEB-INF/lib/{lang.file_name}": {maven(lang)},
    }


def test_an_upper_layer_deleting_or_replacing_a_fat_jar_drops_what_was_inside_it(
    build_layer: Callable[..., Path],
) -> None:
    io_jar, lang, logging = real_jar("commons-io"), real_jar("commons-lang3"), real_jar("commons-logging")
    fat = spring_boot_jar([io_jar, logging])
    base = catalog_layer(build_layer([("opt/app.jar", fat)]), GZIP, "sha256:0", LayerLimits())
    deleted = catalog_layer(build_layer([("opt/.wh.app.jar", b"")]), GZIP, "sha256:1", LayerLimits())
    replaced = catalog_layer(build_layer([("opt/app.jar", spring_boot_jar([lang]))]), GZIP, "sha256:2", LayerLimits())
    assert [i.path for i in merge_layers([base]).unscanned] == [
        f"sha256:0:opt/app.jar/BOOT-INF/lib/{logging.file_name}"
    ]
    assert merge_layers([base, deleted]).packages == ()
    assert merge_layers([base, deleted]).unscanned == ()
    names = {p.name for p in merge_layers([base, replaced]).packages}
    assert names == {"com.example:demo", lang.name}
    assert merge_layers([base, replaced]).unscanned == ()


def test_a_link_replacing_a_jar_in_an_upper_layer_hides_what_was_inside_it(
    build_layer: Callable[..., Path],
) -> None:
    io_jar = real_jar("commons-io")
    base = catalog_layer(build_layer([("opt/app.jar", spring_boot_jar([io_jar]))]), GZIP, "sha256:0", LayerLimits())
    link = catalog_layer(build_layer([("opt/app.jar", "symlink:/dev/null")]), GZIP, "sha256:1", LayerLimits())
    assert merge_layers([base, link]).packages == ()


def test_a_later_entry_for_the_same_archive_replaces_the_earlier_ones_packages(
    build_layer: Callable[..., Path],
) -> None:
    io_jar, lang = real_jar("commons-io"), real_jar("commons-lang3")
    blob = build_layer([("app.jar", spring_boot_jar([io_jar])), ("app.jar", spring_boot_jar([lang]))])
    layer = catalog_layer(blob, GZIP, "sha256:dup", LayerLimits())
    assert set(layer.packages) == {"app.jar", f"app.jar/BOOT-INF/lib/{lang.file_name}"}


# Hostile archives: every cap is crossed with a refusal that names it, never a crash or unbounded memory.


def _nest(levels: int) -> bytes:
    archive = zip_bytes({"META-INF/maven/g/a/pom.properties": pom_properties("g", "a", "1")})
    for level in range(levels):
        archive = zip_bytes({"META-INF/maven/g/a/pom.properties": pom_properties("g", f"a{level}", "1"),
                             f"lib/level{level}.jar": archive})  # fmt: skip
    return archive


def test_nesting_deeper_than_the_cap_is_listed_not_opened() -> None:
    found = read_java_archive("deep.jar", _nest(6), JavaLimits(max_depth=3))
    assert len(found.packages) == 4  # the archive and three nested levels
    deepest = max(found.packages, key=len)
    assert deepest == "deep.jar/lib/level5.jar/lib/level4.jar/lib/level3.jar"
    [item] = found.unscanned
    assert item.path == f"{deepest}/lib/level2.jar"
    assert "more than 3 archives deep" in item.reason


def _claimed_size(archive: bytes, name: str, size: int) -> bytes:
    """The archive with `name`'s uncompressed size in the central directory (what zipfile trusts) set to `size`."""
    data = bytearray(archive)
    header = data.index(b"PK\x01\x02")
    while True:
        name_length = struct.unpack_from("<H", data, header + 28)[0]
        if data[header + 46 : header + 46 + name_length] == name.encode():
            struct.pack_into("<I", data, header + 24, size)
            return bytes(data)
        header = data.index(b"PK\x01\x02", header + 46)


def test_a_nested_archive_claiming_more_than_the_nested_budget_is_refused_before_inflating() -> None:
    inner = zip_bytes({"META-INF/maven/g/inner/pom.properties": pom_properties("g", "inner", "1")})
    outer = zip_bytes({"META-INF/maven/g/outer/pom.properties": pom_properties("g", "outer", "1"), "lib/x.jar": inner})
    bomb = _claimed_size(outer, "lib/x.jar", 3 * 1024**3)
    found = read_java_archive("bomb.jar", bomb)
    assert set(found.packages) == {"bomb.jar"}
    [item] = found.unscanned
    assert item.path == "bomb.jar/lib/x.jar"
    assert "3221225472 bytes" in item.reason
    assert str(256 * 1024 * 1024) in item.reason


def test_a_deflate_bomb_is_inflated_no_further_than_the_budget() -> None:
    shell = zip_bytes(
        {"META-INF/maven/g/z/pom.properties": pom_properties("g", "z", "1"), "lib/z.jar": bytes(64 << 20)}
    )
    assert len(shell) < 1 << 20  # 64 MiB of zeros in well under 1 MiB
    bomb = zip_bytes({f"lib/copy{i}.jar": shell for i in range(8)})
    tracemalloc.start()
    try:
        found = read_java_archive("bomb.jar", bomb, JavaLimits(max_nested_bytes=3 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # the 64 MiB members are never inflated
    assert len([location for location in found.packages if location.startswith("bomb.jar/lib/copy")]) == 8
    refused = {i.path for i in found.unscanned if "past the 3145728 bytes" in i.reason}
    assert refused == {f"bomb.jar/lib/copy{i}.jar/lib/z.jar" for i in range(8)}


def test_nested_archives_past_the_open_cap_are_refused_and_counted_past_the_listed_ones() -> None:
    tiny = zip_bytes({"META-INF/maven/g/t/pom.properties": pom_properties("g", "t", "1")})
    outer = {"META-INF/maven/g/o/pom.properties": pom_properties("g", "o", "1")}
    found = read_java_archive("o.jar", zip_bytes(outer | {f"lib/t{i:03}.jar": tiny for i in range(15)}),
                              JavaLimits(max_nested_archives=10))  # fmt: skip
    assert len(found.packages) == 11
    assert {i.path for i in found.unscanned} == {f"o.jar/lib/t{i:03}.jar" for i in range(10, 15)}
    crowd = zip_bytes(outer | {f"lib/t{i:03}.jar": tiny for i in range(250)})
    found = read_java_archive("o.jar", crowd, JavaLimits(max_nested_archives=0))
    assert len(found.unscanned) == 201  # 200 nested archives listed, and the outer one counting the rest
    summary = next(i for i in found.unscanned if i.path == "o.jar")
    assert summary.reason.startswith("50 more archives nested in it were not read")


def test_pom_properties_past_the_cap_are_reported_not_dropped() -> None:
    shaded = zip_bytes({f"META-INF/maven/g/a{i}/pom.properties": pom_properties("g", f"a{i}", "1") for i in range(5)})
    found = read_java_archive("s.jar", shaded, JavaLimits(max_metadata_files=3))
    assert {r.name for r in found.packages["s.jar"]} == {"g:a0", "g:a1", "g:a2"}
    assert "past the 3 pom.properties" in found.unscanned[0].reason


def _with_zip64_end(archive: bytes, directory_size: int) -> bytes:
    """The archive with a zip64 end record and locator before its end record, naming `directory_size`."""
    end = archive.rindex(b"PK\x05\x06")
    entries, _, offset = struct.unpack_from("<HII", archive, end + 10)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, directory_size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    return archive[:end] + record + locator + archive[end:]


def test_a_zip64_end_record_is_where_the_directory_size_is_read() -> None:
    plain = zip_bytes({"META-INF/maven/g/a/pom.properties": pom_properties("g", "a", "1")})
    honest = _with_zip64_end(plain, directory_bytes(plain) or 0)
    assert directory_bytes(honest) == directory_bytes(plain)
    assert {r.name for r in read_java_archive("z.jar", honest).packages["z.jar"]} == {"g:a"}  # zipfile agrees
    lying = _with_zip64_end(plain, 1 << 30)
    assert directory_bytes(lying) == 1 << 30
    found = read_java_archive("z.jar", lying)
    assert found.packages == {}
    assert "zip directory of 1073741824 bytes" in found.unscanned[0].reason


def test_a_zip_directory_over_the_cap_is_not_parsed() -> None:
    many = zip_bytes({f"com/example/C{i}.class": b"" for i in range(300)})
    assert (directory_bytes(many) or 0) > 4096
    found = read_java_archive("many.jar", many, JavaLimits(max_directory_bytes=4096))
    assert found.packages == {}
    assert "zip directory" in found.unscanned[0].reason


def test_an_unsupported_compression_method_is_reported_not_raised() -> None:
    archive = bytearray(zip_bytes({"META-INF/maven/g/a/pom.properties": pom_properties("g", "a", "1")}))
    central = archive.index(b"PK\x01\x02")
    struct.pack_into("<H", archive, central + 10, 99)  # AES encryption's method id
    found = read_java_archive("aes.jar", bytes(archive))
    assert found.packages == {}
    assert "cannot be read as a zip" in found.unscanned[0].reason


def test_an_archive_over_the_size_cap_is_listed_without_reading_it(tmp_path: Path) -> None:
    size = 128 * 1024 * 1024 + 1
    info = tarfile.TarInfo("opt/huge.jar")
    info.size = size
    blob = tmp_path / "layer.tar"
    with blob.open("wb") as out:  # sparse: the member's bytes are a hole, never written
        out.write(info.tobuf(format=tarfile.PAX_FORMAT))
        out.seek(size + (-size % 512) + 1024 - 1, io.SEEK_CUR)
        out.write(b"\0")
    layer = catalog_layer(blob, "application/vnd.oci.image.layer.v1.tar", "sha256:huge", LayerLimits())
    assert layer.packages == {}
    [item] = layer.unscanned
    assert (item.path, item.kind) == ("opt/huge.jar", JAVA_ARCHIVE)
    assert f"{size} bytes" in item.reason


def test_an_entry_with_an_empty_name_does_not_stop_the_archive_being_read() -> None:
    # Found by fuzzing: zipfile's ZipInfo.is_dir() raises IndexError on an empty name.
    archive = zip_bytes({"": b"x", "META-INF/maven/g/a/pom.properties": pom_properties("g", "a", "1")})
    assert {r.name for r in read_java_archive("e.jar", archive).packages["e.jar"]} == {"g:a"}


_SMALL_JAR = zip_bytes(
    {
        "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nImplementation-Vendor-Id: g\r\n\r\n",
        "META-INF/maven/g/a/pom.properties": pom_properties("g", "a", "1.0"),
        "lib/inner.jar": zip_bytes({"META-INF/maven/g/b/pom.properties": pom_properties("g", "b", "2.0")}),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupted_archives_never_raise(data: st.DataObject) -> None:
    archive = bytearray(_SMALL_JAR)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(archive) - 1))
        archive[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        archive = archive[: data.draw(st.integers(0, len(archive)))]
    found = read_java_archive("f.jar", bytes(archive))
    assert all(location.startswith("f.jar") for location in found.packages)
    assert all(item.path.startswith("f.jar") and item.kind == JAVA_ARCHIVE for item in found.unscanned)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(blob: bytes) -> None:
    found = read_java_archive("r.jar", b"PK\x03\x04" + blob)
    assert found.packages == {} or set(found.packages) <= {"r.jar"}


def test_real_jars_cover_each_debian_package_the_ci_installs() -> None:
    assert {package for package, _ in REAL_JARS.values()} >= {
        "libcommons-lang3-java", "libcommons-io-java", "libjackson2-databind-java", "liblog4j2-java", "libguava-java",
    }  # fmt: skip


def test_an_unresolved_pom_properties_beside_resolved_ones_is_listed_not_dropped() -> None:
    found = read_java_archive(
        "app.jar",
        zip_bytes(
            {
                "META-INF/maven/org.a/a/pom.properties": pom_properties("org.a", "a", "1.0"),
                "META-INF/maven/org.b/b/pom.properties": pom_properties("org.b", "b", "${project.version}"),
            }
        ),
    )
    assert [record.name for record in found.packages["app.jar"]] == ["org.a:a"]
    assert "META-INF/maven/org.b/b/pom.properties" in found.reasons["app.jar"][0]


def test_an_archive_extension_in_capitals_is_still_a_java_archive(build_layer: Callable[..., Path]) -> None:
    lang = real_jar("commons-lang3")
    base = catalog_layer(build_layer([("opt/App.JAR", lang.data())]), GZIP, "sha256:0", LayerLimits())
    assert identities(base.packages) == {"opt/App.JAR": {maven(lang)}}
    link = catalog_layer(build_layer([("opt/App.JAR", "symlink:/dev/null")]), GZIP, "sha256:1", LayerLimits())
    assert merge_layers([base]).packages != ()
    assert merge_layers([base, link]).packages == ()
