"""Which distribution an image runs, from os-release and release files, and its OSV ecosystem."""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec


class OsInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The image's distribution, and the OSV ecosystem its distro packages belong to (None: not known)."""

    id: str
    version_id: str | None = None
    pretty_name: str | None = None
    ecosystem: str | None = None


# Debian codenames → release numbers, for testing/sid images whose os-release has no VERSION_ID.
DEBIAN_CODENAMES = {
    "buzz": "1", "rex": "1", "bo": "1", "hamm": "2", "slink": "2", "potato": "2", "woody": "3", "sarge": "3",
    "etch": "4", "lenny": "5", "squeeze": "6", "wheezy": "7", "jessie": "8", "stretch": "9", "buster": "10",
    "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15",
}  # fmt: skip
_OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
_RELEASE_FILE_PATHS = ("etc/redhat-release", "etc/system-release")
"""One-line release files of the Red Hat family, for images (CentOS 6, old UBI) without os-release."""
_RELEASE_LINE = re.compile(r"(.+?) release (\d+(?:\.\d+)*)")
_RELEASE_NAMES = {
    "red hat enterprise linux": "rhel", "red hat enterprise linux server": "rhel", "centos": "centos",
    "centos linux": "centos", "centos stream": "centos", "rocky linux": "rocky", "almalinux": "almalinux",
    "fedora": "fedora", "oracle linux server": "ol",
    "amazon linux": "amzn", "amazon linux ami": "amzn",
}  # fmt: skip
_MAJOR = re.compile(r"(\d+)")
RPM_OSES = frozenset(
    {"rhel", "rocky", "almalinux", "centos", "fedora", "ol", "amzn", "photon", "mariner", "azurelinux", "mageia"}
    | {"opensuse", "opensuse-leap", "opensuse-tumbleweed", "opensuse-leap-micro", "opensuse-microos"}
    | {"sles", "sled", "sles_sap", "sle-micro", "suse-microos", "sl-micro"}
)
"""os-release IDs of distributions whose packages are RPMs in an rpm database."""
_BY_MAJOR = {
    "rhel": "Red Hat:enterprise_linux",
    "rocky": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "azurelinux": "Azure Linux",
    "mageia": "Mageia",
}
"""OSV ecosystems named by release major (`AlmaLinux:9`, `Azure Linux:3`); Red Hat's is the CPE-like
`Red Hat:enterprise_linux:9::appstream`, whose repository stream an rpmdb does not record, so both sides
are cut to product and major (`normalize_ecosystem`)."""
_ESCAPED = re.compile(r"\\([\\$\"`])")
_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)")


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of an os-release file, quotes and backslash escapes removed (no shell expansion)."""
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        key, sep, value = raw.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1] if value[0] == "'" else _ESCAPED.sub(r"\1", value[1:-1])
        fields[key.strip()] = value
    return fields


def _debian_release(version_id: str | None, codename: str | None, debian_version: str | None) -> str | None:
    for candidate in (version_id, (debian_version or "").split("/")[0]):
        head = (candidate or "").strip().split(".")[0]
        if head.isdigit():
            return head
        if head in DEBIAN_CODENAMES:
            return DEBIAN_CODENAMES[head]
    return DEBIAN_CODENAMES.get((codename or "").strip())


def _ecosystem(os_id: str, version_id: str | None, fields: Mapping[str, str], files: Mapping[str, str]) -> str | None:
    if os_id == "debian":
        codename = fields.get("VERSION_CODENAME")
        release = _debian_release(version_id, codename, files.get("etc/debian_version"))
        return f"Debian:{release}" if release else "Debian"
    if os_id == "ubuntu":
        match = _MAJOR_MINOR.match(version_id or "")
        return f"Ubuntu:{match[1]}.{match[2]}" if match else None
    if os_id == "alpine":
        match = _MAJOR_MINOR.match(version_id or "")
        return f"Alpine:v{match[1]}.{match[2]}" if match else None
    if os_id in _BY_MAJOR:
        major = _MAJOR.match(version_id or "")
        return f"{_BY_MAJOR[os_id]}:{major[1]}" if major else None
    if os_id == "photon":
        match = _MAJOR_MINOR.match(version_id or "")
        return f"Photon OS:{match[1]}.{match[2]}" if match else None
    if os_id.startswith(("opensuse", "sle", "sl-", "suse")):
        return _suse_ecosystem(os_id, fields.get("PRETTY_NAME", ""))
    return {"wolfi": "Wolfi", "chainguard": "Chainguard"}.get(os_id)


def distro_ecosystem(os_id: str, version_id: str | None) -> str | None:
    """The OSV ecosystem of a distribution named by os-release ID and VERSION_ID (as a purl's `distro` qualifier
    names it: `debian-12.4` → `Debian:12`, `debian-bookworm` too), the same as an image of it gets; None if none."""
    os_id = os_id.strip().lower()
    fields = {}
    if os_id.startswith("opensuse-leap") and version_id:  # SUSE releases are named by PRETTY_NAME
        fields["PRETTY_NAME"] = f"openSUSE Leap {version_id}"
    elif os_id in ("sles", "sled") and version_id:
        major, _, minor = version_id.partition(".")
        service_pack = f" SP{minor}" if minor and minor != "0" else ""
        product = "Server" if os_id == "sles" else "Desktop"
        fields["PRETTY_NAME"] = f"SUSE Linux Enterprise {product} {major}{service_pack}"
    return _ecosystem(os_id, version_id, fields, {})


def _suse_ecosystem(os_id: str, pretty_name: str) -> str | None:
    """openSUSE and SUSE name releases by os-release's PRETTY_NAME (`openSUSE:Leap 15.5`,
    `SUSE:Linux Enterprise Server 15 SP5`), the brand a prefix of it."""
    brand = "openSUSE" if os_id.startswith("opensuse") else "SUSE"
    release = pretty_name.removeprefix(f"{brand} ").strip()
    return f"{brand}:{release}" if release and release != pretty_name.strip() else None


def _release_file(files: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(ID, VERSION_ID, the line) from `Rocky Linux release 9.3 (Blue Onyx)`-style release files."""
    for path in _RELEASE_FILE_PATHS:
        line = files.get(path, "").strip().partition("\n")[0]
        match = _RELEASE_LINE.match(line)
        os_id = _RELEASE_NAMES.get(match[1].strip().lower()) if match else None
        if match and os_id:
            return os_id, match[2], line
    return None


