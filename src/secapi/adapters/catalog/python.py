"""Installed Python distributions: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` (or a single-file `*.egg-info`)
and `*.egg/EGG-INFO/PKG-INFO`, all email headers."""

from __future__ import annotations

from email.parser import HeaderParser

from secapi.domain.inventory import PYTHON, PackageRecord
from secapi.domain.purl import pypi_purl


def parse_python_metadata(data: bytes) -> tuple[PackageRecord, ...]:
    """The one distribution a METADATA / PKG-INFO file describes (none without Name and Version)."""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    head = text.split("\n\n", 1)[0]  # the description body may be long; only headers matter
    headers = HeaderParser().parsestr(head, headersonly=True)
    name, version = (headers.get("Name") or "").strip(), (headers.get("Version") or "").strip()
    if not name or not version:
        raise ValueError("no Name and Version headers")
    return (PackageRecord(kind=PYTHON, name=name, version=version, purl=pypi_purl(name, version)),)
