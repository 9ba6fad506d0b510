"""Settings: every knob SecAPI reads, from `SECAPI_*` environment variables.

One `Settings` object is built in the entrypoint (`Settings.from_env()`) and
injected from there; nothing imports it as a global.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, get_type_hints
from urllib.parse import unquote, urlsplit

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/secapi.db"
_SCHEDULE_SUFFIX = "_cron"
_SCHEDULE_OFF = frozenset({"", "off", "none", "never", "false", "disabled"})
# Sources that are on by default: an empty variable switches them off, as for a schedule.
_OFF_WHEN_EMPTY = frozenset({"vulndb_epss_source", "vulndb_kev_source"})
_HOSTNAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?")


class SettingsError(ValueError):
    """An environment variable holds a value SecAPI cannot use."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """SecAPI's configuration; field `x` is read from `SECAPI_X`."""

    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL. PostgreSQL in production (`postgresql+asyncpg://...`); SQLite by default."""

    redis_url: str | None = None
    """Redis URL (`redis://127.0.0.1:6379/0`). Unset: in-memory cache, limiter and queue."""

    redis_cluster: bool = False
    """`SECAPI_REDIS_URL` names a node of a Redis Cluster (any one: the others are discovered). The queue then
    needs its own single-node `SECAPI_QUEUE_REDIS_URL`."""

    queue_redis_url: str | None = None
    """Redis URL of the scan queue (SAQ), when it must not share `SECAPI_REDIS_URL`: a single node (or a
    primary with replicas), never a cluster. Unset: the queue uses `SECAPI_REDIS_URL`."""

    db_pool_size: int = 10
    """Connections kept open per process (PostgreSQL only)."""

    db_max_overflow: int = 10
    """Extra connections allowed above the pool size under load (PostgreSQL only)."""

    db_pool_timeout: float = 10.0
    """Seconds a request waits for a free connection before failing."""

    db_statement_timeout_ms: int = 30_000
    """PostgreSQL `statement_timeout` for every connection, in milliseconds."""

    redis_timeout: float = 2.0
    """Seconds for a Redis connect or command before it counts as unavailable."""

    health_check_timeout: float = 2.0
    """Seconds each readiness probe (database, Redis) may take."""

    request_max_body_bytes: int = 10 * 1024 * 1024
    """Largest request body accepted; larger bodies get 413."""

    body_receive_timeout: float = 30.0
    """Seconds a client may send no request-body bytes before a 408 closes the connection (between reads,
    as nginx's `client_body_timeout`: a slow upload that keeps moving is fine). 0 turns the check off."""

    auth_cache_ttl: float = 30.0
    """Seconds an API key → user lookup is cached in-process (revocation takes effect within this)."""

    auth_cache_size: int = 10_000
    """Most API keys kept in the in-process lookup cache."""

    page_size_default: int = 20
    """Scans per page when the client asks for no `limit`."""

    page_size_max: int = 100
    """Largest `limit` a client may ask for."""

    usage_flush_interval: float = 1.0
    """Seconds between batched writes of API usage rows, cache-hit scans and cache hit/miss counts."""

    usage_buffer_max: int = 5_000
    """Usage rows held in memory at most; beyond that the oldest are dropped and counted."""

    registry_allowlist: str = ""
    """Comma-separated `host[:port]` that may be reached although private or loopback (e.g. `127.0.0.1:5000`)."""

    webhook_allowlist: str = ""
    """Comma-separated `host[:port]` that webhooks may reach although private or loopback, also over plain HTTP."""

    registry_insecure: str = ""
    """Comma-separated `host[:port]` reached over plain HTTP instead of HTTPS."""

    registry_credentials: str = ""
    """JSON `{"registry host": {"username": "...", "password": "..."}}` for private registries."""

    registry_connect_timeout: float = 5.0
    """Seconds to connect to a registry."""

    registry_read_timeout: float = 30.0
    """Seconds a registry may stay silent while answering."""

    registry_retries: int = 3
    """Retries on 429, 5xx and connection errors, with backoff honouring Retry-After."""

    max_layer_bytes: int = 2 * 1024**3
    """Largest compressed layer accepted."""

    max_image_layers: int = 200
    """Most layers an image may have."""

    archive_max_bytes: int = 2 * 1024**3
    """Largest uploaded image archive (`docker save` or OCI layout tarball)."""

    scan_scratch_max_bytes: int = 16 * 1024**3
    """Scratch bytes one archive scan may write (the decompressed upload plus each layer copied out, one at a
    time): 16 GiB fits a 2 GiB gzipped `docker save` that expands 4:1. A gzipped upload expanding more than
    200:1 (the layers' rule) fails sooner, as a decompression bomb."""

    process_scratch_max_bytes: int = 32 * 1024**3
    """Scratch bytes the running archive scans of one API process may have written at once (each scan's
    bytes count until it ends); a scan that would cross it fails with a reason. Size it to the scratch disk."""

    scan_sync_budget: float = 2.0
    """Seconds a scan request waits for the result before answering 202 with a Location to poll."""

    scan_lease_seconds: float = 60.0
    """A running scan's lease; a worker renews it, and a scan whose worker died is taken again after it."""

    scan_queue_timeout: float = 120.0
    """A scan still queued after this many seconds is handed out again (its queue message may be lost)."""

    scan_max_attempts: int = 3
    """Attempts before a scan whose workers keep dying is failed with a reason."""

    worker_concurrency: int = 4
    """Scans one worker process runs at once."""

    cache_warm_top: int = 50
    """How many of the most requested images are re-scanned after a database update and every warm interval."""

    cache_warm_cron: str = "17 * * * *"
    """When workers (without Redis: the API process) re-scan the popular images (cron syntax, run once across
    all workers; empty, `off`, `none`, `never`, `false` or `disabled`: never)."""

    retention_days_free: int = 30
    """Days a free tenant's scans and API usage rows are kept (0: forever); the `retention` job removes older ones."""

    retention_days_starter: int = 90
    """Days a starter tenant's scans and API usage rows are kept (0: forever)."""

    retention_days_pro: int = 365
    """Days a pro tenant's scans and API usage rows are kept (0: forever)."""

    retention_days_business: int = 730
    """Days a business tenant's scans and API usage rows are kept (0: forever)."""

    retention_cron: str = "23 3 * * *"
    """When workers (without Redis: the API process) remove expired scans and usage rows and the result documents
    no scan references, and make next month's usage partition (cron syntax, run once across all workers; empty,
    `off`, `none`, `never`, `false` or `disabled`: never)."""

    retention_batch_size: int = 2_000
    """Rows one retention batch deletes, each batch a short transaction of its own."""

    worker_grace_seconds: float = 25.0
    """On SIGTERM or SIGINT, `secapi worker` lets running scans finish for this long, then hands the rest back
    to the queue and exits (keep it below the orchestrator's kill timeout, e.g. Kubernetes' 30 s)."""

    tag_digest_ttl: int = 300
    """Seconds a tag → digest resolution is reused before asking the registry again (a moved tag is seen then)."""

    scan_tmp_dir: str = ""
    """Where per-scan temporary directories go (default: the system's temp dir)."""

    rate_limit_fail_open: bool = True
    """When the limiter's Redis is unavailable: admit requests (true, logged and counted) or answer 503 (false)."""

    metrics_enabled: bool = True
    """Collect Prometheus metrics and serve them at `GET /metrics` (false: a no-op sink, no route)."""

    metrics_token: str = ""
    """Bearer token `GET /metrics` requires (metrics name tenants' tiers); empty: no token needed."""

    worker_metrics_port: int = 0
    """Port on which `secapi worker` serves `/metrics` (0: not served)."""

    worker_metrics_host: str = "127.0.0.1"
    """Address `secapi worker` binds its `/metrics` port to."""

    vulndb_update_period: float = 86400.0
    """Seconds between the vulnerability data imports you schedule; exported so an alert fires when data is older."""

    vulndb_source: str = "https://osv-vulnerabilities.storage.googleapis.com"
    """Where `secapi vulndb sync` reads OSV's bucket layout (`<ECOSYSTEM>/all.zip`, `modified_id.csv`, `<ID>.json`,
    `ecosystems.txt`): an http(s) base URL (OSV's public bucket, or a mirror), a `file://` URL or a directory."""

    vulndb_ecosystems: str = ""
    """Comma-separated ecosystems to sync (empty: every ecosystem SecAPI can scan). A bare name (`Debian`) takes
    its directory, or every `Debian:*` one when only those are published; `Debian:12` takes exactly that one."""

    vulndb_sync_cron: str = "41 */6 * * *"
    """When workers run `vulndb sync` (cron syntax; one worker at a time, under a lock; empty, `off`, `none`,
    `never`, `false` or `disabled`: never)."""

    vulndb_sync_max_bytes: int = 2 * 1024**3
    """Largest file a sync downloads (an ecosystem's `all.zip`, a feed); larger ones fail that ecosystem."""

    vulndb_sync_max_changed: int = 5_000
    """Changed records in `modified_id.csv` fetched one by one at most; beyond that the whole `all.zip` is taken."""

    vulndb_epss_source: str = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
    """FIRST's daily EPSS scores (gzip CSV), URL or file path, kept current by `secapi vulndb sync` (default:
    FIRST's public file; empty or `off`: off). Until a sync has brought them, results say `"epss_loaded": false`."""

    vulndb_kev_source: str = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
    """CISA's Known Exploited Vulnerabilities catalogue (JSON), URL or file path, kept current by `secapi vulndb
    sync` (default: CISA's public file; empty or `off`: off)."""

    vulndb_feed_max_bytes: int = 64 * 1024 * 1024
    """Largest EPSS or KEV file imported (and largest decompressed EPSS text); a larger one is refused unread."""

    log_level: str = "INFO"
    """Python logging level name."""

    docs_enabled: bool = True
    """Serve the OpenAPI schema and interactive UI at /schema."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read `SECAPI_*` variables; keyword overrides win over the environment."""
        env = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"SECAPI_{f.name.upper()}")
            if raw is None or (raw == "" and not _empty_is_off(f.name)):
                continue  # an empty schedule or feed source is kept: it means "off", not "the default"
            values[f.name] = _convert(f.name, raw, hints[f.name])
        values.update(overrides)
        return cls(**values)

    def __post_init__(self) -> None:
        """Parse every composite setting now: a bad value stops start-up, naming its variable."""
        # The parsers are memoised on the raw string, so the properties cost a lookup later and the instance's
        # `__dict__` keeps only the fields (tests build copies from it).
        for name in _PARSED:
            getattr(self, name)
        for tier in ("free", "starter", "pro", "business"):
            if getattr(self, f"retention_days_{tier}") < 0:
                raise SettingsError(f"SECAPI_RETENTION_DAYS_{tier.upper()} must be 0 (keep forever) or more days")
        if self.redis_cluster and not self.redis_url:
            raise SettingsError("SECAPI_REDIS_CLUSTER=true needs SECAPI_REDIS_URL (any node of the cluster)")
        if self.queue_redis_url and not self.redis_url:
            raise SettingsError("SECAPI_QUEUE_REDIS_URL needs SECAPI_REDIS_URL: without Redis the queue is in-process")
        if self.redis_cluster and not self.queue_redis_url:
            # SAQ's scripts touch keys in several slots and its client is not cluster-aware.
            raise SettingsError(
                "SECAPI_REDIS_CLUSTER=true needs SECAPI_QUEUE_REDIS_URL: the scan queue (SAQ) runs on a single "
                "Redis node, not on a cluster"
            )

    @property
    def registry_credential_map(self) -> Mapping[str, tuple[str, str]]:
        """`SECAPI_REGISTRY_CREDENTIALS` parsed: lower-case registry host → (username, password)."""
        return _credential_map(self.registry_credentials)

    @property
    def registry_allowlist_hosts(self) -> frozenset[str]:
        """`SECAPI_REGISTRY_ALLOWLIST`'s `host[:port]` entries, lower-case."""
        return _host_ports("registry_allowlist", self.registry_allowlist)

    @property
    def registry_insecure_hosts(self) -> frozenset[str]:
        """`SECAPI_REGISTRY_INSECURE`'s `host[:port]` entries, lower-case."""
        return _host_ports("registry_insecure", self.registry_insecure)

    @property
    def webhook_allowlist_hosts(self) -> frozenset[str]:
        """`SECAPI_WEBHOOK_ALLOWLIST`'s `host[:port]` entries, lower-case."""
        return _host_ports("webhook_allowlist", self.webhook_allowlist)

    @property
    def cache_warm_schedule(self) -> str | None:
        """`SECAPI_CACHE_WARM_CRON` as a checked cron expression, or None when off."""
        return _cron("cache_warm_cron", self.cache_warm_cron)

    @property
    def retention_schedule(self) -> str | None:
        """`SECAPI_RETENTION_CRON` as a checked cron expression, or None when off."""
        return _cron("retention_cron", self.retention_cron)

    @property
    def vulndb_sync_schedule(self) -> str | None:
        """`SECAPI_VULNDB_SYNC_CRON` as a checked cron expression, or None when off."""
        return _cron("vulndb_sync_cron", self.vulndb_sync_cron)

    @property
    def vulndb_source_location(self) -> str:
        """`SECAPI_VULNDB_SOURCE` checked: an http(s) URL, or a `file://` URL or path of an existing directory."""
        return _location("vulndb_source", self.vulndb_source, directory=True)

    @property
    def vulndb_ecosystem_names(self) -> tuple[str, ...]:
        """`SECAPI_VULNDB_ECOSYSTEMS`' names in order, without repeats (empty: every scannable ecosystem)."""
        return _ecosystems(self.vulndb_ecosystems)

    @property
    def vulndb_epss_location(self) -> str | None:
        """`SECAPI_VULNDB_EPSS_SOURCE` checked (an http(s) URL, a `file://` URL or a path), or None when off."""
        value = feed_source(self.vulndb_epss_source)
        return None if value is None else _location("vulndb_epss_source", value, directory=False)

    @property
    def vulndb_kev_location(self) -> str | None:
        """`SECAPI_VULNDB_KEV_SOURCE` checked (an http(s) URL, a `file://` URL or a path), or None when off."""
        value = feed_source(self.vulndb_kev_source)
        return None if value is None else _location("vulndb_kev_source", value, directory=False)

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for PostgreSQL or an in-memory SQLite."""
        if not self.is_sqlite:
            return None
        _, _, path = self.database_url.partition(":///")
        return None if path in ("", ":memory:") else Path(path)


def _convert(name: str, raw: str, hint: Any) -> Any:
    text = str(hint)
    try:
        if hint is bool or text == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if hint is int or text == "int":
            return int(raw)
        if hint is float or text == "float":
            return float(raw)
    except ValueError as exc:
        raise SettingsError(f"SECAPI_{name.upper()}={raw!r} is not a valid {text}") from exc
    return raw


def _empty_is_off(name: str) -> bool:
    return name.endswith(_SCHEDULE_SUFFIX) or name in _OFF_WHEN_EMPTY


def feed_source(value: str) -> str | None:
    """An EPSS/KEV source setting's URL or path, or None when it is switched off (empty, `off`, `none`, ...)."""
    return schedule(value)


