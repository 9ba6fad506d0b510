"""Which files of a layer the catalogers read, how much of each, and with which parser."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from secapi.adapters.catalog.apk import parse_apk_installed
from secapi.adapters.catalog.dpkg import parse_dpkg_status, parse_dpkg_status_d
from secapi.adapters.catalog.lockfiles import NAME_TAILS, TEST_DATA, AppFile, app_file_cap, read_app_file
from secapi.adapters.catalog.npm import parse_npm_package_json
from secapi.adapters.catalog.opkg import parse_opkg_status
from secapi.adapters.catalog.python import parse_python_metadata
from secapi.adapters.catalog.rpm import parse_rpm_bdb, parse_rpm_ndb, parse_rpm_sqlite
from secapi.domain.inventory import PackageRecord

KiB, MiB = 1024, 1024 * 1024

Parser = Callable[[bytes], tuple[PackageRecord, ...]]
Reader = Callable[[str, bytes], AppFile]
"""A parser that needs the file's path and reports what it could not scan (lockfiles, manifests)."""


@dataclass(frozen=True, slots=True)
class FileRule:
    """How to read one kind of file: a size cap, whether a truncated prefix still parses, and the parser."""

    max_bytes: int
    truncatable: bool
    parse: Parser | None
    """None for OS release files, which are kept as text, and for files read by `read`."""
    read: Reader | None = None

    @property
    def keeps_text(self) -> bool:
        """Whether the file is kept as text (OS release files) rather than parsed."""
        return self.parse is None and self.read is None


OS_FILE = FileRule(64 * KiB, truncatable=True, parse=None)
DPKG_STATUS = FileRule(32 * MiB, truncatable=False, parse=parse_dpkg_status)
DPKG_STATUS_D = FileRule(1 * MiB, truncatable=False, parse=parse_dpkg_status_d)
APK_INSTALLED = FileRule(32 * MiB, truncatable=False, parse=parse_apk_installed)
OPKG_STATUS = FileRule(32 * MiB, truncatable=False, parse=parse_opkg_status)
# METADATA headers come before the (possibly huge) description, so a capped prefix still has them.
PYTHON_METADATA = FileRule(1 * MiB, truncatable=True, parse=parse_python_metadata)
NPM_PACKAGE_JSON = FileRule(1 * MiB, truncatable=False, parse=parse_npm_package_json)
# rpm databases are read whole (SQLite needs the file, not a stream): RHEL-family ones are 5-100 MB, so
# 128 MiB holds any real one; a larger file is skipped with its size as the reason. SQLite gets its own
# copy on `deserialize` (and rpm's WAL-mode files a patched one first), so one database costs up to three
# times its size while it is opened, twice while it is read.
RPM_DATABASE_BYTES = 128 * MiB
RPM_SQLITE = FileRule(RPM_DATABASE_BYTES, truncatable=False, parse=parse_rpm_sqlite)
RPM_BDB = FileRule(RPM_DATABASE_BYTES, truncatable=False, parse=parse_rpm_bdb)
RPM_NDB = FileRule(RPM_DATABASE_BYTES, truncatable=False, parse=parse_rpm_ndb)

RPM_DIRECTORIES = ("var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm")
OS_FILES = frozenset(
    {"etc/os-release", "usr/lib/os-release", "etc/alpine-release", "etc/debian_version", "etc/lsb-release"}
    | {"etc/redhat-release", "etc/system-release"}
)
_EXACT = (
    {"var/lib/dpkg/status": DPKG_STATUS, "lib/apk/db/installed": APK_INSTALLED}
    | dict.fromkeys(("usr/lib/opkg/status", "var/lib/opkg/status"), OPKG_STATUS)
    | dict.fromkeys(OS_FILES, OS_FILE)
    # rpm keeps its database in var/lib/rpm, usr/lib/sysimage/rpm (Fedora 36+, SUSE) or usr/share/rpm (rpm-ostree).
    | {f"{directory}/rpmdb.sqlite": RPM_SQLITE for directory in RPM_DIRECTORIES}
    | {f"{directory}/Packages": RPM_BDB for directory in RPM_DIRECTORIES}
    | {f"{directory}/Packages.db": RPM_NDB for directory in RPM_DIRECTORIES}
)
_STATUS_D = re.compile(r"var/lib/dpkg/status\.d/[^/]+")
_PYTHON = re.compile(r"(?:.*/)?[^/]+\.(?:dist-info/METADATA|egg-info/PKG-INFO|egg/EGG-INFO/PKG-INFO)")
# distutils and old setuptools installs wrote PKG-INFO as a single `<name>-<version>-py3.8.egg-info` file.
_PYTHON_EGG_INFO_FILE = re.compile(r"(?:.*/)?(?:site|dist)-packages/[^/]+\.egg-info")
# Only a package's own manifest: node_modules/<name>/ or node_modules/@scope/<name>/, never its files.
_NPM = re.compile(r"(?:.*/)?node_modules/(?:@[^/.][^/]*/)?[^/@.][^/]*/package\.json")

CANDIDATE_TAILS = (
    "/status", "/installed", "/METADATA", "/PKG-INFO", ".egg-info", "/package.json",
    "/os-release", "/alpine-release", "/debian_version", "/lsb-release", *NAME_TAILS,
    "/redhat-release", "/system-release", "/Packages", "/Packages.db", "/rpmdb.sqlite",
)  # fmt: skip
"""Raw member names worth a closer look end with one of these (or contain `/status.d/`): a cheap first filter."""
DIRECTORY_TAILS = (
    "node_modules", ".dist-info", ".egg-info", ".egg", "var/lib/dpkg/status.d", *RPM_DIRECTORIES,
    "vendor", "vendor/composer", "specifications", "specifications/default",
)  # fmt: skip
"""Directories that hold cataloged files: a link or file replacing one hides what lower layers had below it."""


def rule_for(path: str) -> FileRule | None:
    """The rule for a normalised relative path, or None when no cataloger wants the file."""
    exact = _EXACT.get(path)
    if exact is not None:
        return exact
    if path.startswith("var/lib/dpkg/status.d/"):
        return DPKG_STATUS_D if _STATUS_D.fullmatch(path) and not path.endswith(".md5sums") else None
    if path.endswith(("/METADATA", "/PKG-INFO")):
        return PYTHON_METADATA if _PYTHON.fullmatch(path) else None
    if path.endswith(".egg-info"):
        return PYTHON_METADATA if _PYTHON_EGG_INFO_FILE.fullmatch(path) else None
    if path.endswith("/package.json"):
        return NPM_PACKAGE_JSON if _NPM.fullmatch(path) else None
    cap = app_file_cap(path)
    return None if cap is None else _app_file_rule(cap)


@functools.cache
def _app_file_rule(cap: int) -> FileRule:
    # A lockfile of test data (cap 0) is read as an empty prefix: listed by `read_app_file`, never parsed.
    return FileRule(cap, truncatable=cap == TEST_DATA, parse=None, read=read_app_file)


def is_candidate(name: str) -> bool:
    """Whether a raw tar member name might be cataloged (before normalisation)."""
    return name.endswith(CANDIDATE_TAILS) or "/status.d/" in name
