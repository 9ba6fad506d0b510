"""Findings, results and documents for the suppression tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from secapi.domain.findings import Finding, ImageDetails, PackageRef, ScanResult, Timings, severity_counts
from secapi.domain.openvex import VexDocument
from secapi.domain.severity import Severity
from secapi.domain.suppressions import IgnoreRule, StoredVex

T0 = datetime(2026, 1, 1, tzinfo=UTC)
USER = uuid.UUID(int=1)


def finding(
    ident: str, name: str, version: str, purl: str, *aliases: str, severity: Severity = Severity.HIGH
) -> Finding:
    return Finding(
        id=ident,
        aliases=aliases,
        package=PackageRef(name=name, version=version, ecosystem="npm", purl=purl),
        installed_version=version,
        fixed_versions=(),
        severity=severity,
        score=None,
        vector=None,
        summary="",
        references=(),
    )


LODASH = finding("GHSA-35jh-r3h4-6jhm", "lodash", "4.17.20", "pkg:npm/lodash@4.17.20", "CVE-2021-23337")
MINIMIST = finding(
    "GHSA-xvch-5gv4-984h", "minimist", "1.2.5", "pkg:npm/minimist@1.2.5", "CVE-2021-44906", severity=Severity.CRITICAL
)
BABEL = finding(
    "GHSA-67hx-6x53-jw92", "@babel/traverse", "7.20.0", "pkg:npm/%40babel/traverse@7.20.0", "CVE-2023-45133"
)
IMAGE_DIGEST = "sha256:" + "ab" * 32


def result(*findings: Finding, image: bool = False) -> ScanResult:
    details = (
        ImageDetails(
            reference="docker.io/library/web:1.0",
            manifest_digest=IMAGE_DIGEST,
            platform="linux/amd64",
            os=None,
            os_ecosystem=None,
            layers=(),
            resolve_ms=0.0,
        )
        if image
        else None
    )
    return ScanResult(
        scan_type="dependencies",
        target="package-lock.json",
        ecosystems=("npm",),
        packages=(),
        unscannable=(),
        vulnerabilities=findings,
        counts=severity_counts(findings),
        vulndb_version=1,
        timings=Timings(),
        image=details,
    )


def rule(
    advisory: str, package: str | None = None, *, expires_at: datetime | None = None, user: uuid.UUID = USER
) -> IgnoreRule:
    return IgnoreRule(
        id=uuid.uuid4(),
        user_id=user,
        advisory=advisory,
        package=package,
        reason=f"accepted: {advisory}",
        created_at=T0,
        expires_at=expires_at,
    )


def statement(vulnerability: str, status: str, *products: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"vulnerability": {"name": vulnerability}, "status": status, "products": list(products), **fields}


def document(*statements: dict[str, Any], timestamp: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/" + uuid.uuid4().hex,
        "author": "Security Team <security@example.com>",
        "timestamp": timestamp,
        "version": 1,
        "statements": list(statements),
    }


def stored(doc: dict[str, Any], *, user: uuid.UUID = USER, created_at: datetime = T0) -> StoredVex:
    parsed = msgspec.json.decode(msgspec.json.encode(doc), type=VexDocument)
    return StoredVex(id=uuid.uuid4(), user_id=user, document=parsed, created_at=created_at)
