"""Table definitions. The same models run on PostgreSQL (JSONB) and SQLite (JSON)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import BigIntBase, DefaultBase, UUIDBase
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column


class UserModel(UUIDBase):
    """A tenant."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    tier: Mapped[str] = mapped_column(String(16))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class ApiKeyModel(UUIDBase):
    """An API key: visible prefix and SHA-256 hash, never the key."""

    __tablename__ = "api_keys"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


UNFINISHED = "status IN ('queued', 'running')"
"""The predicate of the sweeper's partial index: the few scans not finished yet."""


class ScanResultModel(DefaultBase):
    """A finished scan's result document, stored once however many scans produced it (issue 17).

    Keyed by the SHA-256 of the document's JSON text as SecAPI encodes it (`adapters/sql/results.py`): CI re-scans
    of one input give one row, referenced by each scan's `result_digest`. The retention job removes rows no scan
    references any more.
    """

    __tablename__ = "scan_results"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JsonB)


class ScanModel(UUIDBase):
    """One scan of a tenant: input, status, result (by digest), timings."""

    __tablename__ = "scans"
    __table_args__ = (
        Index("idx_scans_user_created", "user_id", "created_at", "id"),
        Index("idx_scans_status_type", "status", "scan_type"),
        Index("idx_scans_input_hash", "input_hash"),
        Index("idx_scans_result_digest", "result_digest"),
        Index(
            "idx_scans_unfinished_created",
            "created_at",
            postgresql_where=text(UNFINISHED),
            sqlite_where=text(UNFINISHED),
        ),
    )

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scan_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    input_data: Mapped[dict[str, Any]] = mapped_column(JsonB)
    input_hash: Mapped[str] = mapped_column(String(64))
    result_digest: Mapped[str | None] = mapped_column(String(64), ForeignKey("scan_results.digest"), nullable=True)
    """The result document's key in `scan_results` (None until the scan has a result)."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many times a worker has claimed this scan."""
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    """While running: when the claiming worker's lease runs out unless renewed (then another may take it)."""


