"""Application lockfiles and manifests in image layers, read with the lockfile parsers (real files as inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from secapi.adapters.catalog import catalog_layer
from secapi.adapters.catalog.lockfiles import (
    GEMSPEC_CAP,
    MAX_ENTRIES_LISTED,
    TEST_LOCKFILE,
    UNSCANNABLE_ENTRY,
    app_file_cap,
    read_app_file,
)
from secapi.adapters.catalog.rules import is_candidate, rule_for
from secapi.adapters.catalog.unread import MAX_LISTED
from secapi.adapters.lockfiles.registry import parse_lockfile
from secapi.domain.inventory import LOCKFILE, ImageInventory, LayerInventory, merge_layers
from secapi.domain.packages import Package

from conftest import LayerBuilder, Member

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
FIXTURES = Path(__file__).parent / "fixtures" / "app-lockfiles"
LOCKFILE_FIXTURES = Path(__file__).parents[1] / "lockfiles" / "fixtures"
PACKAGE_LOCK = (FIXTURES / "npm" / "package-lock.json").read_bytes()
INSTALLED_JSON = (FIXTURES / "composer2" / "installed.json").read_bytes()
GEMFILE_LOCK = (LOCKFILE_FIXTURES / "bundler" / "Gemfile.lock").read_bytes()
DEPS_JSON = (LOCKFILE_FIXTURES / "deps-json" / "Contoso.Orders.Api.deps.json").read_bytes()
GEMS = "usr/local/lib/ruby/gems/3.1.0/specifications"


def gem(name: str) -> bytes:
    return (FIXTURES / "gems" / name).read_bytes()


def layer(build_layer: LayerBuilder, digest: str, members: list[Member]) -> LayerInventory:
    return catalog_layer(build_layer(members), GZIP, digest)


def found(image: ImageInventory) -> dict[tuple[str, str, str], str | None]:
    return {(p.ecosystem, p.name, p.version): p.location for p in image.packages}


def app_layer_members() -> list[Member]:
    return [
        ("srv/shop/package-lock.json", PACKAGE_LOCK),
        ("srv/shop/node_modules/.package-lock.json", PACKAGE_LOCK),
        ("srv/api/vendor/composer/installed.json", INSTALLED_JSON),
        ("srv/store/Gemfile.lock", GEMFILE_LOCK),
        (f"{GEMS}/rexml-3.2.5.gemspec", gem("rexml-3.2.5.gemspec")),
        (f"{GEMS}/default/json-2.6.1.gemspec", gem("json-2.6.1.gemspec")),
        ("app/Contoso.Orders.Api.deps.json", DEPS_JSON),
    ]


def test_every_app_lockfile_kind_becomes_packages_located_at_layer_and_path(build_layer: LayerBuilder) -> None:
    image = merge_layers([layer(build_layer, "sha256:aa", app_layer_members())])
    packages = found(image)
    assert packages[("npm", "lodash", "4.17.11")] == "sha256:aa:srv/shop/package-lock.json"
    assert packages[("npm", "left-pad", "1.3.0")] == "sha256:aa:srv/shop/package-lock.json"  # dev: scanned too
    assert packages[("Packagist", "guzzlehttp/psr7", "1.8.3")] == "sha256:aa:srv/api/vendor/composer/installed.json"
    assert packages[("RubyGems", "rack", "3.0.8")] == "sha256:aa:srv/store/Gemfile.lock"
    assert packages[("RubyGems", "rexml", "3.2.5")] == f"sha256:aa:{GEMS}/rexml-3.2.5.gemspec"
    assert packages[("RubyGems", "json", "2.6.1")] == f"sha256:aa:{GEMS}/default/json-2.6.1.gemspec"
    assert packages[("NuGet", "Microsoft.Data.SqlClient", "5.1.1")] == "sha256:aa:app/Contoso.Orders.Api.deps.json"
    rexml = next(p for p in image.packages if p.name == "rexml")
    assert rexml.purl == "pkg:gem/rexml@3.2.5"
    assert image.os is None  # lockfile packages need no OS to be matched


def test_unscannable_entries_are_listed_at_the_lockfile_with_their_reason(build_layer: LayerBuilder) -> None:
    image = merge_layers([layer(build_layer, "sha256:aa", app_layer_members())])
    entries = {(i.path, i.reason.partition(" ")[0]) for i in image.unscanned if i.kind == UNSCANNABLE_ENTRY}
    assert ("sha256:aa:srv/api/vendor/composer/installed.json", "acme/billing") in entries
    billing = next(i for i in image.unscanned if i.reason.startswith("acme/billing"))
    assert "local path repository" in billing.reason
    # The Gemfile.lock's git and path gems, and the .deps.json project references, each get an item.
    assert {p for p, _ in entries} >= {"sha256:aa:srv/store/Gemfile.lock", "sha256:aa:app/Contoso.Orders.Api.deps.json"}


def test_whiteout_removes_a_lockfile_with_its_packages_and_unscanned_entries(build_layer: LayerBuilder) -> None:
    lower = layer(build_layer, "sha256:aa", app_layer_members())
    upper = layer(
        build_layer,
        "sha256:bb",
        [("srv/api/vendor/composer/.wh.installed.json", b""), ("srv/store/.wh..wh..opq", b"")],
    )
    image = merge_layers([lower, upper])
    assert ("Packagist", "guzzlehttp/psr7", "1.8.3") not in found(image)
    assert ("RubyGems", "rack", "3.0.8") not in found(image)
    assert not [i for i in image.unscanned if "installed.json" in i.path or "Gemfile.lock" in i.path]
    assert ("npm", "lodash", "4.17.11") in found(image)


def test_a_rewritten_lockfile_replaces_the_earlier_ones_unscanned_entries(build_layer: LayerBuilder) -> None:
    lower = layer(build_layer, "sha256:aa", [("srv/api/vendor/composer/installed.json", INSTALLED_JSON)])
    document = json.loads(INSTALLED_JSON)
    document["packages"] = [p for p in document["packages"] if p["name"] != "acme/billing"]
    upper = layer(build_layer, "sha256:bb", [("srv/api/vendor/composer/installed.json", json.dumps(document).encode())])
    image = merge_layers([lower, upper])
    assert not [i for i in image.unscanned if i.kind == UNSCANNABLE_ENTRY]
    assert found(image)[("Packagist", "guzzlehttp/psr7", "1.8.3")] == "sha256:bb:srv/api/vendor/composer/installed.json"


def test_a_lockfile_rewritten_unreadable_drops_the_earlier_ones_unscanned_entries(build_layer: LayerBuilder) -> None:
    lower = layer(build_layer, "sha256:aa", [("srv/api/vendor/composer/installed.json", INSTALLED_JSON)])
    upper = layer(build_layer, "sha256:bb", [("srv/api/vendor/composer/installed.json", b"{not json")])
    image = merge_layers([lower, upper])
    assert not image.packages
    [item] = image.unscanned  # the upper file, skipped: not the lower one's entries, which no longer exist
    assert (item.path, item.kind) == ("sha256:bb:srv/api/vendor/composer/installed.json", "skipped-file")


def test_a_lockfile_over_its_cap_is_skipped_with_the_reason(build_layer: LayerBuilder) -> None:
    too_big = gem("rexml-3.2.5.gemspec") + b"#" * GEMSPEC_CAP
    image = merge_layers([layer(build_layer, "sha256:aa", [(f"{GEMS}/rexml-3.2.5.gemspec", too_big)])])
    assert not image.packages
    [item] = image.unscanned
    assert (item.path, item.kind) == (f"sha256:aa:{GEMS}/rexml-3.2.5.gemspec", "skipped-file")
    assert f"over the {GEMSPEC_CAP}-byte limit" in item.reason


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"lockfileVersion": 3, "packages": ', "package-lock.json is malformed"),
        (b"", "package-lock.json is empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "package-lock.json is malformed"),
    ],
)
def test_a_lockfile_that_cannot_be_read_is_skipped_with_the_reason(
    build_layer: LayerBuilder, content: bytes, expected: str
) -> None:
    image = merge_layers([layer(build_layer, "sha256:aa", [("app/package-lock.json", content)])])
    assert not image.packages
    [item] = image.unscanned
    assert item.kind == "skipped-file"
    assert expected in item.reason


@pytest.mark.parametrize(
    "path",
    [
        "app/node_modules/lodash/package-lock.json",  # a dependency's own development lockfile
        "app/node_modules/foo/node_modules/.package-lock.json",
        "app/vendor/guzzlehttp/psr7/composer.lock",
        "usr/local/bundle/gems/rake-13.0.6/Gemfile.lock",
        "root/.cargo/registry/src/index.crates.io-6f17d22bba15001f/anyhow-1.0.75/Cargo.lock",
        "root/go/pkg/mod/github.com/x/y@v1.0.0/web/yarn.lock",
        "usr/lib/python3/dist-packages/notebook/static/package-lock.json",
        "usr/local/lib/python3.12/site-packages/jupyterlab/staging/yarn.lock",
        "app/node_modules/lodash/test/fixtures/package-lock.json",  # test data of a dependency: not even listed
        "usr/share/rubygems-integration/all/specifications/rake-13.0.6.gemspec",  # Debian's ruby-rake: dpkg has it
        "root/.nuget/packages/dotnet-ef/8.0.0/tools/net8.0/any/dotnet-ef.deps.json",
        "app/lib/rexml-3.2.5.gemspec",  # not an installed gem's specification
        "app/.deps.json",
    ],
)
def test_lockfiles_that_are_not_the_images_own_are_not_read(path: str) -> None:
    assert app_file_cap(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "package-lock.json",
        "srv/app/npm-shrinkwrap.json",
        "app/node_modules/.package-lock.json",
        "node_modules/.package-lock.json",
        "app/yarn.lock",
        "app/pnpm-lock.yaml",
        "app/Gemfile.lock",
        "app/composer.lock",
        "vendor/composer/installed.json",
        "app/Cargo.lock",
        "app/poetry.lock",
        "app/Pipfile.lock",
        "app/uv.lock",
        "app/Contoso.Api.deps.json",
        "usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.0/Microsoft.NETCore.App.deps.json",
        "usr/local/bundle/specifications/rack-3.0.8.gemspec",
        "app/vendor/bundle/ruby/3.2.0/specifications/nokogiri-1.15.4-x86_64-linux.gemspec",
        "var/lib/gems/3.1.0/specifications/default/json-2.6.1.gemspec",
        "usr/lib/ruby/gems/3.2.0/specifications/rails-7.1.1.gemspec",  # Alpine's `gem install` puts gems here
        "srv/apkg/models/web/package-lock.json",  # "pkg/mod" only as part of longer names: not the module cache
        "srv/pkg/modules/web/yarn.lock",
    ],
)
def test_app_lockfiles_are_candidates_with_a_rule(path: str) -> None:
    assert is_candidate(path)
    assert is_candidate(f"./{path}")
    rule = rule_for(path)
    assert rule is not None
    assert rule.read is not None
    assert not rule.truncatable


def test_a_hard_link_to_a_lockfile_keeps_its_packages_and_entries(build_layer: LayerBuilder) -> None:
    members: list[Member] = [
        ("a/vendor/composer/installed.json", INSTALLED_JSON),
        ("b/vendor/composer/installed.json", "hardlink:a/vendor/composer/installed.json"),
    ]
    inventory = layer(build_layer, "sha256:aa", members)
    a, b = "a/vendor/composer/installed.json", "b/vendor/composer/installed.json"
    assert inventory.packages[b] == inventory.packages[a]
    assert {i.path for i in inventory.unscanned} == {a, b}


def test_hard_links_to_a_lockfile_cannot_list_more_than_max_listed_entries(build_layer: LayerBuilder) -> None:
    target = "a/vendor/composer/installed.json"
    links = [(f"l{n}/vendor/composer/installed.json", f"hardlink:{target}") for n in range(MAX_LISTED + 5)]
    members: list[Member] = [(target, INSTALLED_JSON), *links]
    inventory = layer(build_layer, "sha256:aa", members)
    assert all(path in inventory.packages for path, _ in links)
    entries = [i for i in inventory.unscanned if i.kind == UNSCANNABLE_ENTRY]
    assert len([i for i in entries if i.path]) == MAX_LISTED
    [rest] = [i for i in entries if not i.path]
    assert rest.reason.startswith("6 more")  # one entry (acme/billing) at the target and at each link


def test_layer_inventory_with_lockfile_records_survives_the_json_cache(build_layer: LayerBuilder) -> None:
    inventory = layer(build_layer, "sha256:aa", app_layer_members())
    decoded = msgspec.json.decode(msgspec.json.encode(inventory), type=LayerInventory)
    assert decoded == inventory
    assert merge_layers([decoded]) == merge_layers([inventory])
    records = inventory.packages["srv/shop/package-lock.json"]
    assert {(r.kind, r.ecosystem) for r in records} == {(LOCKFILE, "npm")}


def test_the_same_package_in_two_lockfiles_is_reported_once_at_the_first(build_layer: LayerBuilder) -> None:
    image = merge_layers([layer(build_layer, "sha256:aa", app_layer_members())])
    lodash = [p for p in image.packages if p.name == "lodash"]
    assert lodash == [
        Package(
            name="lodash",
            version="4.17.11",
            ecosystem="npm",
            purl="pkg:npm/lodash@4.17.11",
            location="sha256:aa:srv/shop/package-lock.json",
        )
    ]


def test_composer_1_installed_json_is_a_bare_array() -> None:
    # Composer 1 wrote installed.json as the array that Composer 2 nests under `packages`.
    composer2 = json.loads(INSTALLED_JSON)
    composer1 = json.dumps(composer2["packages"]).encode()
    read = read_app_file("vendor/composer/installed.json", composer1)
    assert {(r.name, r.version) for r in read.records} == {
        ("guzzlehttp/psr7", "1.8.3"),
        ("psr/http-message", "1.0.1"),
        ("phpunit/php-timer", "5.0.3"),
    }
    [item] = read.unscanned
    assert item.reason.startswith("acme/billing ([0])")


def test_lockfiles_past_the_layers_parsing_budget_are_skipped_with_the_reason(
    build_layer: LayerBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = len(PACKAGE_LOCK) + len(INSTALLED_JSON) // 2
    small_gem = b'Gem::Specification.new do |s|\n  s.name = "rexml".freeze\n  s.version = "3.2.5"\nend\n'
    assert len(small_gem) <= len(INSTALLED_JSON) // 2
    monkeypatch.setattr("secapi.adapters.catalog.layer.APP_FILE_BYTES_PER_LAYER", budget)
    members: list[Member] = [
        ("srv/shop/package-lock.json", PACKAGE_LOCK),
        ("srv/api/vendor/composer/installed.json", INSTALLED_JSON),
        (f"{GEMS}/rexml-3.2.5.gemspec", small_gem),  # fits in what the skipped one left
    ]
    image = merge_layers([layer(build_layer, "sha256:aa", members)])
    assert ("npm", "lodash", "4.17.11") in found(image)
    assert ("Packagist", "guzzlehttp/psr7", "1.8.3") not in found(image)
    assert found(image)[("RubyGems", "rexml", "3.2.5")] == f"sha256:aa:{GEMS}/rexml-3.2.5.gemspec"
    [skipped] = [i for i in image.unscanned if i.kind == "skipped-file"]
    assert skipped.path == "sha256:aa:srv/api/vendor/composer/installed.json"
    assert skipped.reason == f"not cataloged: the layer's lockfiles and manifests exceed {budget} bytes in all"


def test_an_installed_package_and_its_hidden_lockfile_entry_are_one_package(build_layer: LayerBuilder) -> None:
    lodash = json.dumps({"name": "lodash", "version": "4.17.11", "license": "MIT"}).encode()
    members: list[Member] = [
        ("app/node_modules/lodash/package.json", lodash),
        ("app/node_modules/.package-lock.json", PACKAGE_LOCK),
    ]
    image = merge_layers([layer(build_layer, "sha256:aa", members)])
    assert [p.location for p in image.packages if p.name == "lodash"] == [
        "sha256:aa:app/node_modules/lodash/package.json"
    ]


def test_a_symlinked_lockfile_is_skipped_and_hides_the_lower_one(build_layer: LayerBuilder) -> None:
    lower = layer(build_layer, "sha256:aa", [("srv/shop/package-lock.json", PACKAGE_LOCK)])
    upper = layer(build_layer, "sha256:bb", [("srv/shop/package-lock.json", "symlink:/etc/shadow")])
    image = merge_layers([lower, upper])
    assert not image.packages
    [item] = image.unscanned
    assert (item.path, item.kind) == ("sha256:bb:srv/shop/package-lock.json", "skipped-file")


def test_a_lockfile_lists_its_first_unscannable_entries_and_counts_the_rest(build_layer: LayerBuilder) -> None:
    local = [{"name": f"acme/lib-{n}", "version": "1.0.0", "dist": {"type": "path"}} for n in range(60)]
    installed = json.dumps({"packages": local, "dev": False, "dev-package-names": []}).encode()
    image = merge_layers([layer(build_layer, "sha256:aa", [("vendor/composer/installed.json", installed)])])
    items = [i for i in image.unscanned if i.kind == UNSCANNABLE_ENTRY]
    assert len(items) == MAX_ENTRIES_LISTED + 1
    assert items[0].reason.startswith("acme/lib-0 (packages[0]): installed from a local path repository")
    assert items[-1].reason == "10 more entries of this file could not be scanned and were not listed"
    assert {i.path for i in items} == {"sha256:aa:vendor/composer/installed.json"}


def test_a_layer_lists_at_most_max_listed_unscannable_entries_and_counts_the_rest(build_layer: LayerBuilder) -> None:
    # 300 tiny lockfiles of one path dependency each: listed up to MAX_LISTED, then one whole-layer count.
    one_local = json.dumps({"packages": [{"name": "acme/lib", "version": "1.0.0", "dist": {"type": "path"}}]})
    members: list[Member] = [(f"srv/app-{n}/vendor/composer/installed.json", one_local.encode()) for n in range(300)]
    image = merge_layers([layer(build_layer, "sha256:aa", members)])
    entries = [i for i in image.unscanned if i.kind == UNSCANNABLE_ENTRY]
    assert len(entries) == MAX_LISTED + 1
    assert entries[-1].path == "sha256:aa"
    assert (
        entries[-1].reason
        == f"{300 - MAX_LISTED} more lockfile entries that could not be scanned in this layer were not listed"
    )


@pytest.mark.parametrize(
    "path",
    ["app/test/fixtures/package-lock.json", "src/spec/fixtures/Gemfile.lock", "app/examples/web/yarn.lock"],
)
def test_an_apps_test_data_lockfile_is_listed_never_parsed(build_layer: LayerBuilder, path: str) -> None:
    # Not parsed: the bytes are not even a lockfile; listed, so the clean answer says where it did not look.
    image = merge_layers([layer(build_layer, "sha256:aa", [(path, b"\x00 not a lockfile " * 1000)])])
    assert not image.packages
    [item] = image.unscanned
    assert (item.path, item.kind) == (f"sha256:aa:{path}", TEST_LOCKFILE)
    assert "taken as test data" in item.reason


_UPLOAD_DIRECTORIES = ("yarn-v1", "yarn-berry", "pnpm-v6", "pnpm-v9", "cargo", "poetry", "pipenv", "uv", "composer")
UPLOAD_FIXTURES = [
    *(path for directory in _UPLOAD_DIRECTORIES for path in sorted((LOCKFILE_FIXTURES / directory).iterdir())),
    LOCKFILE_FIXTURES / "npm-v1" / "package-lock.json",
    LOCKFILE_FIXTURES / "shrinkwrap-v2" / "npm-shrinkwrap.json",
]


@pytest.mark.parametrize("fixture", UPLOAD_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_lockfile_in_a_layer_yields_what_its_upload_yields(build_layer: LayerBuilder, fixture: Path) -> None:
    path = f"srv/app/{fixture.name}"
    uploaded = parse_lockfile(fixture.name, fixture.read_text(encoding="utf-8"))
    image = merge_layers([layer(build_layer, "sha256:aa", [(path, fixture.read_bytes())])])
    assert uploaded.packages
    assert {(p.ecosystem, p.name, p.version, p.purl) for p in image.packages} == {
        (p.ecosystem, p.name, p.version, p.purl) for p in uploaded.packages
    }
    assert {p.location for p in image.packages} == {f"sha256:aa:{path}"}
    listed = [i for i in image.unscanned if i.kind == UNSCANNABLE_ENTRY]
    assert len(listed) == min(len(uploaded.unscannable), MAX_ENTRIES_LISTED)


@pytest.mark.parametrize(
    ("directory", "lower"),
    [
        ("srv/api/vendor", "srv/api/vendor/composer/installed.json"),
        ("srv/api/vendor/composer", "srv/api/vendor/composer/installed.json"),
        (GEMS, f"{GEMS}/rexml-3.2.5.gemspec"),
        (f"{GEMS}/default", f"{GEMS}/default/json-2.6.1.gemspec"),
        ("srv/shop/node_modules", "srv/shop/node_modules/.package-lock.json"),
    ],
)
def test_a_link_replacing_a_manifest_directory_hides_the_lower_manifests(
    build_layer: LayerBuilder, directory: str, lower: str
) -> None:
    lower_layer = layer(build_layer, "sha256:aa", app_layer_members())
    upper = layer(build_layer, "sha256:bb", [(directory, "symlink:/opt/elsewhere")])
    image = merge_layers([lower_layer, upper])
    assert all(not (p.location or "").endswith(lower) for p in image.packages)
    assert all(not i.path.endswith(lower) for i in image.unscanned)
