"""Per-tenant suppressions: ignore rules and OpenVEX documents, and how they apply to a result at answer time.

The shared cache and the scans table hold the unsuppressed result. When a tenant reads a result (a fresh scan,
a cache hit, `GET /api/v1/scans/{id}`), `ActiveSuppressions.apply` moves the findings its rules and statements
cover from `vulnerabilities` to `suppressed` (each naming what suppressed it) and recounts `counts`; another
tenant's answer is built from the same stored result with its own rules.

- An ignore rule covers a finding when its `advisory` equals the finding's id or one of its aliases
  (case-insensitively: a rule on a CVE covers the GHSA finding that lists it), its `package` pattern (if any)
  fits the finding's package (`package_patterns`), and it has not expired (`expires_at` after now).
- A VEX statement covers a finding when its vulnerability's name or an alias equals the finding's id or an
  alias, and a product fits: a product without subcomponents is the package itself (its purl, version
  optional); with subcomponents the subcomponents are the packages, and the product names the artifact —
  an image (`pkg:oci/NAME@sha256:...`) must be the scanned image (its manifest digest; without a digest, an
  image of that repository name); another kind of product is not checked against the scan. An image product
  without subcomponents covers the vulnerability in every package of that image.
  `not_affected` and `fixed` suppress; `affected` and `under_investigation` only annotate (`vex`). When
  several statements cover a finding, the latest (statement timestamp, else the document's) wins, as
  OpenVEX's statements override earlier ones. Ignore rules are applied before VEX.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol
from uuid import UUID

import msgspec

from secapi.domain.errors import Conflict, NotFound
from secapi.domain.findings import (
    Finding,
    PackageRef,
    ScanResult,
    SuppressedBy,
    SuppressedFinding,
    VexAnnotation,
    severity_counts,
)
from secapi.domain.model import PageCursor
from secapi.domain.openvex import SUPPRESSING, VexDocument, VexStatement, VexStatus
from secapi.domain.package_patterns import PackagePattern, Purl

MAX_IGNORE_RULES: Final = 500
"""Ignore rules one tenant may hold (every tier): bounded so an answer's matching stays cheap."""
MAX_VEX_DOCUMENTS: Final = 50
"""VEX documents one tenant may hold (each at most `openvex.MAX_STATEMENTS` statements)."""


class SuppressionLimitReached(Conflict):
    """The tenant holds as many rules (or documents) as allowed."""


class SuppressionNotFound(NotFound):
    """No such rule or document belongs to the caller."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IgnoreRule:
    """A tenant's decision to ignore an advisory (in some packages, or all) with a reason, maybe until a time."""

    id: UUID
    user_id: UUID
    advisory: str
    package: str | None
    reason: str
    created_at: datetime
    expires_at: datetime | None = None

    def active_at(self, now: datetime) -> bool:
        """False once `expires_at` has passed."""
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredVex:
    """A tenant's OpenVEX document as stored."""

    id: UUID
    user_id: UUID
    document: VexDocument
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RulePage:
    """A page of ignore rules, newest first."""

    items: list[IgnoreRule]
    next_cursor: PageCursor | None


@dataclass(frozen=True, slots=True, kw_only=True)
class VexPage:
    """A page of VEX documents, newest first."""

    items: list[StoredVex]
    next_cursor: PageCursor | None