def schedule(value: str) -> str | None:
    """A cron setting's schedule, or None when it is switched off (empty, `off`, `none`, `never`, ...)."""
    stripped = value.strip()
    return None if stripped.lower() in _SCHEDULE_OFF else stripped


def host_list(value: str) -> frozenset[str]:
    """The `host[:port]` entries of a comma-separated setting, lower-cased."""
    return frozenset(part.strip().lower() for part in value.split(",") if part.strip())


def registry_credentials(value: str) -> dict[str, tuple[str, str]]:
    """Registry → (username, password) from the JSON setting; SettingsError when malformed.

    The message never repeats the value: it holds passwords.
    """
    if not value.strip():
        return {}
    shape = 'JSON like {"registry.example.com": {"username": "u", "password": "p"}}'
    try:
        raw = json.loads(value)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"SECAPI_REGISTRY_CREDENTIALS is not valid JSON ({exc.msg}); it must be {shape}") from exc
    if not isinstance(raw, dict):
        raise SettingsError(f"SECAPI_REGISTRY_CREDENTIALS must be {shape}, not a JSON {type(raw).__name__}")
    credentials: dict[str, tuple[str, str]] = {}
    for host, entry in raw.items():
        problem = _host_port_problem(host.strip().lower())
        if problem is not None:
            raise SettingsError(f"SECAPI_REGISTRY_CREDENTIALS: key {host!r} {problem}")
        if not (isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("username", "password"))):
            raise SettingsError(
                f'SECAPI_REGISTRY_CREDENTIALS: {host!r} needs {{"username": "...", "password": "..."}} (strings)'
            )
        credentials[host.strip().lower()] = (entry["username"], entry["password"])
    return credentials


