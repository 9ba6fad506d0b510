"""OS detection from os-release and the older release files, and the OSV ecosystem it implies."""

from __future__ import annotations

import pytest

from secapi.domain.os_release import OsInfo, detect_os, parse_os_release

DEBIAN_12 = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""
UBUNTU_22_04 = """\
PRETTY_NAME="Ubuntu 22.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.3 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy
"""
ALPINE_3_18 = """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.18.4
PRETTY_NAME="Alpine Linux v3.18"
"""
DISTROLESS = """\
PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="12"
VERSION="Debian GNU/Linux 12 (bookworm)"
"""
DEBIAN_TRIXIE = """\
PRETTY_NAME="Debian GNU/Linux trixie/sid"
NAME="Debian GNU/Linux"
VERSION_CODENAME=trixie
ID=debian
"""


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"etc/os-release": DEBIAN_12}, ("debian", "12", "Debian:12")),
        ({"usr/lib/os-release": UBUNTU_22_04}, ("ubuntu", "22.04", "Ubuntu:22.04")),
        ({"etc/os-release": ALPINE_3_18}, ("alpine", "3.18.4", "Alpine:v3.18")),
        ({"etc/os-release": DISTROLESS}, ("debian", "12", "Debian:12")),
        ({"usr/lib/os-release": DEBIAN_TRIXIE, "etc/debian_version": "trixie/sid\n"}, ("debian", None, "Debian:13")),
        ({"etc/os-release": "ID=debian\nVERSION_CODENAME=duke2099\n"}, ("debian", None, "Debian")),
        ({"etc/debian_version": "12.5\n"}, ("debian", None, "Debian:12")),
        ({"etc/debian_version": "bookworm/sid\n"}, ("debian", None, "Debian:12")),
        ({"etc/alpine-release": "3.19.1\n"}, ("alpine", "3.19.1", "Alpine:v3.19")),
        ({"etc/os-release": "ID=alpine\n", "etc/alpine-release": "3.17.0\n"}, ("alpine", "3.17.0", "Alpine:v3.17")),
        ({"etc/lsb-release": "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=20.04\n"}, ("ubuntu", "20.04", "Ubuntu:20.04")),
        ({"etc/os-release": 'ID=wolfi\nVERSION_ID=20230201\nPRETTY_NAME="Wolfi"\n'}, ("wolfi", "20230201", "Wolfi")),
        ({"etc/os-release": 'ID=fedora\nVERSION_ID=39\nPRETTY_NAME="Fedora Linux 39"\n'}, ("fedora", "39", None)),
        ({"etc/os-release": 'ID=kali\nID_LIKE=debian\nVERSION_ID="2024.1"\n'}, ("kali", "2024.1", None)),
    ],
)
def test_detects_os_and_its_osv_ecosystem(files: dict[str, str], expected: tuple[str, str | None, str | None]) -> None:
    os = detect_os(files)
    assert os is not None
    assert (os.id, os.version_id, os.ecosystem) == expected


def test_etc_os_release_wins_over_usr_lib() -> None:
    os = detect_os({"usr/lib/os-release": DEBIAN_12, "etc/os-release": UBUNTU_22_04})
    assert os == OsInfo(id="ubuntu", version_id="22.04", pretty_name="Ubuntu 22.04.3 LTS", ecosystem="Ubuntu:22.04")


def test_empty_etc_os_release_falls_back_to_usr_lib() -> None:
    os = detect_os({"etc/os-release": "\n", "usr/lib/os-release": ALPINE_3_18})
    assert os is not None
    assert os.ecosystem == "Alpine:v3.18"


def test_no_release_files_means_unknown_os() -> None:
    assert detect_os({}) is None
    assert detect_os({"etc/os-release": "# nothing here\n"}) is None


def test_os_release_quotes_escapes_and_comments() -> None:
    text = """\
# a comment
NAME='Single Quoted'
PRETTY_NAME="Say \\"hi\\" for \\$5 \\\\ done"
VARIANT=plain
 ID = spaced
BROKEN LINE WITHOUT EQUALS
EMPTY=
"""
    assert parse_os_release(text) == {
        "NAME": "Single Quoted",
        "PRETTY_NAME": 'Say "hi" for $5 \\ done',
        "VARIANT": "plain",
        "ID": "spaced",
        "EMPTY": "",
    }


