"""The personal API key (and, with --target clickhouse, the ClickHouse password) never reaches
a log line, an exception, the terminal or a file."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner

from beton_runner.cli import posthog as commands
from posthog_server.dataset import DatasetSpec
from posthog_server.fixture import posthog_server_factory  # noqa: F401
from posthog_server.helpers import FAST, ClickHouseTarget, assert_exact_events
from posthog_server.server import KeyInfo


@pytest.fixture(autouse=True)
def _commands_raise(monkeypatch):
    """These tests assert on the exception a command raises: with BETON_DEBUG the CLI shell
    re-raises it instead of printing its one-line message (tested in tests/cli/test_cli_errors.py)."""
    monkeypatch.setenv("BETON_DEBUG", "1")


SECRET = "phx_SuperSecret_DoNotLeak_9f8e7d6c5b4a"
WRONG_SECRET = "phx_WrongSecret_AlsoPrivate_1a2b3c4d"


def test_the_api_key_appears_nowhere(posthog_server_factory, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request and retry at DEBUG/WARNING
    monkeypatch.setattr(commands, "_settings", lambda: FAST)
    monkeypatch.chdir(tmp_path)
    server = posthog_server_factory(DatasetSpec(events=900), max_rows=200, keys={SECRET: KeyInfo()})
    env = {
        "POSTHOG_PERSONAL_API_KEY": SECRET,
        "POSTHOG_PROJECT_ID": server.project_id,
        "POSTHOG_HOST": server.url,
        "BETON_DUCKDB_PATH": str(tmp_path / "warehouse" / "beton.duckdb"),
    }
    (tmp_path / "warehouse").mkdir()
    seen: list[str] = []

    def invoke(command, args, **extra):
        result = CliRunner().invoke(command, args, env={**env, **extra})
        seen.append(result.output)
        if result.exception is not None:
            exc = result.exception
            seen.append(str(exc))
            seen.append(repr(exc))
            seen.append("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return result

    assert invoke(commands.posthog_group, ["test"]).exit_code == 0

    # a run with retries of every kind, then one that fails for good, then one that finishes
    server.add_fault("status", status=429, retry_after=0, match="query:events", after=1, times=1)
    server.add_fault("drop", match="query:events", after=2, times=1)
    server.add_fault("status", status=503, match="query:events", after=3, times=None)
    failed = invoke(commands.ingest_posthog, [])
    assert failed.exit_code == 1 and "at capacity" in str(failed.exception)
    server.clear_faults()
    assert invoke(commands.ingest_posthog, []).exit_code == 0

    # a wrong key, also secret, in the failure message
    bad = invoke(commands.ingest_posthog, [], POSTHOG_PERSONAL_API_KEY=WRONG_SECRET)
    assert bad.exit_code == 1 and "invalid" in str(bad.exception)

    seen.append(caplog.text)
    seen.extend(record.getMessage() for record in caplog.records)
    assert any("Retrying" in r.getMessage() or "retried" in r.getMessage() for r in caplog.records)
    for text in seen:
        assert SECRET not in text and WRONG_SECRET not in text

    files = [p for p in Path(tmp_path).rglob("*") if p.is_file()]
    assert any(p.name == "beton.duckdb" for p in files)
    for path in files:
        data = path.read_bytes()
        assert SECRET.encode() not in data and WRONG_SECRET.encode() not in data, path
        assert SECRET[4:].encode() not in data, path  # not even without its prefix


@pytest.mark.clickhouse
def test_the_api_key_and_the_clickhouse_password_appear_nowhere(
    posthog_server_factory, clickhouse_server, tmp_path, monkeypatch, caplog
):
    """The same with --target clickhouse and a ClickHouse password: neither secret reaches the
    output, an exception, a log record, or any file the ClickHouse server wrote meanwhile."""
    password = "chpw_SuperSecret_DoNotLeak_31415"
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(commands, "_settings", lambda: FAST)
    monkeypatch.chdir(tmp_path)
    started = time.time()
    server = posthog_server_factory(DatasetSpec(events=900), max_rows=200, keys={SECRET: KeyInfo()})
    target = ClickHouseTarget(clickhouse_server).prepare()
    env = {
        "POSTHOG_PERSONAL_API_KEY": SECRET,
        "POSTHOG_PROJECT_ID": server.project_id,
        "POSTHOG_HOST": server.url,
        "CLICKHOUSE_PASSWORD": password,
        **target.env(),
    }
    seen: list[str] = []

    def invoke(args, **extra):
        result = CliRunner().invoke(commands.ingest_posthog, args, env={**env, **extra})
        seen.append(result.output)
        if result.exception is not None:
            exc = result.exception
            seen.extend([str(exc), repr(exc)])
            seen.append("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return result

    try:
        server.add_fault("drop", match="query:events", after=1, times=1)
        server.add_fault("status", status=503, match="query:events", after=2, times=None)
        failed = invoke(["--target", "clickhouse"])
        assert failed.exit_code == 1 and "at capacity" in str(failed.exception)
        server.clear_faults()
        assert invoke(["--target", "clickhouse"]).exit_code == 0
        assert_exact_events(target, server)

        # a ClickHouse that refuses the connection, and one that fails a statement
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        down = invoke(["--target", "clickhouse"], CLICKHOUSE_PORT=str(closed))
        assert down.exit_code == 1 and "Could not connect to ClickHouse" in str(down.exception)
        bad = invoke(["--target", "clickhouse"], CLICKHOUSE_DATABASE="no-such-db!")
        assert bad.exit_code == 1 and "CLICKHOUSE_DATABASE" in str(bad.exception)
    finally:
        target.cleanup()

    seen.append(caplog.text)
    seen.extend(record.getMessage() for record in caplog.records)
    for text in seen:
        assert SECRET not in text and password not in text

    written = [p for p in Path(tmp_path).rglob("*") if p.is_file()]
    written += [p for p in clickhouse_server.data_dir.rglob("*") if p.is_file() and p.stat().st_mtime >= started - 1]
    assert any(clickhouse_server.data_dir in p.parents for p in written)  # the tables' files
    written.append(clickhouse_server.log_path)
    for path in written:
        data = path.read_bytes()
        for secret in (SECRET, password):
            assert secret.encode() not in data, path
