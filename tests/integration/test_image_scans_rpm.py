"""RPM images end to end: rpm databases written by the real rpm (and real BDB/NDB files) in pushed images,
real AlmaLinux ALSA records, a real SAQ worker, HTTP in front."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import AsyncClient
from litestar import Litestar
from sqlalchemy import text

from secapi.adapters.sql.engine import create_engine
from secapi.adapters.sql.migrate import upgrade
from secapi.adapters.sql.vulnerabilities import SqlVulnerabilityStore
from secapi.config import Settings

from support.image_api import RunningApi, image_api, registry_settings, scan_image
from support.images import Image, layer, push
from support.registry import RunningRegistry, registry_fixture  # noqa: F401 - fixture used by name
from support.rpmroot import Spec, build_root

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "fixtures"
ALSA_RECORDS = sorted((FIXTURES / "osv" / "almalinux").glob("*.json"))
ALMA_9 = b'NAME="AlmaLinux"\nVERSION="9.3 (Shamrock Pampas Cat)"\nID="almalinux"\nVERSION_ID="9.3"\n' + (
    b'PRETTY_NAME="AlmaLinux 9.3 (Shamrock Pampas Cat)"\n'
)
CENTOS_8 = b'NAME="CentOS Linux"\nVERSION="8"\nID="centos"\nVERSION_ID="8"\nPRETTY_NAME="CentOS Linux 8"\n'
SLES_15 = b'NAME="SLES"\nVERSION="15-SP3"\nVERSION_ID="15.3"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP3"\n' + (
    b'ID="sles"\n'
)
SPECS = [
    Spec("python3.9", "3.9.10", "2.el9", subpackages=("python3", "python3-libs"), main_package=False),
    Spec("openssl", "3.0.1", "47.el9_1", epoch=1, subpackages=("openssl-libs",)),
    Spec(
        "nodejs", "18.10.0", "1.module_el9.1.0+14+3dc0c2d2", epoch=1,
        defines={"modularitylabel": "nodejs:18:9010020221004164026:rhel9"},
    ),
]  # fmt: skip


@pytest.fixture
async def api(settings: Settings, registry: RunningRegistry) -> AsyncIterator[RunningApi]:
    async with image_api(registry_settings(settings, registry), ALSA_RECORDS, "rpm@example.com") as running:
        yield running


def root_files(root: Path) -> dict[str, bytes]:
    """Every regular file of an rpm --root tree, as a layer holds it (database, WAL and lock files)."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def packages(result: dict[str, object]) -> dict[str, tuple[str, str, str]]:
    listed = result["packages"]
    assert isinstance(listed, list)
    return {p["name"]: (p["version"], p["ecosystem"], p["purl"]) for p in listed}


async def test_an_almalinux_image_built_by_rpm_is_matched_against_alsa_records(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry, tmp_path: Path
) -> None:
    client, key, _ = api
    root = build_root(tmp_path, SPECS)
    image = Image([layer({"etc/os-release": ALMA_9}), layer(root_files(root))])
    push(registry, "rpm/alma", "9", [image])
    result = await scan_image(client, key, f"{registry.host_port}/rpm/alma:9")
    database = f"{image.layers[1].digest}:var/lib/rpm/rpmdb.sqlite"
    assert packages(result)["python3-libs"] == (
        "3.9.10-2.el9",
        "AlmaLinux:9",
        "pkg:rpm/almalinux/python3-libs@3.9.10-2.el9?arch=noarch&distro=almalinux-9.3",
    )
    assert packages(result)["openssl-libs"][0] == "1:3.0.1-47.el9_1"
    vulnerabilities = result["vulnerabilities"]
    assert isinstance(vulnerabilities, list)
    # Filed under the binary names python3 and python3-libs, not the source RPM python3.9; openssl is
    # installed at ALSA-2023:0946's fix, 1:3.0.1-47.el9_1, so it is not affected; nodejs of the 18 stream
    # gets the nodejs:18 update, not the nodejs:20 one (ALSA-2024:1688), although below both fixes.
    assert sorted((v["id"], v["package"]["name"], v["location"]) for v in vulnerabilities) == [
        ("ALSA-2022:7323", "python3", database),
        ("ALSA-2022:7323", "python3-libs", database),
        ("ALSA-2022:8832", "nodejs", database),
    ]
    assert "rpmmod=nodejs:18:9010020221004164026:rhel9" in packages(result)["nodejs"][2]
    assert result["unscanned"] == []


