"""The `beton` entry point as a user runs it, on each kind of failure: one clean `error:` line,
an exit code, no traceback; and data with rich-markup characters printed as it is."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import yaml

from conftest import REPO, copy_project

BETON = Path(sys.executable).parent / "beton"  # the console script pip installed
ACCOUNT_RULE = "pqa_active_accounts_multiple_users"


def beton(
    *args: str, env: dict | None = None, cwd: Path | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POSTHOG_", "CLICKHOUSE_", "BETON_"))}
    return subprocess.run(
        [str(BETON), *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=timeout,
        cwd=cwd or REPO,
    )


def assert_one_error_line(result: subprocess.CompletedProcess, *expected: str) -> str:
    """Failed with exit 1, and stderr ends in exactly one `error:` line that says ``expected``."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert lines[-1] == errors[0], f"the error is not the last line:\n{result.stderr}"
    for text in expected:
        assert text in errors[0], (text, errors[0])
    return errors[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_console_script_is_the_cli():
    result = beton("--help")
    assert result.returncode == 0 and "punch-list" in result.stdout


def test_missing_posthog_configuration_is_one_line():
    result = beton("posthog", "test")
    assert_one_error_line(result, "POSTHOG_")
    result = beton("ingest", "posthog", env={"POSTHOG_PERSONAL_API_KEY": "phx_test_key_123"})
    assert_one_error_line(result, "POSTHOG_PROJECT_ID")


def test_unreachable_hosts_are_one_line(tmp_path):
    port = closed_port()
    env = {
        "POSTHOG_PERSONAL_API_KEY": "phx_test_key_123",
        "POSTHOG_PROJECT_ID": "1",
        "POSTHOG_HOST": f"http://127.0.0.1:{port}",
    }
    result = beton("ingest", "posthog", "--duckdb", str(tmp_path / "w.duckdb"), env=env)
    line = assert_one_error_line(result, f"127.0.0.1:{port}")
    assert "phx_test_key_123" not in result.stderr + result.stdout + line

    result = beton(
        "punch-list",
        "pql_power_users",
        "--target",
        "clickhouse",
        env={"CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": str(port), "CLICKHOUSE_PASSWORD": "s3cret-pw"},
    )
    assert_one_error_line(result, f"127.0.0.1:{port}")
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "Unexpected Http Driver Exception" not in result.stderr  # the driver's own log lines stay quiet


def test_bad_paths_are_one_line(tmp_path, mock_build):
    result = beton("--project-dir", str(tmp_path / "nowhere"), "rules", "list")
    assert_one_error_line(result, str(tmp_path / "nowhere"), "--project-dir")

    result = beton("punch-list", "pql_power_users", "--duckdb", str(tmp_path / "none.duckdb"))
    assert_one_error_line(result, "none.duckdb", "beton demo")

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = beton(
        "punch-list", "pql_power_users", "--duckdb", str(mock_build.duckdb_path), "--csv", str(blocker / "out.csv")
    )
    assert_one_error_line(result, str(blocker / "out.csv"))


def test_a_held_warehouse_lock_is_one_line(tmp_path, mock_build):
    path = tmp_path / "held.duckdb"
    shutil.copy(mock_build.duckdb_path, path)
    holder = duckdb.connect(str(path))  # a writer (another beton, dbt, or a notebook) holds the file
    try:
        result = beton("punch-list", "pql_power_users", "--duckdb", str(path))
    finally:
        holder.close()
    assert_one_error_line(result, str(path))
    assert beton("punch-list", "pql_power_users", "--duckdb", str(path)).returncode == 0  # released: it works


def test_bracketed_names_are_printed_as_they_are(tmp_path, mock_build):
    path = tmp_path / "names.duckdb"
    shutil.copy(mock_build.duckdb_path, path)
    con = duckdb.connect(str(path))
    try:
        table = f"beton_inspections.insp_{ACCOUNT_RULE}"
        assert con.execute(f"select count(*) from {table}").fetchone()[0] >= 2
        con.execute(f"update {table} set name = 'Acme [EU]' where rank = 1")
        con.execute(f"update {table} set name = 'Closing [/] tag [bold]x' where rank = 2")
    finally:
        con.close()
    result = beton("punch-list", ACCOUNT_RULE, "--duckdb", str(path))
    assert result.returncode == 0, result.stderr
    assert "Acme [EU]" in result.stdout
    assert "Closing [/] tag [bold]x" in result.stdout


def test_bracketed_rule_text_is_printed_as_it_is(tmp_path):
    project = copy_project(tmp_path / "project")
    path = project / "rules" / "pql_power_users.yml"
    document = yaml.safe_load(path.read_text())
    document["name"] = "PQL: [beta] power users [/]"
    document["description"] = "Watch [red]these[/red] users."
    path.write_text(yaml.safe_dump(document, sort_keys=False))

    listed = beton("--project-dir", str(project), "rules", "list")
    assert listed.returncode == 0, listed.stderr
    assert "[beta] power users [/]" in listed.stdout

    shown = beton("--project-dir", str(project), "rules", "show", "pql_power_users")
    assert shown.returncode == 0, shown.stderr
    assert "PQL: [beta] power users [/]" in shown.stdout and "Watch [red]these[/red] users." in shown.stdout