class SuppressionRepository(Protocol):
    """Stores ignore rules and VEX documents per tenant."""

    async def add_rule(self, rule: IgnoreRule, *, limit: int) -> None:
        """Insert unless the tenant already holds `limit` rules (`SuppressionLimitReached`); atomic per tenant."""
        ...

    async def rules(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> RulePage:
        """The tenant's rules, newest first."""
        ...

    async def delete_rule(self, user_id: UUID, rule_id: UUID) -> bool:
        """Remove the tenant's rule; False if it has none with this id."""
        ...

    async def add_vex(self, vex: StoredVex, *, limit: int) -> None:
        """Insert unless the tenant already holds `limit` documents (`SuppressionLimitReached`); atomic per tenant."""
        ...

    async def vex_documents(self, user_id: UUID, *, limit: int, after: PageCursor | None) -> VexPage:
        """The tenant's VEX documents, newest first."""
        ...

    async def get_vex(self, user_id: UUID, vex_id: UUID) -> StoredVex | None:
        """The tenant's document, or None (another tenant's is None too)."""
        ...

    async def delete_vex(self, user_id: UUID, vex_id: UUID) -> bool:
        """Remove the tenant's document; False if it has none with this id."""
        ...

    async def everything(self, user_id: UUID) -> tuple[Sequence[IgnoreRule], Sequence[StoredVex]]:
        """All the tenant's rules (expired ones included) and documents: what answers are filtered with."""
        ...


@dataclass(frozen=True, slots=True)
class _Rule:
    rule: IgnoreRule
    pattern: PackagePattern | None


@dataclass(frozen=True, slots=True)
class _Product:
    purl: Purl
    subcomponents: tuple[Purl, ...]


@dataclass(frozen=True, slots=True)
class _Statement:
    vex: StoredVex
    index: int
    statement: VexStatement
    products: tuple[_Product, ...]
    at: datetime


def _identifiers(finding: Finding) -> set[str]:
    return {finding.id.upper(), *(alias.upper() for alias in finding.aliases)}


def _same_package(wanted: Purl, package: PackageRef) -> bool:
    found = Purl.parse(package.purl) if package.purl else None
    if found is None or found.key() != wanted.key():
        return False
    return wanted.version is None or wanted.version == (found.version or package.version)


def _is_scanned_image(product: Purl, result: ScanResult | None) -> bool:
    image = result.image if result is not None else None
    if image is None:
        return False
    if product.version is not None:
        return product.version.lower() == image.manifest_digest.lower()
    last = image.reference.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower() == product.name.lower()


def _covers(product: _Product, finding: Finding, result: ScanResult | None) -> bool:
    if product.purl.type == "oci":
        if not _is_scanned_image(product.purl, result):
            return False
        return not product.subcomponents or any(_same_package(sub, finding.package) for sub in product.subcomponents)
    if product.subcomponents:
        return any(_same_package(sub, finding.package) for sub in product.subcomponents)
    return _same_package(product.purl, finding.package)


@dataclass(frozen=True, slots=True)
class ActiveSuppressions:
    """A tenant's rules in force now and its VEX statements, indexed by advisory id; `apply` filters a result."""

    rules: dict[str, list[_Rule]] = field(default_factory=dict)
    statements: dict[str, list[_Statement]] = field(default_factory=dict)
    stamp: str = ""
    """Changes whenever what applies changes (a rule added, deleted or expired; a document added or deleted)."""

    @property
    def active(self) -> bool:
        """False when nothing applies: the answer is the stored result as it is."""
        return bool(self.rules or self.statements)

    @classmethod
    def of(cls, rules: Iterable[IgnoreRule], documents: Iterable[StoredVex], now: datetime) -> ActiveSuppressions:
        """Index the rules in force at `now` and every statement by the upper-cased ids they name."""
        by_rule: dict[str, list[_Rule]] = defaultdict(list)
        stamp = hashlib.sha256()
        for rule in sorted((r for r in rules if r.active_at(now)), key=lambda r: (r.created_at, r.id)):
            pattern = PackagePattern.parse(rule.package) if rule.package else None
            by_rule[rule.advisory.upper()].append(_Rule(rule, pattern))
            stamp.update(f"r{rule.id}".encode())
        by_statement: dict[str, list[_Statement]] = defaultdict(list)
        for vex in sorted(documents, key=lambda d: (d.created_at, d.id)):
            stamp.update(f"v{vex.id}".encode())
            for index, statement in enumerate(vex.document.statements):
                entry = _Statement(
                    vex, index, statement, _products(statement), statement.timestamp or vex.document.timestamp
                )
                names = {statement.vulnerability.name, *statement.vulnerability.aliases}
                for name in {n.upper() for n in names}:
                    by_statement[name].append(entry)
        if not by_rule and not by_statement:
            return NO_SUPPRESSIONS
        return cls(dict(by_rule), dict(by_statement), stamp.hexdigest()[:16])

    def apply(self, result: ScanResult) -> ScanResult:
        """`result` as this tenant sees it: covered findings in `suppressed`, `counts` without them, VEX notes."""
        if not self.active:
            return result
        kept: list[Finding] = []
        suppressed: list[SuppressedFinding] = []
        notes: list[VexAnnotation] = []
        for finding in result.vulnerabilities:
            by = self.covering(finding, result, notes)
            if by is None:
                kept.append(finding)
            else:
                suppressed.append(SuppressedFinding(**msgspec.structs.asdict(finding), suppressed_by=by))
        if not suppressed and not notes:
            return result
        return msgspec.structs.replace(
            result,
            vulnerabilities=tuple(kept),
            counts=severity_counts(tuple(kept)),
            suppressed=(*result.suppressed, *suppressed),
            vex=(*result.vex, *notes),
        )

    def covering(
        self, finding: Finding, result: ScanResult | None = None, notes: list[VexAnnotation] | None = None
    ) -> SuppressedBy | None:
        """What suppresses `finding` (of `result`, whose image an image product must be; None: no image), if
        anything; `affected` / `under_investigation` statements about it are added to `notes`."""
        names = _identifiers(finding)
        return self._rule_for(finding, names) or self._statement_for(
            finding, names, result, [] if notes is None else notes
        )

    def _rule_for(self, finding: Finding, names: set[str]) -> SuppressedBy | None:
        for name in names:
            for entry in self.rules.get(name, ()):
                if entry.pattern is None or entry.pattern.matches(finding.package):
                    rule = entry.rule
                    return SuppressedBy(kind="ignore", id=str(rule.id), reason=rule.reason, expires_at=rule.expires_at)
        return None

    def _statement_for(
        self, finding: Finding, names: set[str], result: ScanResult | None, notes: list[VexAnnotation]
    ) -> SuppressedBy | None:
        covering = [
            entry
            for name in names
            for entry in self.statements.get(name, ())
            if any(_covers(product, finding, result) for product in entry.products)
        ]
        if not covering:
            return None
        latest = max(covering, key=lambda e: (e.at, e.vex.created_at, e.index))
        statement = latest.statement
        if statement.status not in SUPPRESSING:
            notes.append(
                VexAnnotation(
                    finding=finding.id,
                    package=finding.package,
                    status=statement.status.value,
                    document=str(latest.vex.id),
                    statement=latest.index,
                    action_statement=statement.action_statement,
                    status_notes=statement.status_notes,
                )
            )
            return None
        return SuppressedBy(
            kind="vex",
            id=str(latest.vex.id),
            reason=_vex_reason(statement),
            statement=latest.index,
            status=statement.status.value,
            justification=statement.justification.value if statement.justification else None,
        )


NO_SUPPRESSIONS: Final = ActiveSuppressions()


def _products(statement: VexStatement) -> tuple[_Product, ...]:
    products: list[_Product] = []
    for product in statement.products:
        subs = tuple(p for p in (Purl.parse(sub.purl) for sub in product.subcomponents if sub.purl) if p is not None)
        purl = Purl.parse(product.purl) if product.purl else None
        if purl is not None:
            products.append(_Product(purl, subs))
        else:
            # A product named otherwise (a CPE, a hash): its purl-identified subcomponents are the packages.
            products.extend(_Product(sub, ()) for sub in subs)
    return tuple(products)


def _vex_reason(statement: VexStatement) -> str:
    if statement.status is VexStatus.FIXED:
        return statement.status_notes or "fixed"
    parts = [
        p for p in (statement.justification.value if statement.justification else None, statement.impact_statement) if p
    ]
    return ": ".join(parts)
