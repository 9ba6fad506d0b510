"""Java archives in images end to end: Debian's real jars in a pushed image, a real GHSA Maven record, HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings

from support.image_api import RunningApi, image_api, registry_settings, scan_image
from support.images import debian_image, layer, push
from support.java_archives import ear, real_jar, spring_boot_jar, war
from support.registry import RunningRegistry, registry_fixture  # noqa: F401 - fixture used by name

pytestmark = pytest.mark.integration

COMMONS_IO_ADVISORY = Path(__file__).parents[1] / "fixtures" / "osv" / "ghsa" / "GHSA-78wr-2p64-hpwj.json"


@pytest.fixture
async def api(settings: Settings, registry: RunningRegistry) -> AsyncIterator[RunningApi]:
    async with image_api(registry_settings(settings, registry), [COMMONS_IO_ADVISORY], "java@example.com") as running:
        yield running


def findings(result: dict[str, object]) -> dict[tuple[str, str], str]:
    vulnerabilities = result["vulnerabilities"]
    assert isinstance(vulnerabilities, list)
    return {(v["id"], v["package"]["name"]): v["location"] for v in vulnerabilities}


async def test_a_vulnerable_jar_in_an_image_is_found_at_its_path(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    commons_io, logging = real_jar("commons-io"), real_jar("commons-logging")
    image = debian_image(
        layer(
            {
                "usr/share/java/commons-io-2.11.0.jar": commons_io.data(),
                "usr/share/java/commons-logging-1.2.jar": logging.data(),  # a manifest without a Maven identity
            }
        )
    )
    push(registry, "java/plain", "1", [image])
    result = await scan_image(client, key, f"{registry.host_port}/java/plain:1")
    digest = image.layers[1].digest
    assert findings(result)[("GHSA-78wr-2p64-hpwj", "commons-io:commons-io")] == (
        f"{digest}:usr/share/java/commons-io-2.11.0.jar"
    )
    package = next(p for p in result["packages"] if p["name"] == "commons-io:commons-io")  # type: ignore[attr-defined]
    assert (package["version"], package["ecosystem"], package["purl"]) == (
        "2.11.0",
        "Maven",
        "pkg:maven/commons-io/commons-io@2.11.0",
    )
    unscanned = {(item["path"], item["kind"]): item["reason"] for item in result["unscanned"]}  # type: ignore[attr-defined]
    reason = unscanned[(f"{digest}:usr/share/java/commons-logging-1.2.jar", "java-archive")]
    assert "identity cannot be read" in reason
    assert not any(p["name"].startswith("commons-logging") for p in result["packages"])  # type: ignore[attr-defined]


async def test_a_vulnerable_library_in_a_spring_boot_jar_is_found_inside_it(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    commons_io, databind, lang = real_jar("commons-io"), real_jar("jackson-databind"), real_jar("commons-lang3")
    store = ear([], {"shop.war": war([lang])})
    image = debian_image(layer({"opt/app/app.jar": spring_boot_jar([commons_io, databind]), "srv/store.ear": store}))
    push(registry, "java/boot", "1", [image])
    result = await scan_image(client, key, f"{registry.host_port}/java/boot:1")
    digest = image.layers[1].digest
    assert findings(result)[("GHSA-78wr-2p64-hpwj", "commons-io:commons-io")] == (
        f"{digest}:opt/app/app.jar/BOOT-INF/lib/commons-io-2.11.0.jar"
    )
    located = {p["name"]: p["location"] for p in result["packages"] if p["ecosystem"] == "Maven"}  # type: ignore[attr-defined]
    lib = f"{digest}:opt/app/app.jar/BOOT-INF/lib"
    assert located == {
        "com.example:demo": f"{digest}:opt/app/app.jar",
        "commons-io:commons-io": f"{lib}/commons-io-2.11.0.jar",
        "com.fasterxml.jackson.core:jackson-databind": f"{lib}/jackson-databind-2.14.0.jar",
        "com.example:store-ear": f"{digest}:srv/store.ear",
        "org.apache.commons:commons-lang3": f"{digest}:srv/store.ear/shop.war/WEB-INF/lib/commons-lang3-3.12.0.jar",
    }
    unscanned = [(item["path"], item["kind"]) for item in result["unscanned"]]  # type: ignore[attr-defined]
    assert unscanned == [(f"{digest}:srv/store.ear/shop.war", "java-archive")]  # the war's own classes
    coverage = {c["ecosystem"]: c for c in result["vulndb"]["ecosystems"]}  # type: ignore[index]
    assert coverage["Maven"]["advisories"] >= 1
    assert coverage["Maven"]["version_order"] == "maven"
