"""The `secapi` command: serve, migrate, manage users and keys, run the demo, scan as a CI client."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

import click

from secapi.config import Settings, SettingsError
from secapi.domain.tiers import Tier, parse_tier

# Commands import what they need when they run: `secapi --help` must not pay for the web framework,
# SQLAlchemy, SAQ, Granian and Prometheus (seconds of imports). A test keeps it that way.
if TYPE_CHECKING:
    from dishka import AsyncContainer

    from secapi.domain.services.accounts import AccountService

T = TypeVar("T")


class BadSetting(click.ClickException):
    """A setting SecAPI cannot use: one line naming the variable, exit status 2, before anything starts."""

    exit_code = 2


def _run(settings: Settings, work: Callable[[AsyncContainer], Awaitable[T]]) -> T:
    """Run `work` with a fresh container; domain errors become a clean exit 1."""
    from secapi.domain.errors import DomainError
    from secapi.ioc import make_container

    async def main() -> T:
        container = make_container(settings)
        try:
            return await work(container)
        finally:
            await container.close()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc


async def _accounts(container: AsyncContainer, action: Callable[[AccountService], Awaitable[T]]) -> T:
    from secapi.domain.services.accounts import AccountService

    async with container() as request:
        return await action(await request.get(AccountService))


async def _migrate(container: AsyncContainer) -> None:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from secapi.adapters.sql.migrate import upgrade

    await upgrade(await container.get(AsyncEngine))


def _tier(_ctx: click.Context, _param: click.Parameter, value: str) -> Tier:
    try:
        return parse_tier(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """SecAPI: vulnerability scanning API for container images and lockfiles."""
    logging.basicConfig(level=os.environ.get("SECAPI_LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin on every start
    try:
        ctx.obj = Settings.from_env()
    except SettingsError as exc:
        raise BadSetting(str(exc)) from None  # the message names the variable: no traceback


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (migrate first with `secapi db upgrade`)."""
    from secapi.entrypoints.http.server import AddressInUse, run_server

    try:
        run_server(
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level,
            metrics_enabled=settings.metrics_enabled,
        )
    except AddressInUse as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.pass_obj
def worker(settings: Settings) -> None:
    """Run queued scans from Redis (needs SECAPI_REDIS_URL); run as many as you like."""
    from secapi.entrypoints.worker import run_worker

    run_worker(settings)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Apply all migrations."""
    _run(settings, _migrate)
    click.echo("database is at the latest revision")


@main.group()
def users() -> None:
    """Tenants."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--tier", default="free", show_default=True, callback=_tier)
@click.option("--admin", is_flag=True, help="Allow the admin API.")
@click.option("--json", "as_json", is_flag=True, help='Print {"user_id": ..., "api_key": ...}.')
@click.pass_obj
def users_create(settings: Settings, email: str, tier: Tier, admin: bool, as_json: bool) -> None:
    """Create a user and print their first API key (shown once)."""
    user, issued = _run(
        settings, lambda c: _accounts(c, lambda accounts: accounts.create_user(email, tier, is_admin=admin))
    )
    if as_json:
        click.echo(json.dumps({"user_id": str(user.id), "api_key": issued.secret}))
    else:
        click.echo(f"created {user.email} ({user.tier.value}{', admin' if user.is_admin else ''}) id {user.id}")
        click.echo(f"API key (shown once): {issued.secret}")


