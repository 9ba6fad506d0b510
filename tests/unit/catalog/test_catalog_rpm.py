"""RPM databases read in pure Python, checked against rpm itself: SQLite written by Debian's rpm 4.18,
real Berkeley DB and NDB files from other scanners' test data (tests/fixtures/rpmdb/NOTICE.md)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from secapi.adapters.catalog import LayerLimits, catalog_layer
from secapi.adapters.catalog.rpm import parse_rpm_bdb, parse_rpm_ndb, parse_rpm_sqlite
from secapi.adapters.catalog.rpm.ndb import ndb_blobs
from secapi.adapters.catalog.rules import RPM_DATABASE_BYTES
from secapi.domain.inventory import PackageRecord, merge_layers

from support.rpmroot import DBPATH, IN_CI, QUERY_FORMAT, Spec, build_root, require_rpm, rpm_query_all

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rpmdb"
GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
SPECS = [
    Spec("python3.9", "3.9.10", "2.el9", subpackages=("python3", "python3-libs"), main_package=False),
    Spec("openssl", "3.0.1", "47.el9_1", epoch=1, subpackages=("openssl-libs",)),
    Spec("zero-epoch", "1.0", "1", epoch=0),
    Spec(
        "nodejs", "18.19.0", "1.module+el9.3.0+35+a75119d5", epoch=1,
        defines={"modularitylabel": "nodejs:18:9030020231120082734:rhel9"},
    ),
]  # fmt: skip


def line(record: PackageRecord) -> str:
    """A record in the oracle's `name [epoch:]version-release arch sourcerpm` shape."""
    source = f"{record.source_name}-{record.source_version.partition(':')[2] or record.source_version}.src.rpm"
    return f"{record.name} {record.version} {record.arch} {source}"


@pytest.fixture(scope="module")
def rpm_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_root(tmp_path_factory.mktemp("rpm"), SPECS)


def test_sqlite_database_written_by_rpm_reads_as_rpm_lists_it(rpm_root: Path) -> None:
    records = parse_rpm_sqlite((rpm_root / DBPATH / "rpmdb.sqlite").read_bytes())
    assert sorted(line(r) for r in records) == rpm_query_all(rpm_root)
    by_name = {r.name: r for r in records}
    # A sub-package named apart from its source RPM, and an epoch the source RPM's file name lacks.
    assert by_name["python3-libs"] == PackageRecord(
        kind="rpm", name="python3-libs", version="3.9.10-2.el9", source_name="python3.9",
        source_version="3.9.10-2.el9", arch="noarch",
    )  # fmt: skip
    assert (by_name["openssl-libs"].version, by_name["openssl-libs"].source_version) == (
        "1:3.0.1-47.el9_1",
        "1:3.0.1-47.el9_1",
    )
    assert by_name["zero-epoch"].version == "0:1.0-1"  # an explicit epoch 0 is kept, as rpm prints it
    assert by_name["nodejs"].modularity_label == "nodejs:18:9030020231120082734:rhel9"


def test_rpm_writes_sqlite_in_wal_mode_which_is_read_from_memory(rpm_root: Path) -> None:
    data = (rpm_root / DBPATH / "rpmdb.sqlite").read_bytes()
    assert data[18:20] == b"\x02\x02"  # the premise: without the header rewrite SQLite refuses it in memory
    assert len(parse_rpm_sqlite(data)) == 6


def test_a_layer_with_an_rpm_root_yields_its_packages(rpm_root: Path, build_layer: Callable[..., Path]) -> None:
    data = (rpm_root / DBPATH / "rpmdb.sqlite").read_bytes()
    blob = build_layer(
        [
            ("usr/lib/sysimage/rpm/rpmdb.sqlite", data),
            ("var/lib/rpm/Packages", (FIXTURES / "centos8-libuuid" / "Packages").read_bytes()),
            ("usr/lib/sysimage/rpm/Packages.db", (FIXTURES / "sle15-bci" / "Packages.db").read_bytes()),
            ("opt/backup/rpmdb.sqlite", data),  # not where rpm keeps its database: not read
        ]
    )
    layer = catalog_layer(blob, GZIP, "sha256:rpm", LayerLimits())
    assert {path: len(records) for path, records in layer.packages.items()} == {
        "usr/lib/sysimage/rpm/rpmdb.sqlite": 6,
        "var/lib/rpm/Packages": 1,
        "usr/lib/sysimage/rpm/Packages.db": 35,
    }
    assert (layer.skipped, layer.unscanned) == ({}, ())


def test_a_database_over_the_cap_is_a_skipped_file_with_its_size(build_layer: Callable[..., Path]) -> None:
    blob = build_layer([("var/lib/rpm/rpmdb.sqlite", bytes(RPM_DATABASE_BYTES + 1))], compression="tar")
    layer = catalog_layer(blob, GZIP, "sha256:big", LayerLimits())
    assert layer.skipped == {
        "var/lib/rpm/rpmdb.sqlite": f"not cataloged: {RPM_DATABASE_BYTES + 1} bytes, "
        f"over the {RPM_DATABASE_BYTES}-byte limit for this file"
    }


