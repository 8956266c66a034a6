"""`beton posthog test` and auth failures: each problem is explained in plain words."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from beton_runner.cli import posthog as commands
from beton_runner.errors import ConfigError
from beton_runner.posthog.client import PostHogAccessError, PostHogUnavailableError
from posthog_server.dataset import DatasetSpec
from posthog_server.fixture import posthog_server, posthog_server_factory  # noqa: F401
from posthog_server.helpers import FAST, warehouse
from posthog_server.server import KeyInfo


@pytest.fixture(autouse=True)
def _commands_raise(monkeypatch):
    """These tests assert on the exception a command raises: with BETON_DEBUG the CLI shell
    re-raises it instead of printing its one-line message (tested in tests/cli/test_cli_errors.py)."""
    monkeypatch.setenv("BETON_DEBUG", "1")


KEY = "phx_auth_test_key_0123456789"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(commands, "_settings", lambda: FAST)


def env_for(server, key=KEY, project=None, host=None):
    return {
        "POSTHOG_PERSONAL_API_KEY": key,
        "POSTHOG_PROJECT_ID": project or server.project_id,
        "POSTHOG_HOST": host or server.url,
    }


def run(command, args, env):
    return CliRunner().invoke(command, args, env=env)


@pytest.fixture
def server(posthog_server_factory):
    return posthog_server_factory(DatasetSpec(events=300, days=5), keys={KEY: KeyInfo()})


def test_connection_test_passes_and_says_where_accounts_come_from(server):
    result = run(commands.posthog_group, ["test"], env_for(server))
    assert result.exit_code == 0, result.output
    assert "300 events in the last 7 days" in result.output
    assert "accounts will come from group type 'company'" in result.output
    assert "PostHog is ready" in result.output
    assert "FAILED" not in result.output


def test_bad_key_on_the_us_cloud_hints_at_the_eu_region(server, monkeypatch, tmp_path):
    real = socket.getaddrinfo
    port = server.url.rsplit(":", 1)[1]

    def fake(host, *args, **kw):  # pretend the test server is us.posthog.com
        return real("127.0.0.1" if host == "us.posthog.com" else host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    env = env_for(server, key="phx_key_from_the_eu_cloud", host=f"http://us.posthog.com:{port}")
    result = run(commands.posthog_group, ["test"], env)
    assert result.exit_code == 1
    message = str(result.exception)
    assert "rejected the personal API key as invalid" in message
    assert "EU cloud" in message and "--region eu" in message
    assert "phx_key_from_the_eu_cloud" not in message + result.output

    result = run(commands.ingest_posthog, ["--duckdb", str(tmp_path / "x.duckdb")], env)
    assert isinstance(result.exception, PostHogAccessError) and result.exception.kind == "bad_key"
    assert "--region eu" in str(result.exception)


def test_missing_scopes_are_named(posthog_server_factory, tmp_path):
    server = posthog_server_factory(DatasetSpec(events=50), keys={KEY: KeyInfo(scopes=frozenset({"query:read"}))})
    result = run(commands.posthog_group, ["test"], env_for(server))
    assert result.exit_code == 1
    message = str(result.exception)
    assert "Scope person:read: The personal API key lacks the scope 'person:read'" in message
    assert "Scope group:read: The personal API key lacks the scope 'group:read'" in message
    assert "Scope query:read" not in message  # that one is there

    no_query = posthog_server_factory(
        DatasetSpec(events=50), keys={KEY: KeyInfo(scopes=frozenset({"person:read", "group:read"}))}
    )
    result = run(commands.ingest_posthog, ["--duckdb", str(tmp_path / "b.duckdb")], env_for(no_query))
    assert isinstance(result.exception, PostHogAccessError)
    assert "lacks the scope 'query:read'" in str(result.exception)
    assert warehouse(tmp_path / "b.duckdb", "select count(*) from beton_raw.events") == [(0,)]


def test_group_read_missing_falls_back_to_the_account_property(posthog_server_factory, tmp_path):
    server = posthog_server_factory(
        DatasetSpec(events=200),
        keys={KEY: KeyInfo(scopes=frozenset({"query:read", "person:read"}))},
    )
    result = run(commands.ingest_posthog, ["--duckdb", str(tmp_path / "c.duckdb")], env_for(server))
    assert result.exit_code == 0, result.output
    assert "from the 'company_domain' property" in result.output
    assert warehouse(tmp_path / "c.duckdb", "select count(*) from beton_raw.accounts")[0][0] == 12


def test_wrong_project_id(server, posthog_server_factory):
    result = run(commands.posthog_group, ["test"], env_for(server, project="999"))
    assert result.exit_code == 1
    message = str(result.exception)
    assert "Project: PostHog has no project 999" in message and "POSTHOG_PROJECT_ID" in message

    other = posthog_server_factory(DatasetSpec(events=10), keys={KEY: KeyInfo(projects=frozenset({"1"}))})
    result = run(commands.posthog_group, ["test"], env_for(other))
    assert "has no access to project 4242" in str(result.exception)


def test_unreachable_host(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    env = {
        "POSTHOG_PERSONAL_API_KEY": KEY,
        "POSTHOG_PROJECT_ID": "1",
        "POSTHOG_HOST": f"http://127.0.0.1:{port}",
    }
    result = run(commands.posthog_group, ["test"], env)
    assert isinstance(result.exception, ConfigError)
    assert f"Host: Could not connect to PostHog at http://127.0.0.1:{port}" in str(result.exception)

    result = run(commands.ingest_posthog, ["--duckdb", str(tmp_path / "u.duckdb")], env)
    assert isinstance(result.exception, PostHogUnavailableError) and result.exception.kind == "unreachable"


def test_missing_key_and_wrong_target(server):
    env = env_for(server)
    del env["POSTHOG_PERSONAL_API_KEY"]
    result = run(commands.posthog_group, ["test"], {**env, "POSTHOG_PERSONAL_API_KEY": ""})
    assert isinstance(result.exception, ConfigError) and "POSTHOG_PERSONAL_API_KEY" in str(result.exception)
    # --target names a target of the dbt profile: one it does not have is refused before anything
    # runs, naming the profiles.yml and the targets it has
    result = run(commands.ingest_posthog, ["--target", "snowflake"], env_for(server))
    assert isinstance(result.exception, ConfigError)
    assert "no target 'snowflake'" in str(result.exception) and "duckdb, clickhouse" in str(result.exception)
