"""Stacking layers: whiteouts, opaque directories, replaced files, and packages whose OS is unknown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.domain.inventory import CATALOGER_VERSION, LayerInventory, PackageRecord, merge_layers

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DEBIAN_OS = {"etc/os-release": 'ID=debian\nVERSION_ID="12"\n'}
STATUS = "var/lib/dpkg/status"


def dpkg(name: str, version: str) -> PackageRecord:
    return PackageRecord(kind="dpkg", name=name, version=version, arch="amd64")


def npm(name: str, version: str) -> PackageRecord:
    return PackageRecord(kind="npm", name=name, version=version, purl=f"pkg:npm/{name}@{version}")


def layer(digest: str, **fields: object) -> LayerInventory:
    return msgspec.convert({"digest": digest, **fields}, LayerInventory)


def names(layers: list[LayerInventory]) -> list[tuple[str, str]]:
    return sorted((p.name, p.version) for p in merge_layers(layers).packages)


def test_later_layer_replaces_the_status_file() -> None:
    base = layer("sha256:1", os_files=DEBIAN_OS, packages={STATUS: [dpkg("openssl", "3.0.9-1"), dpkg("zlib1g", "1")]})
    upgrade = layer("sha256:2", packages={STATUS: [dpkg("openssl", "3.0.11-1")]})
    image = merge_layers([base, upgrade])
    assert [(p.name, p.version, p.location) for p in image.packages] == [
        ("openssl", "3.0.11-1", "sha256:2:var/lib/dpkg/status")
    ]


def test_whiteout_of_the_status_file_removes_dpkg_packages() -> None:
    base = layer("sha256:1", os_files=DEBIAN_OS, packages={STATUS: [dpkg("openssl", "3.0.9-1")]})
    assert names([base, layer("sha256:2", deleted=[STATUS])]) == []


def test_whiteout_of_a_directory_removes_everything_below_it() -> None:
    base = layer(
        "sha256:1",
        packages={
            "app/node_modules/a/package.json": [npm("a", "1.0.0")],
            "app/node_modules/b/package.json": [npm("b", "2.0.0")],
            "application/node_modules/c/package.json": [npm("c", "3.0.0")],  # shares a prefix, not a directory
        },
    )
    assert names([base, layer("sha256:2", deleted=["app"])]) == [("c", "3.0.0")]


def test_opaque_dir_hides_lower_content_but_keeps_its_own() -> None:
    base = layer("sha256:1", packages={"app/node_modules/a/package.json": [npm("a", "1.0.0")]})
    rebuilt = layer(
        "sha256:2", opaque_dirs=["app/node_modules"], packages={"app/node_modules/b/package.json": [npm("b", "2.0.0")]}
    )
    assert names([base, rebuilt]) == [("b", "2.0.0")]


def test_whiteout_then_re_add_in_a_later_layer() -> None:
    base = layer("sha256:1", os_files=DEBIAN_OS, packages={STATUS: [dpkg("a", "1")]})
    gone = layer("sha256:2", deleted=["var/lib/dpkg"])
    back = layer("sha256:3", packages={STATUS: [dpkg("b", "2")]})
    assert names([base, gone, back]) == [("b", "2")]


def test_os_files_follow_the_same_whiteout_rules() -> None:
    debian = layer("sha256:1", os_files=DEBIAN_OS, packages={STATUS: [dpkg("a", "1")]})
    image = merge_layers([debian, layer("sha256:2", deleted=["etc/os-release"])])
    assert image.os is None
    assert image.packages == ()
    assert image.unresolved == ("1 dpkg package found but the OS could not be identified",)


def test_dpkg_packages_without_os_release_are_unresolved_not_guessed() -> None:
    image = merge_layers(
        [
            layer(
                "sha256:1",
                packages={
                    STATUS: [dpkg("a", "1"), dpkg("b", "2")],
                    "x/node_modules/n/package.json": [npm("n", "1.0.0")],
                },
            )
        ]
    )
    assert [(p.ecosystem, p.name) for p in image.packages] == [("npm", "n")]
    assert image.unresolved == ("2 dpkg packages found but the OS could not be identified",)


def test_dpkg_packages_on_an_os_without_an_osv_ecosystem_are_unresolved() -> None:
    fedora = {"etc/os-release": 'ID=fedora\nVERSION_ID=39\nPRETTY_NAME="Fedora Linux 39"\n'}
    image = merge_layers([layer("sha256:1", os_files=fedora, packages={STATUS: [dpkg("a", "1")]})])
    assert image.unresolved == (
        "1 dpkg package found but the OS (Fedora Linux 39) has no known OSV ecosystem for them",
    )


def test_apk_packages_on_debian_are_not_given_the_debian_ecosystem() -> None:
    apk = PackageRecord(kind="apk", name="musl", version="1.2.4-r2", source_name="musl", source_version="1.2.4-r2")
    image = merge_layers([layer("sha256:1", os_files=DEBIAN_OS, packages={"lib/apk/db/installed": [apk]})])
    assert image.packages == ()
    assert image.unresolved == ("1 apk package found but the OS (debian 12) has no known OSV ecosystem for them",)


def test_identical_packages_are_reported_once_at_the_first_location() -> None:
    image = merge_layers(
        [
            layer(
                "sha256:1",
                packages={
                    "a/node_modules/lodash/package.json": [npm("lodash", "4.17.20")],
                    "b/node_modules/lodash/package.json": [npm("lodash", "4.17.20")],
                    "c/node_modules/lodash/package.json": [npm("lodash", "4.17.21")],
                },
            )
        ]
    )
    assert [(p.version, p.location) for p in image.packages] == [
        ("4.17.20", "sha256:1:a/node_modules/lodash/package.json"),
        ("4.17.21", "sha256:1:c/node_modules/lodash/package.json"),
    ]


def test_layer_inventory_round_trips_through_json_for_the_layer_cache() -> None:
    original = layer("sha256:1", os_files=DEBIAN_OS, packages={STATUS: [dpkg("a", "1")]}, deleted=["x"])
    decoded = msgspec.json.decode(msgspec.json.encode(original), type=LayerInventory)
    assert decoded == original
    assert decoded.cataloger_version == CATALOGER_VERSION


def _manifest(name: str, version: str) -> bytes:
    return json.dumps({"name": name, "version": version}).encode()


def test_whiteouts_read_from_real_layers(build_layer: Callable[..., Path]) -> None:
    base = build_layer(
        [
            ("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
            (STATUS, b"Package: openssl\nStatus: install ok installed\nVersion: 3.0.9-1\n"),
            ("app/node_modules/left-pad/package.json", _manifest("left-pad", "1.3.0")),
            ("app/node_modules/express/package.json", _manifest("express", "4.17.1")),
            ("srv/node_modules/kept/package.json", _manifest("kept", "1.0.0")),
        ]
    )
    upper = build_layer(
        [
            ("var/lib/dpkg/.wh.status", b""),
            ("app/node_modules/", "dir"),
            ("app/node_modules/.wh..wh..opq", b""),
            ("app/node_modules/express/package.json", _manifest("express", "4.18.2")),
            ("srv/.wh..wh.plnk", "dir"),  # aufs bookkeeping, not a deletion
        ]
    )
    top = build_layer([(STATUS, b"Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1\n")])
    layers = [catalog_layer(blob, GZIP, f"sha256:{i}", LayerLimits()) for i, blob in enumerate((base, upper, top))]
    assert layers[1].deleted == (STATUS,)
    assert layers[1].opaque_dirs == ("app/node_modules",)

    assert names(layers[:2]) == [("express", "4.18.2"), ("kept", "1.0.0")]
    assert names(layers) == [("express", "4.18.2"), ("kept", "1.0.0"), ("openssl", "3.0.11-1")]


def test_root_opaque_whiteout_hides_every_lower_file(build_layer: Callable[..., Path]) -> None:
    base = build_layer([("app/node_modules/a/package.json", _manifest("a", "1.0.0"))])
    upper = build_layer([(".wh..wh..opq", b""), ("app/node_modules/b/package.json", _manifest("b", "1.0.0"))])
    layers = [catalog_layer(blob, GZIP, f"sha256:{i}", LayerLimits()) for i, blob in enumerate((base, upper))]
    assert layers[1].opaque_dirs == ("",)
    assert names(layers) == [("b", "1.0.0")]
