"""RPM packages in the merged image: their OSV ecosystem and purl from the OS, the name their advisories
are filed under, and an honest `no-advisory-source` where OSV publishes nothing for the distribution."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from secapi.adapters.catalog.rpm import parse_rpm_sqlite
from secapi.adapters.osv.reader import iter_records
from secapi.domain.advisories import normalize_ecosystem
from secapi.domain.inventory import LayerInventory, PackageRecord, merge_layers
from secapi.domain.osv_records import parse_osv_record
from secapi.domain.packages import Package
from secapi.domain.services.matching import VulnerabilityMatcher, lookup_keys, matched_version
from secapi.domain.services.vulndb_import import VulnDbImporter

from support.fakes import InMemoryVulnerabilityStore
from support.rpmroot import DBPATH, Spec, build_root

ALMALINUX_OSV = Path(__file__).resolve().parents[2] / "fixtures" / "osv" / "almalinux"
RPMDB = "var/lib/rpm/rpmdb.sqlite"
ALMA_9 = 'NAME="AlmaLinux"\nVERSION_ID="9.3"\nID="almalinux"\nPRETTY_NAME="AlmaLinux 9.3 (Shamrock Pampas Cat)"\n'
ROCKY_9 = 'NAME="Rocky Linux"\nVERSION_ID="9.3"\nID="rocky"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n'
AMAZON_2 = 'NAME="Amazon Linux"\nVERSION="2"\nID="amzn"\nVERSION_ID="2"\nPRETTY_NAME="Amazon Linux 2"\n'
OPENSSL_LIBS = PackageRecord(
    kind="rpm", name="openssl-libs", version="1:3.0.7-27.el9", source_name="openssl",
    source_version="1:3.0.7-27.el9", arch="x86_64",
)  # fmt: skip


def image(os_release: str, *records: PackageRecord) -> tuple[tuple[Package, ...], list[tuple[str, str, str]]]:
    layer = LayerInventory(digest="sha256:1", os_files={"etc/os-release": os_release}, packages={RPMDB: tuple(records)})
    merged = merge_layers([layer])
    return merged.packages, [(i.path, i.kind, i.reason) for i in merged.unscanned]


def test_rpm_packages_on_rocky_get_its_ecosystem_and_an_rpm_purl() -> None:
    packages, unscanned = image(ROCKY_9, OPENSSL_LIBS)
    assert unscanned == []
    assert [(p.ecosystem, p.name, p.version, p.purl, p.source_name) for p in packages] == [
        (
            "Rocky Linux:9",
            "openssl-libs",
            "1:3.0.7-27.el9",
            "pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rocky-9.3&epoch=1",
            "openssl",
        )
    ]


def test_rpm_packages_where_osv_has_no_data_are_listed_and_said_to_be_unmatched() -> None:
    packages, unscanned = image(AMAZON_2, OPENSSL_LIBS)
    assert [(p.ecosystem, p.name, p.purl) for p in packages] == [
        ("rpm", "openssl-libs", "pkg:rpm/amzn/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=amzn-2&epoch=1")
    ]
    assert unscanned == [
        (
            f"sha256:1:{RPMDB}",
            "no-advisory-source",
            "1 rpm packages listed: no public advisory database (OSV) covers Amazon Linux 2 packages, "
            "so none was matched",
        )
    ]


def test_rpm_packages_on_a_non_rpm_os_are_not_given_its_ecosystem() -> None:
    packages, unscanned = image('ID=debian\nVERSION_ID="12"\n', OPENSSL_LIBS)
    assert packages == ()
    assert [kind for _, kind, _ in unscanned] == ["unknown-os"]


@pytest.mark.parametrize(
    ("ecosystem", "key"),
    [
        ("Red Hat:enterprise_linux:9::appstream", "Red Hat:enterprise_linux:9"),
        ("Red Hat:enterprise_linux:9::baseos", "Red Hat:enterprise_linux:9"),
        ("Red Hat:rhel_eus:9.2::appstream", "Red Hat:rhel_eus:9"),
        ("Red Hat:enterprise_linux:8", "Red Hat:enterprise_linux:8"),
        ("AlmaLinux:9", "AlmaLinux:9"),
        ("openSUSE:Leap 15.5", "openSUSE:Leap 15.5"),
    ],
)
def test_red_hat_ecosystems_are_keyed_by_product_and_major(ecosystem: str, key: str) -> None:
    assert normalize_ecosystem(ecosystem) == key


@pytest.mark.parametrize(
    "ecosystem",
    [
        "AlmaLinux:9",
        "Rocky Linux:9",
        "Red Hat:enterprise_linux:9",
        "SUSE:Linux Enterprise Server 15 SP5",
        "openSUSE:Leap 15.5",
        "Photon OS:5.0",
        "Azure Linux:3",
    ],
)
def test_rpms_are_looked_up_by_binary_and_source_name_and_compared_by_their_own_version(ecosystem: str) -> None:
    package = Package(
        name="python3-libs", version="3.9.10-2.el9", ecosystem=ecosystem, source_name="python3.9",
        source_version="3.9.10-2.el9",
    )  # fmt: skip
    assert lookup_keys(package) == ((ecosystem, "python3-libs"), (ecosystem, "python3.9"))
    assert matched_version(package) == "3.9.10-2.el9"
    same = msgspec.structs.replace(package, name="python3.9")
    assert lookup_keys(same) == ((ecosystem, "python3.9"),)


def test_debian_packages_are_still_looked_up_by_source_only() -> None:
    package = Package(
        name="libssl3", version="3.0.11-1~deb12u2", ecosystem="Debian:12", source_name="openssl",
        source_version="3.0.11-1~deb12u2",
    )  # fmt: skip
    assert lookup_keys(package) == (("Debian:12", "openssl"),)


async def test_an_almalinux_rpmdb_matches_real_alsa_records_by_binary_name_and_epoch(tmp_path: Path) -> None:
    root = build_root(
        tmp_path,
        [
            Spec("python3.9", "3.9.10", "2.el9", subpackages=("python3", "python3-libs"), main_package=False),
            Spec("openssl", "3.0.1", "47.el9_1", epoch=1, subpackages=("openssl-libs",)),
        ],
    )
    records = parse_rpm_sqlite((root / DBPATH / "rpmdb.sqlite").read_bytes())
    packages, unscanned = image(ALMA_9, *records)
    assert unscanned == []
    store = InMemoryVulnerabilityStore()
    await VulnDbImporter(store).run(iter_records(ALMALINUX_OSV), source="almalinux fixtures")
    findings = await VulnerabilityMatcher(store).match(list(packages))
    # ALSA-2022:7323 names python3 and python3-libs, never their source RPM python3.9; fixed 3.9.10-3.el9_0.
    # ALSA-2023:0946 is fixed in 1:3.0.1-47.el9_1, the installed version: without the epoch it would match.
    assert sorted((f.id, f.package.name, f.fixed_versions) for f in findings) == [
        ("ALSA-2022:7323", "python3", ("3.9.10-3.el9_0",)),
        ("ALSA-2022:7323", "python3-libs", ("3.9.10-3.el9_0",)),
    ]


async def test_an_advisory_naming_the_source_rpm_finds_its_binaries() -> None:
    # Shaped like Rocky Linux's RLSA-2020:4641 (python38:3.8 module), which names the source RPM `babel`.
    record = {
        "id": "RLSA-2020:4641",
        "summary": "Moderate: python38:3.8 security update",
        "modified": "2023-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "Rocky Linux:8", "name": "babel"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": "0:2.7.0-10.module+el8.4.0+570+c2eaf144"}],
                    }
                ],
            }
        ],
    }
    store = InMemoryVulnerabilityStore()
    await store.upsert([parse_osv_record(json.dumps(record).encode())])
    installed = PackageRecord(
        kind="rpm", name="python38-babel", version="2.7.0-9.module+el8.3.0+100+aaaaaaaa", source_name="babel",
        source_version="2.7.0-9.module+el8.3.0+100+aaaaaaaa", arch="noarch",
        modularity_label="python38:3.8:8030020210201230445:4a68dabc",
    )  # fmt: skip
    packages, _ = image('ID="rocky"\nVERSION_ID="8.9"\n', installed)
    findings = await VulnerabilityMatcher(store).match(list(packages))
    assert [(f.id, f.package.name, f.fixed_versions) for f in findings] == [
        ("RLSA-2020:4641", "python38-babel", ("0:2.7.0-10.module+el8.4.0+570+c2eaf144",))
    ]


async def test_an_advisory_naming_both_the_binary_and_its_source_rpm_is_one_finding() -> None:
    # Red Hat's records may name a binary RPM and its source RPM in separate affected entries.
    ranges = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:3.0.7-28.el9"}]}]
    record = {
        "id": "RHSA-2099:0002",
        "summary": "Important: openssl security update",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {"package": {"ecosystem": "Red Hat:enterprise_linux:9::baseos", "name": name}, "ranges": ranges}
            for name in ("openssl", "openssl-libs")
        ],
    }
    store = InMemoryVulnerabilityStore()
    await store.upsert([parse_osv_record(json.dumps(record).encode())])
    packages, _ = image('ID="rhel"\nVERSION_ID="9.3"\n', OPENSSL_LIBS)
    findings = await VulnerabilityMatcher(store).match(list(packages))
    assert [(f.id, f.package.name, f.fixed_versions) for f in findings] == [
        ("RHSA-2099:0002", "openssl-libs", ("1:3.0.7-28.el9",))
    ]


NODEJS_18 = PackageRecord(
    kind="rpm", name="nodejs", version="1:18.10.0-1.module_el9.1.0+14+3dc0c2d2", source_name="nodejs",
    source_version="1:18.10.0-1.module_el9.1.0+14+3dc0c2d2", arch="x86_64",
    modularity_label="nodejs:18:9010020221004164026:rhel9",
)  # fmt: skip
NODEJS_PLAIN = PackageRecord(
    kind="rpm", name="nodejs", version="1:16.14.0-1.el9", source_name="nodejs",
    source_version="1:16.14.0-1.el9", arch="x86_64",
)  # fmt: skip


def test_the_module_stream_is_a_purl_qualifier() -> None:
    packages, _ = image(ALMA_9, NODEJS_18)
    assert packages[0].purl == (
        "pkg:rpm/almalinux/nodejs@18.10.0-1.module_el9.1.0%2B14%2B3dc0c2d2?arch=x86_64&distro=almalinux-9.3"
        "&epoch=1&rpmmod=nodejs:18:9010020221004164026:rhel9"
    )


@pytest.mark.parametrize(
    ("installed", "expected"),
    [
        # ALSA-2022:8832 is the nodejs:18 update (fixed 1:18.12.1-1.module_el9.1.0+...), ALSA-2024:1688 the
        # nodejs:20 one (fixed 1:20.11.1-1.module_el9.3.0+...), which the 18 stream's version is below.
        (NODEJS_18, ["ALSA-2022:8832"]),
        # Not from a module: neither stream's builds fix it.
        (NODEJS_PLAIN, []),
    ],
)
async def test_module_stream_advisories_match_only_their_own_streams_packages(
    installed: PackageRecord, expected: list[str]
) -> None:
    packages, _ = image(ALMA_9, installed)
    store = InMemoryVulnerabilityStore()
    await VulnDbImporter(store).run(iter_records(ALMALINUX_OSV), source="almalinux fixtures")
    findings = await VulnerabilityMatcher(store).match(list(packages))
    assert sorted(f.id for f in findings) == expected
