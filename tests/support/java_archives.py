"""Real Java archives from Debian's Java library packages, and fat jars, wars and ears built from them.

The oracle for each jar's Maven identity is independent of the reader under test: the `.pom` Debian installs
next to it in /usr/share/maven-repo, and dpkg-query's version of the package that ships it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MAVEN_REPO = Path("/usr/share/maven-repo")
_POM = "{http://maven.apache.org/POM/4.0.0}"


@dataclass(frozen=True, slots=True)
class RealJar:
    """A jar Debian installs, with its identity as the maven-repo .pom states it."""

    debian_package: str
    path: Path
    group: str
    artifact: str
    version: str

    @property
    def name(self) -> str:
        return f"{self.group}:{self.artifact}"

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"

    def data(self) -> bytes:
        return self.path.read_bytes()


# Debian package -> the maven-repo directory of the jar it ships (group path/artifact/version).
REAL_JARS = {
    "commons-io": ("libcommons-io-java", "commons-io/commons-io/2.11.0"),
    "commons-lang3": ("libcommons-lang3-java", "org/apache/commons/commons-lang3/3.12.0"),
    "jackson-databind": ("libjackson2-databind-java", "com/fasterxml/jackson/core/jackson-databind/2.14.0"),
    "log4j-api": ("liblog4j2-java", "org/apache/logging/log4j/log4j-api/2.19.0"),
    "log4j-core": ("liblog4j2-java", "org/apache/logging/log4j/log4j-core/2.19.0"),
    "guava": ("libguava-java", "com/google/guava/guava/31.1-jre"),
    "commons-logging": ("libcommons-logging-java", "commons-logging/commons-logging/1.2"),
}
DEBIAN_PACKAGES = sorted({package for package, _ in REAL_JARS.values()})


def _missing(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (required under CI=true; .ci/run installs it)")
    pytest.skip(message)


def debian_version(package: str) -> str:
    """dpkg-query's version of an installed package (`3.12.0-2+deb12u1`)."""
    if shutil.which("dpkg-query") is None:
        _missing("dpkg-query is not installed")
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}|${Version}", package], capture_output=True, text=True)
    status, _, version = done.stdout.partition("|")
    if done.returncode != 0 or not status.endswith(" installed") or not version:
        _missing(f"the Debian package {package} is not installed")
    return version


def _text(pom: ElementTree.Element, field: str) -> str | None:
    node = pom.find(f"{_POM}{field}")
    if node is None:
        node = pom.find(f"{_POM}parent/{_POM}{field}")
    return node.text.strip() if node is not None and node.text else None


def real_jar(key: str) -> RealJar:
    """One of `REAL_JARS`, its identity from the .pom next to it; skips (fails under CI) when not installed."""
    package, directory = REAL_JARS[key]
    debian_version(package)
    folder = MAVEN_REPO / directory
    artifact, version = folder.parts[-2], folder.parts[-1]
    jar, pom_file = folder / f"{artifact}-{version}.jar", folder / f"{artifact}-{version}.pom"
    if not jar.exists() or not pom_file.exists():
        _missing(f"{jar} or its .pom is missing from {package}")
    pom = ElementTree.parse(pom_file).getroot()
    group, artifact_id, pom_version = _text(pom, "groupId"), _text(pom, "artifactId"), _text(pom, "version")
    if not group or artifact_id != artifact or pom_version != version:
        pytest.fail(f"{pom_file} does not name {artifact} {version}")
    return RealJar(package, jar.resolve(), group, artifact, version)


def zip_bytes(entries: dict[str, bytes], *, stored: Collection[str] = ()) -> bytes:
    """A zip of `entries` in order; names in `stored` are written uncompressed (as Spring Boot stores its libs)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def without_maven_metadata(jar: bytes) -> bytes:
    """The same jar without META-INF/maven/ (as jars not built by Maven are): only the manifest is left."""
    with zipfile.ZipFile(io.BytesIO(jar)) as archive:
        entries = {
            info.filename: archive.read(info)
            for info in archive.infolist()
            if not info.filename.startswith("META-INF/maven/")
        }
    return zip_bytes(entries)


def pom_properties(group: str, artifact: str, version: str) -> bytes:
    return f"#Created by Apache Maven\nversion={version}\ngroupId={group}\nartifactId={artifact}\n".encode()


def spring_boot_jar(libs: list[RealJar]) -> bytes:
    """A Spring Boot fat jar: its own classes under BOOT-INF/classes, the real jars stored under BOOT-INF/lib."""
    manifest = (
        b"Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.JarLauncher\r\n"
        b"Start-Class: com.example.demo.DemoApplication\r\nSpring-Boot-Classes: BOOT-INF/classes/\r\n"
        b"Spring-Boot-Lib: BOOT-INF/lib/\r\n\r\n"
    )
    entries = {
        "META-INF/MANIFEST.MF": manifest,
        "META-INF/maven/com.example/demo/pom.properties": pom_properties("com.example", "demo", "0.0.1"),
        "BOOT-INF/classes/com/example/demo/DemoApplication.class": b"\xca\xfe\xba\xbe" + bytes(60),
    }
    entries |= {f"BOOT-INF/lib/{lib.file_name}": lib.data() for lib in libs}
    return zip_bytes(entries, stored={f"BOOT-INF/lib/{lib.file_name}" for lib in libs})


def war(libs: list[RealJar], *, name: str = "shop") -> bytes:
    """A web application archive with the real jars under WEB-INF/lib (and no Maven metadata of its own)."""
    entries = {
        "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\n\r\n",
        "WEB-INF/web.xml": b"<web-app/>",
        f"WEB-INF/classes/com/example/{name}/Servlet.class": b"\xca\xfe\xba\xbe" + bytes(60),
    }
    entries |= {f"WEB-INF/lib/{lib.file_name}": lib.data() for lib in libs}
    return zip_bytes(entries)


def ear(libs: list[RealJar], modules: dict[str, bytes]) -> bytes:
    """An enterprise archive: shared real jars under lib/, modules (wars) at its root, its own pom.properties."""
    entries = {
        "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\n\r\n",
        "META-INF/application.xml": b"<application/>",
        "META-INF/maven/com.example/store-ear/pom.properties": pom_properties("com.example", "store-ear", "1.4"),
    }
    entries |= {f"lib/{lib.file_name}": lib.data() for lib in libs} | modules
    return zip_bytes(entries)
