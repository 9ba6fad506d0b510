"""Application lockfiles and manifests in images end to end: real files in a pushed image, real GHSA records, HTTP.

A Node app (npm's package-lock.json), a Ruby app (Gemfile.lock and installed gems' specifications), a PHP app
(Composer's vendor/composer/installed.json) and a .NET app (<app>.deps.json) on Debian 12, scanned through the
API with the sample database plus four real GitHub advisories: each finding is located at
`<layer digest>:<lockfile path>`, and what a lockfile could not pin is listed under `unscanned`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar

from secapi.config import Settings

from support.image_api import RunningApi, image_api, registry_settings, scan_image
from support.images import debian_image, layer, push
from support.registry import RunningRegistry, registry_fixture  # noqa: F401 - fixture used by name

pytestmark = pytest.mark.integration

TESTS = Path(__file__).parents[1]
GHSA = TESTS / "fixtures" / "osv" / "ghsa"
ADVISORIES = [
    GHSA / f"{ghsa}.json"
    for ghsa in ("GHSA-jf85-cpcp-j695", "GHSA-vg3r-rm7w-2xgh", "GHSA-q7rv-6hp3-vh96", "GHSA-98g6-xh36-x2p7")
]
APPS = TESTS / "unit" / "catalog" / "fixtures" / "app-lockfiles"
LOCKS = TESTS / "unit" / "lockfiles" / "fixtures"
GEMS = "usr/local/lib/ruby/gems/3.1.0/specifications"
APP_FILES = {
    "srv/shop/package-lock.json": APPS / "npm" / "package-lock.json",
    "srv/shop/package.json": APPS / "npm" / "package.json",
    "srv/store/Gemfile.lock": LOCKS / "bundler" / "Gemfile.lock",
    f"{GEMS}/rexml-3.2.5.gemspec": APPS / "gems" / "rexml-3.2.5.gemspec",
    f"{GEMS}/default/json-2.6.1.gemspec": APPS / "gems" / "json-2.6.1.gemspec",
    "srv/api/vendor/composer/installed.json": APPS / "composer2" / "installed.json",
    "srv/orders/Contoso.Orders.Api.deps.json": LOCKS / "deps-json" / "Contoso.Orders.Api.deps.json",
}


@pytest.fixture
async def api(settings: Settings, registry: RunningRegistry) -> AsyncIterator[RunningApi]:
    async with image_api(registry_settings(settings, registry), ADVISORIES, "lockfiles@example.com") as running:
        yield running


def findings(result: dict[str, object]) -> dict[tuple[str, str], str]:
    vulnerabilities = result["vulnerabilities"]
    assert isinstance(vulnerabilities, list)
    return {(v["id"], v["package"]["name"]): v["location"] for v in vulnerabilities}


def unscanned(result: dict[str, object]) -> list[dict[str, str]]:
    items = result["unscanned"]
    assert isinstance(items, list)
    return items


async def test_node_ruby_php_and_dotnet_apps_are_found_at_their_lockfiles(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    apps = layer({path: source.read_bytes() for path, source in APP_FILES.items()})
    image = debian_image(apps)
    push(registry, "scan/apps", "1", [image])
    result = await scan_image(client, key, f"{registry.host_port}/scan/apps:1")
    at = apps.digest
    expected = {
        ("GHSA-jf85-cpcp-j695", "lodash"): f"{at}:srv/shop/package-lock.json",
        ("GHSA-vg3r-rm7w-2xgh", "rexml"): f"{at}:{GEMS}/rexml-3.2.5.gemspec",
        ("GHSA-q7rv-6hp3-vh96", "guzzlehttp/psr7"): f"{at}:srv/api/vendor/composer/installed.json",
        ("GHSA-98g6-xh36-x2p7", "Microsoft.Data.SqlClient"): f"{at}:srv/orders/Contoso.Orders.Api.deps.json",
    }
    found = findings(result)
    assert {key: found.get(key) for key in expected} == expected
    packages = result["packages"]
    assert isinstance(packages, list)
    located = {(p["ecosystem"], p["name"], p["version"]): p["location"] for p in packages}
    assert located[("RubyGems", "rack", "3.0.8")] == f"{at}:srv/store/Gemfile.lock"
    assert located[("RubyGems", "json", "2.6.1")] == f"{at}:{GEMS}/default/json-2.6.1.gemspec"
    assert located[("npm", "minimist", "1.2.5")] == f"{at}:srv/shop/package-lock.json"
    image_info = result["image"]
    assert isinstance(image_info, dict)
    assert image_info["os_ecosystem"] == "Debian:12"
    billing = [i for i in unscanned(result) if i["reason"].startswith("acme/billing")]
    assert billing == [
        {
            "path": f"{at}:srv/api/vendor/composer/installed.json",
            "kind": "unscannable-entry",
            "reason": "acme/billing (packages[0]): "
            "installed from a local path repository, not a release published on Packagist",
        }
    ]
    listed = {i["path"] for i in unscanned(result) if i["kind"] == "unscannable-entry"}
    assert f"{at}:srv/store/Gemfile.lock" in listed  # its git and path gems


async def test_a_lockfile_removed_by_a_later_layer_yields_nothing(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    apps = layer({path: source.read_bytes() for path, source in APP_FILES.items()})
    removal = layer({"srv/api/vendor/composer/.wh.installed.json": b"", "srv/shop/.wh.package-lock.json": b""})
    push(registry, "scan/apps-removed", "1", [debian_image(apps, removal)])
    result = await scan_image(client, key, f"{registry.host_port}/scan/apps-removed:1")
    found = findings(result)
    assert ("GHSA-jf85-cpcp-j695", "lodash") not in found
    assert ("GHSA-q7rv-6hp3-vh96", "guzzlehttp/psr7") not in found
    assert ("GHSA-vg3r-rm7w-2xgh", "rexml") in found
    assert not [i for i in unscanned(result) if "installed.json" in i["path"]]