@users.command("set-tier")
@click.argument("user")
@click.option("--tier", required=True, callback=_tier)
@click.pass_obj
def users_set_tier(settings: Settings, user: str, tier: Tier) -> None:
    """Change the tier of USER (an id or an email)."""

    async def action(accounts: AccountService) -> str:
        target = await _find_user(accounts, user)
        return (await accounts.set_tier(target, tier)).email

    email = _run(settings, lambda c: _accounts(c, action))
    click.echo(f"{email} is now on the {tier.value} tier")


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.argument("user")
@click.option("--name", default=None, help="A label for the key.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def keys_create(settings: Settings, user: str, name: str | None, as_json: bool) -> None:
    """Issue a new key for USER (an id or an email)."""

    async def action(accounts: AccountService) -> tuple[str, str]:
        issued = await accounts.issue_key(await _find_user(accounts, user), name=name)
        return str(issued.record.id), issued.secret

    key_id, secret = _run(settings, lambda c: _accounts(c, action))
    if as_json:
        click.echo(json.dumps({"key_id": key_id, "api_key": secret}))
    else:
        click.echo(f"key {key_id}\nAPI key (shown once): {secret}")


@keys.command("revoke")
@click.argument("key_id", type=click.UUID)
@click.pass_obj
def keys_revoke(settings: Settings, key_id: UUID) -> None:
    """Revoke the key KEY_ID; requests with it fail within the auth cache TTL."""
    _run(settings, lambda c: _accounts(c, lambda accounts: accounts.revoke_key(key_id)))
    click.echo(f"revoked {key_id}")


@main.group()
def vulndb() -> None:
    """The local vulnerability database (OSV records)."""


@vulndb.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--show-rejected", default=20, show_default=True, help="How many rejected records to list.")
@click.pass_obj
def vulndb_import(settings: Settings, paths: tuple[Path, ...], show_rejected: int) -> None:
    """Import OSV records from data-dump zips (<ECOSYSTEM>/all.zip), directories of .json files, or .json files."""
    from secapi.adapters.osv.reader import SourceError
    from secapi.entrypoints.vulndb import import_paths

    try:
        summary = _run(settings, lambda c: import_paths(c, paths))
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    counts = summary.counts
    click.echo(
        f"read {summary.read}: added {counts.added}, updated {counts.updated}, unchanged {counts.unchanged}, "
        f"withdrawn {counts.withdrawn}, rejected {len(summary.rejected)}"
    )
    for rejection in summary.rejected[:show_rejected]:
        click.echo(f"  rejected {rejection.record_id or '<no id>'} ({rejection.source}): {rejection.reason}")
    if len(summary.rejected) > show_rejected:
        click.echo(f"  ... and {len(summary.rejected) - show_rejected} more")
    if summary.version is not None:
        click.echo(
            f"vulnerability database version {summary.version.version} ({summary.version.advisories} advisories)"
        )


@vulndb.command("sync")
@click.option("--ecosystem", "ecosystems", multiple=True, help="Sync only this ecosystem (repeatable).")
@click.option(
    "--source",
    default=None,
    help="Base URL or directory of the OSV bucket layout [SECAPI_VULNDB_SOURCE]. The EPSS and KEV feeds keep "
    "their own sources [SECAPI_VULNDB_EPSS_SOURCE, SECAPI_VULNDB_KEV_SOURCE; FIRST's and CISA's public files "
    "by default]: point those at your mirror too, or set them to `off`, or pass --no-feeds.",
)
@click.option("--no-feeds", is_flag=True, help="Skip the EPSS and KEV feeds in this run (only OSV's records).")
@click.pass_obj
def vulndb_sync(settings: Settings, ecosystems: tuple[str, ...], source: str | None, no_feeds: bool) -> None:
    """Bring the database up to date from OSV's bucket layout: only what changed since the last sync.

    Then the EPSS and KEV feeds, each downloaded only when it changed. Exits 1 if any ecosystem or feed
    failed (the others are still applied), 0 when another sync is running.
    """
    from dataclasses import replace

    from secapi.entrypoints.vulndb import LogProgress, TerminalProgress, describe, sync

    # `--source` changes the OSV records' source only: a mirror of OSV's bucket need not mirror the feeds,
    # and silently dropping them would leave findings without exploit data.
    if source:
        try:
            settings = replace(settings, vulndb_source=source)
        except SettingsError as exc:
            raise BadSetting(f"--source: {exc}") from None
    if no_feeds:
        settings = replace(settings, vulndb_epss_source="", vulndb_kev_source="")
    progress = TerminalProgress() if sys.stderr.isatty() else LogProgress()
    report = _run(settings, lambda c: sync(c, ecosystems, progress=progress))
    if report.skipped:
        click.echo("another sync is running; this one did nothing")
        return
    if isinstance(progress, LogProgress):  # the terminal printed each line as it finished
        for outcome in report.outcomes:
            click.echo(describe(outcome))
    if report.version is not None:
        click.echo(
            f"vulnerability database version {report.version.version} ({report.version.advisories} advisories), "
            f"{len(report.changed_keys)} packages affected by changes"
        )
    else:
        click.echo("nothing changed")
    if report.failed:
        names = ", ".join(outcome.ecosystem for outcome in report.failed)
        raise click.ClickException(f"{len(report.failed)} failed ({names}); the rest were applied")


@vulndb.command("enrich")
@click.option("--epss", type=click.Path(path_type=Path, dir_okay=False), help="FIRST's epss_scores-*.csv.gz.")
@click.option("--kev", type=click.Path(path_type=Path, dir_okay=False), help="CISA's KEV catalogue JSON.")
@click.pass_obj
def vulndb_enrich(settings: Settings, epss: Path | None, kev: Path | None) -> None:
    """Import EPSS scores and/or the KEV catalogue from files (`vulndb sync` fetches them from the
    SECAPI_VULNDB_EPSS_SOURCE / _KEV_SOURCE settings). A bad file changes nothing and exits 1."""
    from secapi.entrypoints.exploits import enrich_files

    if epss is None and kev is None:
        raise click.UsageError("give --epss FILE, --kev FILE, or both")
    summary = _run(settings, lambda c: enrich_files(c, epss=epss, kev=kev))
    for name, rows in summary.stored.items():
        click.echo(f"{name}: {rows} rows stored")
    if summary.version is not None:
        click.echo(f"vulnerability database version {summary.version} (cached results are recomputed)")
    for name, reason in summary.failed.items():
        click.echo(f"{name}: not imported, stored data kept: {reason}", err=True)
    if summary.failed:
        sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo(host: str, port: int) -> None:
    """Run the API on the embedded default (SQLite, in-memory adapters) with a demo user."""
    from secapi.entrypoints.http.server import AddressInUse, check_address_free

    try:
        check_address_free(host, port)  # before the demo's imports and data: one line, nothing written
        from secapi.entrypoints.demo import run_demo

        run_demo(host, port)
    except AddressInUse as exc:
        raise click.ClickException(str(exc)) from exc


_SCAN_HELP = """Scan PATH or IMAGE on a SecAPI server and exit by what it found (a CI client).

\b
PATH is a lockfile (by its name: package-lock.json, poetry.lock, go.mod,
requirements.txt, ...; a go.mod's go.sum beside it is sent along), an SBOM
(CycloneDX or SPDX, by content or extension), or an image archive (docker
save or OCI layout tar, optionally gzipped). Anything that is not an
existing file is an image reference (nginx:1.24). --type overrides.

\b
The server is SECAPI_URL (default http://127.0.0.1:8000), the key
SECAPI_API_KEY; --url and --api-key override them.

\b
Output: a table of findings (severity, advisory, package, installed, fixed)
on standard output. --format asks the server for json, cyclonedx, spdx,
sarif or html; -o FILE writes it there (the table still goes to standard
output), else it replaces the table (a summary goes to standard error).

\b
Exit status:
  0  no finding at or above --fail-on (the default, never, fails on none)
  1  findings at or above --fail-on; suppressed findings never count
  2  usage or configuration error: bad option, no API key, a key the
     server refuses, a PATH that cannot be read or recognised
  3  the scan failed, the server answered an error (shown as one line) or
     could not be reached, or --timeout passed

\b
--fail-on any counts findings of unknown severity too; low..critical count
that level and above. A 429 is retried after its Retry-After (twice at most).
"""


@main.command(help=_SCAN_HELP)
@click.argument("target", metavar="PATH|IMAGE")
@click.option("--url", default=None, help="The SecAPI server [SECAPI_URL].")
@click.option("--api-key", default=None, help="An API key [SECAPI_API_KEY]; prefer the variable (not in ps).")
@click.option(
    "--fail-on",
    type=click.Choice(["never", "any", "low", "medium", "high", "critical"], case_sensitive=False),
    default="never",
    show_default=True,
    help="Exit 1 when a finding is at or above this severity.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "cyclonedx", "spdx", "sarif", "html"], case_sensitive=False),
    default=None,
    help="Write the result in this format (rendered by the server).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    default=None,
    help="Write the --format document to this file (format implied by .sarif, .cdx.json, .spdx.json, .html, .json).",
)
@click.option("--timeout", type=click.FloatRange(min=1), default=600, show_default=True, help="Seconds, overall.")
@click.option(
    "--type",
    "kind",
    type=click.Choice(["lockfile", "sbom", "archive", "image"]),
    default=None,
    help="Say what PATH|IMAGE is instead of guessing.",
)
@click.option("--platform", default=None, help="Image platform, e.g. linux/arm64 (images and archives).")
@click.option("--image", "archive_image", default=None, help="Which image of a multi-image archive.")
def scan(
    target: str,
    url: str | None,
    api_key: str | None,
    fail_on: str,
    output_format: str | None,
    output: Path | None,
    timeout: float,
    kind: str | None,
    platform: str | None,
    archive_image: str | None,
) -> None:
    from secapi.entrypoints.client import ClientError, run_scan_command

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request (every poll) otherwise
    try:
        code = run_scan_command(
            target,
            url=url,
            api_key=api_key,
            fail_on=fail_on.lower(),
            output_format=None if output_format is None else output_format.lower(),
            output=output,
            timeout=timeout,
            kind=kind,
            platform=platform,
            archive_image=archive_image,
        )
    except ClientError as exc:
        click.echo(f"secapi scan: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("secapi scan: interrupted (a queued scan goes on on the server)", err=True)
        sys.exit(130)
    sys.exit(code)


async def _find_user(accounts: AccountService, ident: str) -> UUID:
    try:
        return (await accounts.get_user(UUID(ident))).id
    except ValueError:
        return (await accounts.find_user_by_email(ident)).id


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