_PARSED = (
    "registry_credential_map", "registry_allowlist_hosts", "registry_insecure_hosts", "webhook_allowlist_hosts",
    "cache_warm_schedule", "retention_schedule", "vulndb_sync_schedule", "vulndb_source_location",
    "vulndb_ecosystem_names", "vulndb_epss_location", "vulndb_kev_location",
)  # fmt: skip
"""The `Settings` properties checked when an instance is built."""


@lru_cache(maxsize=16)
def _credential_map(value: str) -> Mapping[str, tuple[str, str]]:
    return MappingProxyType(registry_credentials(value))


@lru_cache(maxsize=64)
def _host_ports(name: str, value: str) -> frozenset[str]:
    entries = host_list(value)
    for entry in sorted(entries):
        problem = _host_port_problem(entry)
        if problem is not None:
            raise SettingsError(f"SECAPI_{name.upper()}: {entry!r} {problem}")
    return entries


def _host_port_problem(entry: str) -> str | None:
    """Why `entry` is not `host`, `host:port`, `[IPv6]`, `[IPv6]:port` or a bare IPv6 address (None: it is)."""
    expected = "is not host[:port] (a name or IP address, then an optional port 1-65535)"
    if "/" in entry or "@" in entry:
        return f"{expected}: give the host, not a URL"
    port: str | None = None
    if entry.startswith("["):
        host, closed, rest = entry[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")) or not _is_ipv6(host):
            return f"{expected}: brackets hold an IPv6 address"
        port = rest[1:] if rest else None
    elif entry.count(":") > 1:
        return None if _is_ipv6(entry) else f"{expected}: an IPv6 address with a port goes in brackets, [::1]:5000"
    else:
        host, colon, after = entry.partition(":")
        port = after if colon else None
        if not _HOSTNAME.fullmatch(host):
            return expected
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        return f"{expected}: port {port!r} is not 1-65535"
    return None


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=64)
def _cron(name: str, value: str) -> str | None:
    expression = schedule(value)
    if expression is None:
        return None
    from croniter import croniter  # SAQ's cron library; imported here, as `secapi --help` needs none of this

    if not croniter.is_valid(expression):
        raise SettingsError(
            f"SECAPI_{name.upper()}={expression!r} is not a cron expression (e.g. '17 * * * *': minute hour "
            "day-of-month month day-of-week); empty, 'off', 'none', 'never', 'false' or 'disabled' switch it off"
        )
    return expression