class ApiUsageModel(BigIntBase):
    """One API request of a tenant.

    On PostgreSQL the table is partitioned by month on `timestamp` (migration 0012): its primary key there is
    (id, timestamp), as a partitioned table's must include the partition key; SQLite keeps this plain table.
    """

    __tablename__ = "api_usage"
    __table_args__ = (Index("idx_api_usage_user_timestamp", "user_id", "timestamp"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    status_code: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    duration_ms: Mapped[float] = mapped_column(Float)


class VulnerabilityModel(DefaultBase):
    """One OSV advisory: columns findings show, and the full record."""

    __tablename__ = "vulnerabilities"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    modified: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    published: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    withdrawn: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    vector: Mapped[str | None] = mapped_column(String(200), nullable=True)
    aliases: Mapped[str] = mapped_column(Text, default="[]")
    """JSON array, encoded by msgspec (decoded on the hot path without the ORM)."""
    references: Mapped[str] = mapped_column(Text, default="[]")
    informational: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """RustSec's informational kind (unmaintained, unsound, notice); NULL for vulnerabilities."""
    record: Mapped[dict[str, Any]] = mapped_column(JsonB)


class VulnerabilityAliasModel(DefaultBase):
    """One alias of an advisory (CVE, GHSA, PYSEC, GO ids): records sharing one borrow each other's severity."""

    __tablename__ = "vulnerability_aliases"
    __table_args__ = (Index("idx_vulnerability_aliases_vulnerability", "vulnerability_id"),)

    alias: Mapped[str] = mapped_column(String(200), primary_key=True)
    vulnerability_id: Mapped[str] = mapped_column(
        ForeignKey("vulnerabilities.id", ondelete="CASCADE"), primary_key=True
    )


class AffectedPackageModel(BigIntBase):
    """One `affected[]` entry of an advisory, keyed for lookup by (ecosystem, name)."""

    __tablename__ = "affected_packages"
    __table_args__ = (
        Index("idx_affected_packages_ecosystem_name", "ecosystem", "name"),
        Index("idx_affected_packages_vulnerability", "vulnerability_id"),
    )

    vulnerability_id: Mapped[str] = mapped_column(ForeignKey("vulnerabilities.id", ondelete="CASCADE"))
    ecosystem: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(500))
    ranges: Mapped[str] = mapped_column(Text)
    """`AffectedRanges` as JSON, encoded by msgspec."""


class VulnDbVersionModel(BigIntBase):
    """One import that changed the vulnerability data; the highest id is the version in force."""

    __tablename__ = "vulndb_versions"

    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    source: Mapped[str] = mapped_column(String(500))
    added: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    withdrawn: Mapped[int] = mapped_column(Integer)
    advisories: Mapped[int] = mapped_column(Integer)
    ecosystems: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON object: non-withdrawn advisories per ecosystem at this version (NULL for versions before 0005)."""


class VulnDbSyncStateModel(DefaultBase):
    """What `secapi vulndb sync` last fetched from one URL or file: cache validators and high-water mark."""

    __tablename__ = "vulndb_sync_state"

    resource: Mapped[str] = mapped_column(String(1000), primary_key=True)
    """The full URL or path (a new source location starts from scratch)."""
    etag: Mapped[str | None] = mapped_column(String(500), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(100), nullable=True)
    """The `Last-Modified` header as received, sent back as `If-Modified-Since`."""
    high_water: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    """The newest `modified` imported from this ecosystem (set on its `all.zip` and `modified_id.csv` rows)."""
    last_success: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    content: Mapped[str | None] = mapped_column(Text, nullable=True)
    """A small file's text (`ecosystems.txt`), so that a 304 for it still answers."""


class LayerInventoryModel(DefaultBase):
    """What the catalogers found in one image layer, by layer digest and cataloger version."""

    __tablename__ = "layer_inventories"

    digest: Mapped[str] = mapped_column(String(100), primary_key=True)
    cataloger_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    inventory: Mapped[bytes] = mapped_column(LargeBinary)
    """msgspec-encoded `LayerInventory`."""
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class ImageInventoryModel(DefaultBase):
    """The merged inventory of one image manifest (all layers applied), by manifest digest and cataloger version."""

    __tablename__ = "image_inventories"

    manifest_digest: Mapped[str] = mapped_column(String(100), primary_key=True)
    cataloger_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    inventory: Mapped[bytes] = mapped_column(LargeBinary)
    """msgspec-encoded `ImageInventory`."""
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class RateLimitCounterModel(DefaultBase):
    """Durable per-bucket counters of a quota (one row per user, quota and day), so a Redis flush loses nothing."""

    __tablename__ = "rate_limits"
    __table_args__ = (Index("idx_rate_limits_user_period", "user_id", "quota", "bucket"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    quota: Mapped[str] = mapped_column(String(40), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Bucket index: unix time divided by the bucket length (a day for the monthly quota)."""
    count: Mapped[int] = mapped_column(Integer)


class EpssScoreModel(DefaultBase):
    """FIRST's EPSS score of one CVE, from the day's file named in `exploit_feeds` (replaced whole on import)."""

    __tablename__ = "epss_scores"

    cve: Mapped[str] = mapped_column(String(32), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    percentile: Mapped[float] = mapped_column(Float)


class KevEntryModel(DefaultBase):
    """One entry of CISA's Known Exploited Vulnerabilities catalogue (replaced whole on import)."""

    __tablename__ = "kev_entries"

    cve: Mapped[str] = mapped_column(String(32), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    date_added: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    known_ransomware_use: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """True: known use in ransomware campaigns; NULL: CISA does not know (its "Unknown")."""
    required_action: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)


class ExploitFeedModel(DefaultBase):
    """What is loaded from one exploit-risk feed (`epss`, `kev`): rows, data version and date, import time."""

    __tablename__ = "exploit_feeds"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    rows: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(100))
    """EPSS model version, or KEV catalogue version."""
    data_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    """EPSS score date, or the KEV catalogue's release day."""
    imported_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    source: Mapped[str] = mapped_column(String(1000))


class NotificationEndpointModel(DefaultBase):
    """Where a user wants quota-reset events delivered, and the secret that signs them."""

    __tablename__ = "notification_endpoints"

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class WatchModel(UUIDBase):
    """A watched target of a tenant: what it follows and where its findings stand."""

    __tablename__ = "watches"
    __table_args__ = (
        Index("idx_watches_user_created", "user_id", "created_at", "id"),
        Index("idx_watches_status_kind", "status", "kind", "created_at", "id"),
    )

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(600))
    status: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scan_id: Mapped[UUID | None] = mapped_column(GUID(length=16), nullable=True)
    """The scan the baseline comes (or will come) from; no foreign key: a scan row may be pruned, the watch stays."""
    image_digest: Mapped[str | None] = mapped_column(String(100), nullable=True)
    packages: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[int] = mapped_column(Integer, default=0)
    vulndb_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    matched_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class WatchKeyModel(DefaultBase):
    """One lookup key of a watch: the packages filed under it and the findings last matched through it."""

    __tablename__ = "watch_keys"
    __table_args__ = (Index("idx_watch_keys_ecosystem_name", "ecosystem", "name"),)

    watch_id: Mapped[UUID] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"), primary_key=True)
    ecosystem: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    """msgpack-encoded packages and findings (`KeyState` without its key)."""


class WatchEventModel(UUIDBase):
    """Findings a watch gained or lost at one database version; `new_findings` rows are also a webhook outbox."""

    __tablename__ = "watch_events"
    __table_args__ = (
        Index("idx_watch_events_watch_created", "watch_id", "created_at", "id"),
        Index("idx_watch_events_due", "next_attempt_at"),
    )

    watch_id: Mapped[UUID] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"))
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    target: Mapped[str] = mapped_column(String(600))
    advisories: Mapped[list[str]] = mapped_column(JsonB)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JsonB)
    vulndb_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    """When delivery is due (or a claim's lease ends); NULL once delivered, given up, or for unposted kinds."""
    delivered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    given_up: Mapped[str | None] = mapped_column(Text, nullable=True)


class IgnoreRuleModel(UUIDBase):
    """A tenant's ignore rule: an advisory (id or alias), an optional package pattern, a reason, an optional expiry."""

    __tablename__ = "ignore_rules"
    __table_args__ = (Index("idx_ignore_rules_user_created", "user_id", "created_at", "id"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    advisory: Mapped[str] = mapped_column(String(100))
    package: Mapped[str | None] = mapped_column(String(300), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class VexDocumentModel(UUIDBase):
    """A tenant's OpenVEX document, stored as its validated JSON."""

    __tablename__ = "vex_documents"
    __table_args__ = (Index("idx_vex_documents_user_created", "user_id", "created_at", "id"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    document_id: Mapped[str] = mapped_column(String(1000))
    """The document's own `@id`."""
    document: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
