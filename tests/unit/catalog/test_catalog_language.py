"""Language packages installed in images: Python distributions and npm node_modules."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from secapi.adapters.catalog import LayerLimits, catalog_layer, parse_npm_package_json, parse_python_metadata
from secapi.domain.inventory import merge_layers
from secapi.domain.services.matching import lookup_key

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

REQUESTS_METADATA = b"""\
Metadata-Version: 2.1
Name: requests
Version: 2.31.0
Summary: Python HTTP for Humans.
Home-page: https://requests.readthedocs.io
Author: Kenneth Reitz
Author-email: me@kennethreitz.org
License: Apache 2.0
Project-URL: Source, https://github.com/psf/requests
Classifier: Development Status :: 5 - Production/Stable
Requires-Python: >=3.7
Description-Content-Type: text/markdown
License-File: LICENSE
Requires-Dist: charset-normalizer (<4,>=2)
Requires-Dist: idna (<4,>=2.5)
Provides-Extra: socks

# Requests

**Requests** is a simple, yet elegant, HTTP library.

Name: not-a-header
Version: 0.0.0
"""

SQLALCHEMY_METADATA = b"""\
Metadata-Version: 2.1
Name: Flask_SQLAlchemy
Version: 3.1.1
Summary: Add SQLAlchemy support to your Flask application.
"""

SIX_PKG_INFO = b"""\
Metadata-Version: 1.2
Name: six
Version: 1.16.0
Summary: Python 2 and 3 compatibility utilities
Home-page: https://github.com/benjaminp/six
Author: Benjamin Peterson
License: MIT
Description: .. image:: https://img.shields.io/pypi/v/six.svg
        Six is a Python 2 and 3 compatibility library.
