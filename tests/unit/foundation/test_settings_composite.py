"""Composite settings (JSON, host lists, cron, sources, ecosystems) are parsed once, when `Settings` is built:
a bad value fails there with a message naming its variable, and the parsed values are typed properties."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from secapi.config import Settings, SettingsError
from secapi.domain.services.vulndb_sync import SCANNABLE_ECOSYSTEMS


def test_the_parsed_values_are_properties_of_the_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "SECAPI_REGISTRY_CREDENTIALS": '{"GHCR.io": {"username": "bot", "password": "s3cret"}}',
            "SECAPI_REGISTRY_ALLOWLIST": " 127.0.0.1:5000, Registry.Local ,,[::1]:5001",
            "SECAPI_REGISTRY_INSECURE": "127.0.0.1:5000",
            "SECAPI_WEBHOOK_ALLOWLIST": "hooks.internal:8443,::1",
            "SECAPI_CACHE_WARM_CRON": " */5 * * * * ",
            "SECAPI_VULNDB_SYNC_CRON": "off",
            "SECAPI_VULNDB_SOURCE": f"file://{tmp_path}",
            "SECAPI_VULNDB_ECOSYSTEMS": " PyPI , Debian:12,,PyPI ",
            "SECAPI_VULNDB_EPSS_SOURCE": "/srv/feeds/epss.csv.gz",
            "SECAPI_VULNDB_KEV_SOURCE": "none",
        }
    )
    assert settings.registry_credential_map == {"ghcr.io": ("bot", "s3cret")}
    assert settings.registry_allowlist_hosts == {"127.0.0.1:5000", "registry.local", "[::1]:5001"}
    assert settings.registry_insecure_hosts == {"127.0.0.1:5000"}
    assert settings.webhook_allowlist_hosts == {"hooks.internal:8443", "::1"}
    assert settings.cache_warm_schedule == "*/5 * * * *"
    assert settings.vulndb_sync_schedule is None
    assert settings.vulndb_source_location == f"file://{tmp_path}"
    assert settings.vulndb_ecosystem_names == ("PyPI", "Debian:12")
    assert settings.vulndb_epss_location == "/srv/feeds/epss.csv.gz"
    assert settings.vulndb_kev_location is None


def test_the_defaults_parse() -> None:
    settings = Settings.from_env({})
    assert settings.registry_credential_map == {}
    assert settings.registry_allowlist_hosts == frozenset()
    assert settings.cache_warm_schedule == "17 * * * *"
    assert settings.vulndb_sync_schedule == "41 */6 * * *"
    assert settings.vulndb_source_location == "https://osv-vulnerabilities.storage.googleapis.com"
    assert settings.vulndb_ecosystem_names == ()
    assert settings.vulndb_kev_location == (
        "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"ghcr.io": {"username": "bot", "password": "hunter2"', "SECAPI_REGISTRY_CREDENTIALS is not valid JSON"),
        ('["ghcr.io", "hunter2"]', "SECAPI_REGISTRY_CREDENTIALS must be JSON like .* not a JSON list"),
        ('{"ghcr.io": {"username": "hunter2"}}', "SECAPI_REGISTRY_CREDENTIALS: 'ghcr.io' needs"),
        ('{"ghcr.io": {"username": "bot", "password": 7}}', "SECAPI_REGISTRY_CREDENTIALS: 'ghcr.io' needs"),
        ('{"ghcr.io": "bot:hunter2"}', "SECAPI_REGISTRY_CREDENTIALS: 'ghcr.io' needs"),
        ('{"https://ghcr.io": {"username": "u", "password": "hunter2"}}', "key 'https://ghcr.io' .*not a URL"),
    ],
)
def test_bad_registry_credentials_stop_at_once_without_echoing_secrets(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        Settings.from_env({"SECAPI_REGISTRY_CREDENTIALS": value})
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("variable", ["REGISTRY_ALLOWLIST", "WEBHOOK_ALLOWLIST", "REGISTRY_INSECURE"])
@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("registry:abc", "port 'abc' is not 1-65535"),
        ("registry:0", "port '0' is not 1-65535"),
        ("registry:65536", "port '65536' is not 1-65535"),
        ("registry:", "port '' is not 1-65535"),
        ("http://registry:5000", "not a URL"),
        ("registry:5000/v2", "not a URL"),
        ("fe80::1:5000:", "IPv6 address with a port goes in brackets"),
        ("[::1", "brackets hold an IPv6 address"),
        ("[registry]:5000", "brackets hold an IPv6 address"),
        ("reg istry", "is not host"),
        ("-registry", "is not host"),
    ],
)
def test_a_bad_host_list_entry_names_the_variable_and_the_entry(variable: str, entry: str, why: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({f"SECAPI_{variable}": f"127.0.0.1:5000,{entry}"})
    assert str(raised.value).startswith(f"SECAPI_{variable}: {entry.strip().lower()!r} is not host[:port]")
    assert why in str(raised.value)


@pytest.mark.parametrize("variable", ["CACHE_WARM_CRON", "VULNDB_SYNC_CRON"])
@pytest.mark.parametrize("expression", ["61 * * * *", "* * *", "every hour", "17 * * * mon-funday"])
def test_a_bad_cron_expression_names_the_variable(variable: str, expression: str) -> None:
    with pytest.raises(SettingsError, match=f"SECAPI_{variable}=.* is not a cron expression"):
        Settings.from_env({f"SECAPI_{variable}": expression})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("gs://osv-vulnerabilities", "must be an http\\(s\\) URL, a file:// URL or the path of an existing directory"),
        ("https://", "is a URL without a host"),
        ("/no/such/osv/mirror", "/no/such/osv/mirror is not an existing directory"),
        ("file:///no/such/osv/mirror", "/no/such/osv/mirror is not an existing directory"),
    ],
)
def test_a_bad_vulndb_source_names_the_variable(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"SECAPI_VULNDB_SOURCE='{value}'.*{message}"):
        Settings.from_env({"SECAPI_VULNDB_SOURCE": value})


def test_a_vulndb_source_that_is_a_file_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    archive.write_bytes(b"")
    with pytest.raises(SettingsError, match="is not an existing directory"):
        Settings.from_env({"SECAPI_VULNDB_SOURCE": str(archive)})
    assert Settings.from_env({"SECAPI_VULNDB_SOURCE": str(tmp_path)}).vulndb_source_location == str(tmp_path)


@pytest.mark.parametrize("variable", ["VULNDB_EPSS_SOURCE", "VULNDB_KEV_SOURCE"])
def test_a_feed_source_with_another_scheme_names_the_variable(variable: str) -> None:
    with pytest.raises(SettingsError, match=f"SECAPI_{variable}='ftp://mirror/feed' must be an http"):
        Settings.from_env({f"SECAPI_{variable}": "ftp://mirror/feed"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("pypi", "'pypi' is not an OSV ecosystem SecAPI scans \\(did you mean 'PyPI'"),
        ("PyPI,GIT", "'GIT' is not an OSV ecosystem SecAPI scans; use PyPI"),
        ("Debian/../PyPI", "'Debian/../PyPI' is not an OSV ecosystem"),
    ],
)
def test_an_ecosystem_secapi_cannot_scan_names_the_variable(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"SECAPI_VULNDB_ECOSYSTEMS: {message}"):
        Settings.from_env({"SECAPI_VULNDB_ECOSYSTEMS": value})


def test_every_scannable_ecosystem_and_a_release_of_one_are_accepted() -> None:
    value = ",".join([*SCANNABLE_ECOSYSTEMS, "Debian:12", "Ubuntu:Pro:22.04:LTS"])
    assert len(Settings.from_env({"SECAPI_VULNDB_ECOSYSTEMS": value}).vulndb_ecosystem_names) == 29


def test_a_copy_with_a_changed_value_is_checked_too() -> None:
    settings = Settings.from_env({})
    with pytest.raises(SettingsError, match="SECAPI_WEBHOOK_ALLOWLIST"):
        dataclasses.replace(settings, webhook_allowlist="hooks:99999")
    assert dataclasses.replace(settings, webhook_allowlist="hooks:443").webhook_allowlist_hosts == {"hooks:443"}


def test_the_instance_holds_only_its_fields_so_copies_can_be_built_from_it() -> None:
    settings = Settings.from_env({"SECAPI_WEBHOOK_ALLOWLIST": "hooks:443"})
    assert settings.webhook_allowlist_hosts == {"hooks:443"}
    assert set(settings.__dict__) == {field.name for field in dataclasses.fields(Settings)}
    assert Settings.from_env({}, **settings.__dict__) == settings