def detect_os(files: Mapping[str, str]) -> OsInfo | None:
    """The distribution named by os-release (`etc/` wins over `usr/lib/`), else by release files; None if none."""
    text = next((files[p] for p in _OS_RELEASE_PATHS if files.get(p, "").strip()), "")
    fields = parse_os_release(text)
    lsb = parse_os_release(files.get("etc/lsb-release", ""))
    os_id = fields.get("ID", "").strip().lower()
    version_id = fields.get("VERSION_ID") or None
    if not os_id:
        if "etc/alpine-release" in files:
            os_id = "alpine"
        elif lsb.get("DISTRIB_ID"):
            os_id = lsb["DISTRIB_ID"].strip().lower()
        elif "etc/debian_version" in files:
            os_id = "debian"
        elif release := _release_file(files):
            os_id, version_id, fields = release[0], release[1], {"PRETTY_NAME": release[2]}
        else:
            return None
    if version_id is None:
        fallback = {"alpine": files.get("etc/alpine-release", ""), "ubuntu": lsb.get("DISTRIB_RELEASE", "")}
        version_id = fallback.get(os_id, "").strip() or None
    pretty = fields.get("PRETTY_NAME") or lsb.get("DISTRIB_DESCRIPTION") or None
    return OsInfo(
        id=os_id, version_id=version_id, pretty_name=pretty, ecosystem=_ecosystem(os_id, version_id, fields, files)
    )
