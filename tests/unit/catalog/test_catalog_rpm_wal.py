"""An rpm SQLite write-ahead log left with content: the database is read without it, and the result says so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.domain.inventory import merge_layers

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
WAL = "usr/lib/sysimage/rpm/rpmdb.sqlite-wal"


def test_a_non_empty_wal_is_listed_with_its_size_and_an_empty_one_is_not(build_layer: Callable[..., Path]) -> None:
    blob = build_layer([(WAL, b"\x37\x7f\x06\x82" + b"\0" * 4092), ("var/lib/rpm/rpmdb.sqlite-wal", b"")])
    layer = catalog_layer(blob, GZIP, "sha256:wal", LayerLimits())
    (item,) = layer.unscanned
    assert (item.path, item.kind) == (WAL, "rpm-wal")
    assert "4,096 bytes" in item.reason
    assert "may be missing" in item.reason


def test_a_wal_removed_by_a_later_layer_is_no_longer_listed(build_layer: Callable[..., Path]) -> None:
    lower = catalog_layer(build_layer([(WAL, b"x" * 100)]), GZIP, "sha256:lower", LayerLimits())
    upper = catalog_layer(
        build_layer([("usr/lib/sysimage/rpm/.wh.rpmdb.sqlite-wal", b"")]), GZIP, "sha256:upper", LayerLimits()
    )
    assert [item.kind for item in merge_layers([lower]).unscanned] == ["rpm-wal"]
    assert merge_layers([lower, upper]).unscanned == ()