@lru_cache(maxsize=64)
def _location(name: str, value: str, *, directory: bool) -> str:
    """An http(s) URL, a `file://` URL or a path; a directory that exists when `directory`."""
    value = value.strip()
    wanted = f"an http(s) URL, a file:// URL or {'the path of an existing directory' if directory else 'a path'}"
    scheme = urlsplit(value).scheme.lower() if "://" in value else ""
    if scheme in ("http", "https"):
        if not urlsplit(value).hostname:
            raise SettingsError(f"SECAPI_{name.upper()}={value!r} is a URL without a host; it must be {wanted}")
        return value
    if scheme not in ("", "file") or not value:
        raise SettingsError(f"SECAPI_{name.upper()}={value!r} must be {wanted}")
    path = Path(unquote(urlsplit(value).path)) if scheme == "file" else Path(value)
    if directory and not path.is_dir():
        raise SettingsError(
            f"SECAPI_{name.upper()}={value!r}: {path} is not an existing directory; it must be {wanted}"
        )
    return value


@lru_cache(maxsize=64)
def _ecosystems(value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    if not names:
        return ()
    # Imported only when the setting names ecosystems: the domain's types are not free to load.
    from secapi.domain.vulndb_sync_ports import SCANNABLE_ECOSYSTEMS

    for name in names:
        base = name.partition(":")[0]
        if base in SCANNABLE_ECOSYSTEMS and "/" not in name and "\\" not in name:
            continue
        close = [known for known in SCANNABLE_ECOSYSTEMS if known.lower() == base.lower()]
        hint = f" (did you mean {close[0]!r}? names are case-sensitive)" if close else ""
        raise SettingsError(
            f"SECAPI_VULNDB_ECOSYSTEMS: {name!r} is not an OSV ecosystem SecAPI scans{hint}; use "
            f"{', '.join(SCANNABLE_ECOSYSTEMS)}, optionally with a release after ':' (Debian:12)"
        )
    return names