Platform: UNKNOWN
"""


def _json(**fields: object) -> bytes:
    return json.dumps({**fields, "description": "x", "license": "MIT"}, indent=2).encode()


SITE = "usr/local/lib/python3.11/site-packages"
NODE_MODULES = "app/node_modules"


def test_metadata_reads_headers_only() -> None:
    (record,) = parse_python_metadata(REQUESTS_METADATA)
    assert (record.kind, record.name, record.version, record.purl) == (
        "python",
        "requests",
        "2.31.0",
        "pkg:pypi/requests@2.31.0",
    )


def test_metadata_name_is_kept_but_normalised_in_the_purl() -> None:
    (record,) = parse_python_metadata(SQLALCHEMY_METADATA)
    assert (record.name, record.purl) == ("Flask_SQLAlchemy", "pkg:pypi/flask-sqlalchemy@3.1.1")


def test_metadata_without_version_is_an_error_the_layer_reports() -> None:
    with pytest.raises(ValueError, match="Name and Version"):
        parse_python_metadata(b"Metadata-Version: 2.1\nName: x\n")


def test_package_json_scoped_name_and_private_packages() -> None:
    (record,) = parse_npm_package_json(_json(name="@babel/core", version="7.23.2"))
    assert (record.kind, record.name, record.version, record.purl) == (
        "npm",
        "@babel/core",
        "7.23.2",
        "pkg:npm/%40babel/core@7.23.2",
    )
    assert parse_npm_package_json(_json(name="my-workspace", private=True)) == ()
    with pytest.raises(ValueError, match="invalid JSON"):
        parse_npm_package_json(b'{"name": "broken", "version": ')
    with pytest.raises(ValueError, match="not a JSON object"):
        parse_npm_package_json(b"[1, 2]")


def test_layer_catalogs_dist_info_egg_info_and_node_modules(build_layer: Callable[..., Path]) -> None:
    blob = build_layer(
        [
            (f"{SITE}/requests-2.31.0.dist-info/METADATA", REQUESTS_METADATA),
            (f"{SITE}/requests-2.31.0.dist-info/RECORD", b"requests/__init__.py,sha256=x,4965\n"),
            (f"{SITE}/Flask_SQLAlchemy-3.1.1.dist-info/METADATA", SQLALCHEMY_METADATA),
            ("usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", SIX_PKG_INFO),
            (f"{SITE}/requests/METADATA", REQUESTS_METADATA),  # not in a .dist-info directory
            ("app/package.json", _json(name="my-app", version="1.0.0")),  # the project, not a dependency
            (f"{NODE_MODULES}/.package-lock.json", _json(name="my-app", version="1.0.0")),
            (f"{NODE_MODULES}/express/package.json", _json(name="express", version="4.18.2")),
            (f"{NODE_MODULES}/express/lib/package.json", _json(name="lib", version="0.0.1")),
            (f"{NODE_MODULES}/express/test/fixtures/package.json", _json(name="fixture", version="9.9.9")),
            (f"{NODE_MODULES}/express/node_modules/debug/package.json", _json(name="debug", version="2.6.9")),
            (f"{NODE_MODULES}/debug/package.json", _json(name="debug", version="4.3.4")),
            (f"{NODE_MODULES}/@babel/core/package.json", _json(name="@babel/core", version="7.23.2")),
            (f"{NODE_MODULES}/@babel/package.json", _json(name="not-a-package", version="1.0.0")),
            (f"{NODE_MODULES}/.bin/package.json", _json(name="hidden", version="1.0.0")),
            (f"{NODE_MODULES}/my-workspace/package.json", _json(name="my-workspace", private=True)),
            (f"{NODE_MODULES}/broken/package.json", b'{"name": "broken",'),
        ]
    )
    layer = catalog_layer(blob, GZIP, "sha256:lang", LayerLimits())
    broken = f"{NODE_MODULES}/broken/package.json"
    assert list(layer.skipped) == [broken]
    assert layer.skipped[broken].startswith("not cataloged: invalid JSON")

    image = merge_layers([layer])
    assert image.os is None  # language packages need no OS
    assert sorted((p.ecosystem, p.name, p.version) for p in image.packages) == [
        ("PyPI", "Flask_SQLAlchemy", "3.1.1"),
        ("PyPI", "requests", "2.31.0"),
        ("PyPI", "six", "1.16.0"),
        ("npm", "@babel/core", "7.23.2"),
        ("npm", "debug", "2.6.9"),
        ("npm", "debug", "4.3.4"),
        ("npm", "express", "4.18.2"),
    ]
    nested = next(p for p in image.packages if p.version == "2.6.9")
    assert nested.location == f"sha256:lang:{NODE_MODULES}/express/node_modules/debug/package.json"
    assert [(i.path, i.kind, i.reason) for i in image.unscanned] == [
        (f"sha256:lang:{broken}", "skipped-file", layer.skipped[broken])
    ]


def test_huge_metadata_is_read_up_to_its_cap_and_still_parses(build_layer: Callable[..., Path]) -> None:
    body = os.urandom(1_000_000).hex().encode()  # 2 MB, over the 1 MiB cap (random: no bomb-like ratio)
    blob = build_layer([(f"{SITE}/big-1.0.dist-info/METADATA", b"Name: big\nVersion: 1.0\n\n" + body)])
    layer = catalog_layer(blob, GZIP, "sha256:big", LayerLimits())
    assert [(r.name, r.version) for r in layer.packages[f"{SITE}/big-1.0.dist-info/METADATA"]] == [("big", "1.0")]


def test_oversized_package_json_is_skipped_with_a_reason(build_layer: Callable[..., Path]) -> None:
    manifest = _json(name="huge", version="1.0.0", blob=os.urandom(1_000_000).hex())
    blob = build_layer([(f"{NODE_MODULES}/huge/package.json", manifest)])
    layer = catalog_layer(blob, GZIP, "sha256:huge", LayerLimits())
    assert layer.packages == {}
    assert "over the 1048576-byte limit" in layer.skipped[f"{NODE_MODULES}/huge/package.json"]


@pytest.mark.parametrize("tar_format", [tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT])
def test_long_paths_in_every_tar_format(tmp_path: Path, tar_format: int) -> None:
    deep = "usr/lib/node_modules/" + "/".join(f"pkg{i}/node_modules" for i in range(8)) + "/@scope/leaf/package.json"
    assert len(deep) > 100  # beyond the 100-byte name field: GNU long names, ustar prefix, or pax path
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tar_format) as tar:
        data = _json(name="@scope/leaf", version="0.1.0")
        info = tarfile.TarInfo(deep)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    blob = tmp_path / "long.tar"
    blob.write_bytes(out.getvalue())
    layer = catalog_layer(blob, "application/vnd.oci.image.layer.v1.tar", "sha256:long", LayerLimits())
    assert [(r.name, r.version) for r in layer.packages[deep]] == [("@scope/leaf", "0.1.0")]


ZOPE_INTERFACE_PKG_INFO = b"""\
Metadata-Version: 2.1
Name: zope.interface
Version: 5.4.0
Summary: Interfaces for Python
Home-page: https://github.com/zopefoundation/zope.interface
Author: Zope Foundation and Contributors
License: ZPL 2.1
Platform: UNKNOWN
"""

PYTHON_APT_EGG_INFO = b"""\
Metadata-Version: 1.1
Name: python-apt
Version: 2.6.0
Summary: Python bindings for APT
Home-page: UNKNOWN
Author: APT Development Team
License: GNU GPL
Platform: posix
"""


def test_single_file_egg_info_and_egg_directories_are_cataloged(build_layer: Callable[..., Path]) -> None:
    dist_packages = "usr/lib/python3/dist-packages"
    blob = build_layer(
        [
            (f"{dist_packages}/python_apt-2.6.0.egg-info", PYTHON_APT_EGG_INFO),
            (f"{SITE}/zope.interface-5.4.0-py3.11-linux-x86_64.egg/", "dir"),
            (f"{SITE}/zope.interface-5.4.0-py3.11-linux-x86_64.egg/EGG-INFO/PKG-INFO", ZOPE_INTERFACE_PKG_INFO),
            (f"{SITE}/six-1.16.0.egg-info/", "dir"),  # a directory with that suffix is not a file to read
            (f"{SITE}/six-1.16.0.egg-info/PKG-INFO", SIX_PKG_INFO),
            ("opt/notes/readme.egg-info", PYTHON_APT_EGG_INFO),  # not in site-packages: not an installed one
        ]
    )
    layer = catalog_layer(blob, GZIP, "sha256:eggs", LayerLimits())
    assert layer.skipped == {}
    image = merge_layers([layer])
    assert sorted((p.ecosystem, p.name, p.version, p.purl) for p in image.packages) == [
        ("PyPI", "python-apt", "2.6.0", "pkg:pypi/python-apt@2.6.0"),
        ("PyPI", "six", "1.16.0", "pkg:pypi/six@1.16.0"),
        ("PyPI", "zope.interface", "5.4.0", "pkg:pypi/zope-interface@5.4.0"),
    ]
    zope = next(p for p in image.packages if p.name == "zope.interface")
    assert lookup_key(zope) == ("PyPI", "zope-interface")  # what PyPI advisories for zope.interface are filed as


def test_a_link_replacing_an_egg_directory_hides_what_lower_layers_had_in_it(
    build_layer: Callable[..., Path],
) -> None:
    egg = f"{SITE}/zope.interface-5.4.0-py3.11.egg"
    base = build_layer([(f"{egg}/EGG-INFO/PKG-INFO", ZOPE_INTERFACE_PKG_INFO)])
    upper = build_layer([(egg, "symlink:/opt/elsewhere")])
    layers = [catalog_layer(blob, GZIP, f"sha256:{i}", LayerLimits()) for i, blob in enumerate((base, upper))]
    assert layers[1].deleted == (egg,)
    assert merge_layers(layers).packages == ()