async def test_a_centos_image_lists_its_packages_but_says_no_advisories_cover_them(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    berkeley_db = (FIXTURES / "rpmdb" / "centos8-libuuid" / "Packages").read_bytes()
    image = Image([layer({"etc/os-release": CENTOS_8, "var/lib/rpm/Packages": berkeley_db})])
    push(registry, "rpm/centos", "8", [image])
    result = await scan_image(client, key, f"{registry.host_port}/rpm/centos:8")
    assert packages(result) == {
        "libuuid": ("2.32.1-42.el8_8", "rpm", "pkg:rpm/centos/libuuid@2.32.1-42.el8_8?arch=x86_64&distro=centos-8")
    }
    assert result["vulnerabilities"] == []
    assert [(i["path"], i["kind"], i["reason"]) for i in result["unscanned"]] == [
        (
            f"{image.layers[0].digest}:var/lib/rpm/Packages",
            "no-advisory-source",
            "1 rpm packages listed: no public advisory database (OSV) covers CentOS Linux 8 packages, "
            "so none was matched",
        )
    ]


async def test_a_sles_image_with_an_ndb_database_is_read(
    api: tuple[AsyncClient, str, Litestar], registry: RunningRegistry
) -> None:
    client, key, _ = api
    ndb = (FIXTURES / "rpmdb" / "sle15-bci" / "Packages.db").read_bytes()
    image = Image([layer({"etc/os-release": SLES_15, "usr/lib/sysimage/rpm/Packages.db": ndb})])
    push(registry, "rpm/sles", "15", [image])
    result = await scan_image(client, key, f"{registry.host_port}/rpm/sles:15")
    listed = packages(result)
    assert len(listed) == 35
    assert listed["libstdc++6"][:2] == ("11.2.1+git610-1.3.9", "SUSE:Linux Enterprise Server 15 SP3")
    assert result["unscanned"] == []


async def test_migration_0006_keys_red_hat_rows_imported_before_it_by_product_and_major(tmp_path: Path) -> None:
    engine = create_engine(Settings.from_env({}, database_url=f"sqlite+aiosqlite:///{tmp_path}/old.db"))
    try:
        await upgrade(engine, "0005")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    'INSERT INTO vulnerabilities (id, modified, summary, severity, aliases, "references", record)'
                    " VALUES ('RHSA-2099:0001', '2024-01-01T00:00:00+00:00', '', 'UNKNOWN', '[]', '[]', '{}')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO affected_packages (vulnerability_id, ecosystem, name, ranges) VALUES"
                    " ('RHSA-2099:0001', 'Red Hat:enterprise_linux:9::appstream', 'openssl', :ranges),"
                    " ('RHSA-2099:0001', 'Red Hat:enterprise_linux:9::baseos', 'openssl', :ranges)"
                ),
                {"ranges": '{"ranges": []}'},
            )
            await connection.execute(
                text(
                    "INSERT INTO vulndb_versions"
                    " (created_at, source, added, updated, withdrawn, advisories, ecosystems)"
                    " VALUES ('2024-01-01T00:00:00+00:00', 'old import', 1, 0, 0, 1, :counts)"
                ),
                {"counts": '{"Red Hat:enterprise_linux:9::appstream": 1, "Red Hat:enterprise_linux:9::baseos": 1}'},
            )
        await upgrade(engine)
        store = SqlVulnerabilityStore(engine)
        found = await store.candidates([("Red Hat:enterprise_linux:9", "openssl")])
        assert [c.advisory.id for c in found] == ["RHSA-2099:0001", "RHSA-2099:0001"]
        assert (await store.current_version()).ecosystems == {"Red Hat:enterprise_linux:9": 1}
    finally:
        await engine.dispose()