def test_berkeley_db_file_from_rhel_8_reads_as_rpm_lists_it(tmp_path: Path) -> None:
    data = (FIXTURES / "centos8-libuuid" / "Packages").read_bytes()
    expected = ["libuuid 2.32.1-42.el8_8 x86_64 util-linux-2.32.1-42.el8_8.src.rpm"]
    assert [line(r) for r in parse_rpm_bdb(data)] == expected
    if shutil.which("rpm") is None:
        if IN_CI:
            pytest.fail("rpm must be installed under CI=true: it is the oracle for Berkeley DB reads")
        return
    (tmp_path / "db").mkdir()
    shutil.copy(FIXTURES / "centos8-libuuid" / "Packages", tmp_path / "db" / "Packages")
    oracle = subprocess.run(
        ["rpm", "--dbpath", str(tmp_path / "db"), "--define", "_db_backend bdb_ro", "-qa", "--qf", QUERY_FORMAT],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert oracle.stdout.splitlines() == expected


def test_berkeley_db_header_lies_in_an_overflow_chain() -> None:
    # The premise of the test above: a one-package file of 23 pages whose header does not fit one 4 KiB page.
    data = (FIXTURES / "centos8-libuuid" / "Packages").read_bytes()
    assert len(data) == 23 * 4096
    assert [data[page * 4096 + 25] for page in range(1, 23)].count(7) >= 2  # P_OVERFLOW pages


def test_ndb_file_from_sle_15_reads_as_rpm_listed_it() -> None:
    records = parse_rpm_ndb((FIXTURES / "sle15-bci" / "Packages.db").read_bytes())
    expected = (FIXTURES / "sle15-bci" / "rpm-qa.txt").read_text().splitlines()
    assert [line(r) for r in records] == expected
    assert "libstdc++6 11.2.1+git610-1.3.9 x86_64 gcc11-11.2.1+git610-1.3.9.src.rpm" in expected


def _db_load() -> str:
    tool = shutil.which("db5.3_load") or shutil.which("db_load")
    if tool is None:
        if IN_CI:
            pytest.fail("db5.3_load not installed (Debian: db5.3-util); required under CI=true, .ci/run installs it")
        pytest.skip("db5.3_load not installed (Debian: db5.3-util)")
    return tool


@pytest.mark.parametrize(("page_size", "byte_order"), [(512, 1234), (4096, 1234), (4096, 4321), (65536, 1234)])
def test_berkeley_db_files_written_by_berkeley_db_read_as_rpm_lists_them(
    tmp_path: Path, page_size: int, byte_order: int
) -> None:
    """Berkeley DB 5.3's own db_load writes a hash `Packages` of real SUSE headers, ten times over (350
    records: many hash pages, overflow chains, and at 64 KiB pages headers stored inline); rpm reads it too."""
    ndb = (FIXTURES / "sle15-bci" / "Packages.db").read_bytes()
    blobs = list(ndb_blobs(ndb, 100)) * 10
    dump = [f"VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize={page_size}\ndb_lorder={byte_order}\nHEADER=END\n"]
    for number, blob in enumerate(blobs, start=1):
        dump.append(f" {struct.pack('<I', number).hex()}\n {blob.hex()}\n")
    (tmp_path / "dump.txt").write_text("".join(dump) + "DATA=END\n")
    (tmp_path / "db").mkdir()
    subprocess.run([_db_load(), "-f", str(tmp_path / "dump.txt"), str(tmp_path / "db" / "Packages")], check=True)
    records = parse_rpm_bdb((tmp_path / "db" / "Packages").read_bytes())
    expected = (FIXTURES / "sle15-bci" / "rpm-qa.txt").read_text().splitlines() * 10
    assert sorted(line(r) for r in records) == sorted(expected)
    require_rpm()
    oracle = subprocess.run(
        ["rpm", "--dbpath", str(tmp_path / "db"), "--define", "_db_backend bdb_ro", "-qa", "--qf", QUERY_FORMAT],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert sorted(oracle.stdout.splitlines()) == sorted(expected)


def test_a_link_replacing_the_rpm_directory_hides_the_lower_database(build_layer: Callable[..., Path]) -> None:
    # SUSE moved its database to usr/lib/sysimage/rpm and left var/lib/rpm a link to it.
    lower = build_layer([("var/lib/rpm/Packages", (FIXTURES / "centos8-libuuid" / "Packages").read_bytes())])
    upper = build_layer(
        [
            ("etc/os-release", b'ID="sles"\nVERSION_ID="15.3"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP3"\n'),
            ("var/lib/rpm", "symlink:../../usr/lib/sysimage/rpm"),
            ("usr/lib/sysimage/rpm/Packages.db", (FIXTURES / "sle15-bci" / "Packages.db").read_bytes()),
        ]
    )
    layers = [catalog_layer(blob, GZIP, f"sha256:{n}", LayerLimits()) for n, blob in enumerate((lower, upper))]
    image = merge_layers(layers)
    assert {p.location for p in image.packages} == {"sha256:1:usr/lib/sysimage/rpm/Packages.db"}
    assert "libuuid" not in {p.name for p in image.packages}


def test_rpm_ostree_keeps_its_database_in_usr_share(rpm_root: Path, build_layer: Callable[..., Path]) -> None:
    blob = build_layer([("usr/share/rpm/rpmdb.sqlite", (rpm_root / DBPATH / "rpmdb.sqlite").read_bytes())])
    assert len(catalog_layer(blob, GZIP, "sha256:ostree", LayerLimits()).packages["usr/share/rpm/rpmdb.sqlite"]) == 6
