"""Stacking layers: whiteouts, opaque directories, replaced files, and packages whose OS is unknown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.domain.inventory import CATALOGER_VERSION, LayerInventory, PackageRecord, merge_layers
from secapi.domain.packages import UnscannedItem

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
    assert image.unscanned == (
        UnscannedItem(
            path="sha256:1:var/lib/dpkg/status",
            kind="unknown-os",
            reason="1 dpkg package found but the OS could not be identified",
        ),
    )


def test_dpkg_packages_without_os_release_are_listed_as_unscanned_not_guessed() -> None:
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
    assert [(i.path, i.kind, i.reason) for i in image.unscanned] == [
        ("sha256:1:var/lib/dpkg/status", "unknown-os", "2 dpkg packages found but the OS could not be identified")
    ]


def test_dpkg_packages_on_an_os_without_an_osv_ecosystem_are_listed_as_unscanned() -> None:
    gentoo = {"etc/os-release": 'ID=gentoo\nVERSION_ID=2.15\nPRETTY_NAME="Gentoo Linux"\n'}
    image = merge_layers([layer("sha256:1", os_files=gentoo, packages={STATUS: [dpkg("a", "1")]})])
    assert [(i.path, i.kind, i.reason) for i in image.unscanned] == [
        (
            "sha256:1:var/lib/dpkg/status",
            "unknown-os",
            "1 dpkg package found but the OS (Gentoo Linux) has no known OSV ecosystem for them",
        ),
        (
            "sha256:1:etc/os-release",
            "unknown-os",
            "the OS (Gentoo Linux) is not one SecAPI reads packages of: its OS packages were not scanned",
        ),
    ]


def test_apk_packages_on_debian_are_not_given_the_debian_ecosystem() -> None:
    apk = PackageRecord(kind="apk", name="musl", version="1.2.4-r2", source_name="musl", source_version="1.2.4-r2")
    image = merge_layers([layer("sha256:1", os_files=DEBIAN_OS, packages={"lib/apk/db/installed": [apk]})])
    assert image.packages == ()
    assert [(i.kind, i.reason) for i in image.unscanned] == [
        ("unknown-os", "1 apk package found but the OS (debian 12) has no known OSV ecosystem for them")
    ]


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


def _item(path: str, kind: str) -> dict[str, str]:
    return {"path": path, "kind": kind, "reason": f"a {kind}"}


def test_unscanned_content_follows_whiteouts_and_names_its_layer() -> None:
    base = layer(
        "sha256:1",
        unscanned=[
            _item("usr/lib/sysimage/rpm/rpmdb.sqlite", "rpm-db"),
            _item("app/lib/log4j-core-2.14.1.jar", "java-archive"),
            _item("usr/local/bin/app", "go-binary"),
            _item("", "go-binary"),  # the layer as a whole: more binaries than were listed
        ],
    )
    upper = layer("sha256:2", deleted=["app/lib", "usr/local/bin/app"], unscanned=[_item("opt/tool", "rust-binary")])
    image = merge_layers([base, upper])
    assert [(i.path, i.kind) for i in image.unscanned] == [
        ("sha256:1:usr/lib/sysimage/rpm/rpmdb.sqlite", "rpm-db"),
        ("sha256:2:opt/tool", "rust-binary"),
        ("sha256:1", "go-binary"),
    ]
    rebuilt = layer("sha256:3", opaque_dirs=["usr"], unscanned=[_item("usr/local/bin/app", "go-binary")])
    assert [(i.path, i.kind) for i in merge_layers([base, upper, rebuilt]).unscanned] == [
        ("sha256:2:opt/tool", "rust-binary"),
        ("sha256:3:usr/local/bin/app", "go-binary"),
        ("sha256:1", "go-binary"),
    ]


@pytest.mark.parametrize(
    ("os_release", "name"),
    [
        # RPM distributions are read since the rpm databases are (test_catalog_rpm_merge.py).
        ('ID=gentoo\nPRETTY_NAME="Gentoo Linux"\n', "Gentoo Linux"),
        ('ID=arch\nPRETTY_NAME="Arch Linux"\n', "Arch Linux"),
        ('ID=nixos\nVERSION_ID="24.05"\n', "nixos 24.05"),
    ],
)
def test_an_os_secapi_does_not_read_is_said_to_be_unscanned(os_release: str, name: str) -> None:
    image = merge_layers([layer("sha256:1", os_files={"usr/lib/os-release": os_release})])
    assert [(i.path, i.kind, i.reason) for i in image.unscanned] == [
        (
            "sha256:1:usr/lib/os-release",
            "unknown-os",
            f"the OS ({name}) is not one SecAPI reads packages of: its OS packages were not scanned",
        )
    ]


def test_an_os_secapi_reads_adds_no_unscanned_item() -> None:
    assert merge_layers([layer("sha256:1", os_files=DEBIAN_OS)]).unscanned == ()


def test_unscanned_items_round_trip_through_the_layer_and_image_caches() -> None:
    original = layer("sha256:1", unscanned=[_item("app.jar", "java-archive")], skipped={"x": "too big"})
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(original), type=LayerInventory)
    assert decoded == original
    image = merge_layers([decoded])
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(image), type=type(image)) == image