# The ID, VERSION_ID and PRETTY_NAME lines of each distribution's real /etc/os-release (its release images).
RPM_DISTRIBUTIONS = [
    ('ID="rhel"\nVERSION_ID="9.3"\nPRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"', "Red Hat:enterprise_linux:9"),
    ('ID="rhel"\nVERSION_ID="8.9"\nPRETTY_NAME="Red Hat Enterprise Linux 8.9 (Ootpa)"', "Red Hat:enterprise_linux:8"),
    ('ID="rocky"\nVERSION_ID="9.3"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"', "Rocky Linux:9"),
    ('ID="almalinux"\nVERSION_ID="9.3"\nPRETTY_NAME="AlmaLinux 9.3 (Shamrock Pampas Cat)"', "AlmaLinux:9"),
    ('ID="almalinux"\nVERSION_ID="8.9"\nPRETTY_NAME="AlmaLinux 8.9 (Midnight Oncilla)"', "AlmaLinux:8"),
    ('ID="opensuse-leap"\nVERSION_ID="15.5"\nPRETTY_NAME="openSUSE Leap 15.5"', "openSUSE:Leap 15.5"),
    ('ID="opensuse-tumbleweed"\nVERSION_ID="20240101"\nPRETTY_NAME="openSUSE Tumbleweed"', "openSUSE:Tumbleweed"),
    ('ID="sles"\nVERSION_ID="15.5"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"',
     "SUSE:Linux Enterprise Server 15 SP5"),
    ('ID="sle-micro"\nVERSION_ID="5.5"\nPRETTY_NAME="SUSE Linux Enterprise Micro 5.5"',
     "SUSE:Linux Enterprise Micro 5.5"),
    ('ID=photon\nVERSION_ID=5.0\nPRETTY_NAME="VMware Photon OS/Linux"', "Photon OS:5.0"),
    ('ID=azurelinux\nVERSION_ID="3.0"\nPRETTY_NAME="Microsoft Azure Linux 3.0"', "Azure Linux:3"),
    ('ID="mageia"\nVERSION_ID="9"\nPRETTY_NAME="Mageia 9"', "Mageia:9"),
    # OSV publishes nothing for these: their packages are listed, and reported as `no-advisory-source`.
    ('ID=mariner\nVERSION_ID="2.0"\nPRETTY_NAME="CBL-Mariner/Linux"', None),
    ('ID="centos"\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7 (Core)"', None),
    ('ID=fedora\nVERSION_ID=39\nPRETTY_NAME="Fedora Linux 39 (Container Image)"', None),
    ('ID="ol"\nVERSION_ID="9.3"\nPRETTY_NAME="Oracle Linux Server 9.3"', None),
    ('ID="amzn"\nVERSION_ID="2023"\nPRETTY_NAME="Amazon Linux 2023"', None),
    ('ID="amzn"\nVERSION_ID="2"\nPRETTY_NAME="Amazon Linux 2"', None),
]  # fmt: skip


@pytest.mark.parametrize(("os_release", "ecosystem"), RPM_DISTRIBUTIONS)
def test_rpm_distributions_map_to_the_osv_ecosystem_their_records_use(os_release: str, ecosystem: str | None) -> None:
    os = detect_os({"etc/os-release": os_release + "\n"})
    assert os is not None
    assert os.ecosystem == ecosystem


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"etc/redhat-release": "CentOS release 6.10 (Final)\n"}, ("centos", "6.10", None)),
        ({"etc/redhat-release": "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n"},
         ("rhel", "7.9", "Red Hat:enterprise_linux:7")),
        ({"etc/redhat-release": "Red Hat Enterprise Linux release 8.9 (Ootpa)\n"},
         ("rhel", "8.9", "Red Hat:enterprise_linux:8")),
        ({"etc/system-release": "Rocky Linux release 9.3 (Blue Onyx)\n"}, ("rocky", "9.3", "Rocky Linux:9")),
        ({"etc/system-release": "Amazon Linux AMI release 2018.03\n"}, ("amzn", "2018.03", None)),
        ({"etc/redhat-release": "Some Other Linux release 1.0\n"}, None),
        ({"etc/os-release": 'ID="almalinux"\nVERSION_ID="9.3"\n', "etc/redhat-release": "CentOS release 6.10\n"},
         ("almalinux", "9.3", "AlmaLinux:9")),
    ],
)  # fmt: skip
def test_red_hat_release_files_name_the_os_without_os_release(
    files: dict[str, str], expected: tuple[str, str, str | None] | None
) -> None:
    os = detect_os(files)
    assert (None if os is None else (os.id, os.version_id, os.ecosystem)) == expected
