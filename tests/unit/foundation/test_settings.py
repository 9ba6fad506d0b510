"""Settings come from SECAPI_* variables, typed, with clear errors."""

from __future__ import annotations

import pytest

from secapi.config import DEFAULT_DATABASE_URL, Settings, SettingsError, feed_source


def test_defaults_are_the_embedded_sqlite_and_no_redis() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.database_url.startswith("sqlite+aiosqlite:///./var/")
    assert settings.redis_url is None
    assert settings.is_sqlite


def test_variables_are_read_and_converted() -> None:
    settings = Settings.from_env(
        {
            "SECAPI_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/x",
            "SECAPI_REDIS_URL": "redis://127.0.0.1:6379/0",
            "SECAPI_DB_POOL_SIZE": "25",
            "SECAPI_AUTH_CACHE_TTL": "2.5",
            "SECAPI_DOCS_ENABLED": "off",
            "SECAPI_REQUEST_MAX_BODY_BYTES": "1024",
        }
    )
    assert settings.db_pool_size == 25
    assert settings.auth_cache_ttl == 2.5
    assert settings.docs_enabled is False
    assert settings.request_max_body_bytes == 1024
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert not settings.is_sqlite


def test_empty_variable_means_default() -> None:
    assert Settings.from_env({"SECAPI_REDIS_URL": ""}).redis_url is None


@pytest.mark.parametrize(
    ("name", "value"), [("DB_POOL_SIZE", "ten"), ("AUTH_CACHE_TTL", "x"), ("DOCS_ENABLED", "maybe")]
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"SECAPI_{name}"):
        Settings.from_env({f"SECAPI_{name}": value})


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env({"SECAPI_DB_POOL_SIZE": "3"}, db_pool_size=7)
    assert settings.db_pool_size == 7


@pytest.mark.parametrize("off", ["", "off", "None", " disabled "])
def test_the_exploit_feeds_are_on_by_default_and_an_empty_or_off_value_switches_them_off(off: str) -> None:
    default = Settings.from_env({})
    assert feed_source(default.vulndb_epss_source) == "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
    assert feed_source(default.vulndb_kev_source) == (
        "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
    )
    switched = Settings.from_env({"SECAPI_VULNDB_EPSS_SOURCE": off, "SECAPI_VULNDB_KEV_SOURCE": off})
    assert feed_source(switched.vulndb_epss_source) is None
    assert feed_source(switched.vulndb_kev_source) is None
    assert feed_source(Settings.from_env({"SECAPI_VULNDB_KEV_SOURCE": " /srv/kev.json "}).vulndb_kev_source) == (
        "/srv/kev.json"
    )


def test_a_cluster_takes_its_nodes_url_and_a_single_node_for_the_queue() -> None:
    settings = Settings.from_env(
        {
            "SECAPI_REDIS_URL": "redis://10.0.0.5:7000",
            "SECAPI_REDIS_CLUSTER": "true",
            "SECAPI_QUEUE_REDIS_URL": "redis://10.0.0.9:6379/0",
        }
    )
    assert (settings.redis_cluster, settings.queue_redis_url) == (True, "redis://10.0.0.9:6379/0")
    assert Settings.from_env({"SECAPI_REDIS_URL": "redis://h:6379/0"}).queue_redis_url is None  # the queue shares it


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"SECAPI_REDIS_CLUSTER": "true"}, "SECAPI_REDIS_URL"),
        ({"SECAPI_REDIS_CLUSTER": "true", "SECAPI_REDIS_URL": "redis://h:7000"}, "SECAPI_QUEUE_REDIS_URL"),
        ({"SECAPI_QUEUE_REDIS_URL": "redis://h:6379/0"}, "SECAPI_REDIS_URL"),
    ],
)
def test_a_cluster_without_its_urls_stops_start_up(variables: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(variables)
