"""Installed RPM packages from rpm's databases, read in pure Python: SQLite, Berkeley DB hash and NDB.

Each parser takes the whole database file (capped by `rules.RPM_DATABASE`) and returns its packages;
any malformation, anywhere, is a ValueError naming it, which the layer reader turns into a skipped file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from secapi.adapters.catalog.rpm.bdb import bdb_blobs
from secapi.adapters.catalog.rpm.header import package_record, parse_header
from secapi.adapters.catalog.rpm.ndb import ndb_blobs
from secapi.adapters.catalog.rpm.sqlite import sqlite_blobs
from secapi.domain.inventory import PackageRecord

MAX_PACKAGES = 50_000
"""A full RHEL workstation has ~2,000-5,000 packages; more is not a real database."""

__all__ = ["MAX_PACKAGES", "parse_rpm_bdb", "parse_rpm_ndb", "parse_rpm_sqlite"]


def _records(blobs: Callable[[bytes, int], Iterator[bytes]], data: bytes) -> tuple[PackageRecord, ...]:
    records = []
    for n, blob in enumerate(blobs(data, MAX_PACKAGES), start=1):
        try:
            record = package_record(parse_header(blob))
        except ValueError as exc:
            raise ValueError(f"package {n}: {exc}") from exc
        if record is not None:
            records.append(record)
    return tuple(records)


def parse_rpm_sqlite(data: bytes) -> tuple[PackageRecord, ...]:
    """Packages of an `rpmdb.sqlite` file."""
    return _records(sqlite_blobs, data)


def parse_rpm_bdb(data: bytes) -> tuple[PackageRecord, ...]:
    """Packages of a Berkeley DB `Packages` file."""
    return _records(bdb_blobs, data)


def parse_rpm_ndb(data: bytes) -> tuple[PackageRecord, ...]:
    """Packages of an NDB `Packages.db` file."""
    return _records(ndb_blobs, data)
