"""`beton run` as a user runs it: what a failed node says, what a selection built, and what
SIGTERM (cron, systemd, CI cancellation, `timeout`) leaves behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from conftest import MOCK_AS_OF, REPO, rule_documents
from oracle import load_mock, punch_list

BETON = Path(sys.executable).parent / "beton"


def beton(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BETON), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A DuckDB file with synthetic input tables (beton_raw), nothing built yet."""
    path = tmp_path_factory.mktemp("generated") / "w.duckdb"
    result = beton("generate", "--events", "3000", "--duckdb", str(path))
    assert result.returncode == 0, result.stderr
    return path


def test_a_failed_node_prints_its_real_cause(generated, tmp_path):
    path = tmp_path / "w.duckdb"
    shutil.copy(generated, path)
    result = beton(
        "run",
        "--duckdb",
        str(path),
        "--as-of",
        "2026-10-01 12:00:00",
        "--vars",
        '{"beton_input": "source", "beton_columns": {"events": {"event": "no_such_column"}}}',
        env={"BETON_TARGET_PATH": str(tmp_path / "target")},
    )
    assert result.returncode == 1
    # the first model that reads the events input names it
    assert "stg_posthog__repeated_event_uuids" in result.stderr
    assert 'Referenced column "no_such_column" not found' in result.stderr  # the cause, not only "Runtime Error"
    assert "downstream of it were skipped" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_rule_key_selects_its_punch_list_and_the_run_says_what_it_built(mock_build, tmp_path):
    path = tmp_path / "w.duckdb"
    shutil.copy(mock_build.duckdb_path, path)
    con = duckdb.connect(str(path))
    con.execute("delete from beton_inspections.insp_pql_power_users")
    con.execute("delete from beton_inspections.insp_pql_pricing_intent")
    con.close()

    result = beton(
        "run",
        "--duckdb",
        str(path),
        "-s",
        "pql_power_users",
        "--vars",
        '{"beton_input": "mock"}',
        env={"BETON_TARGET_PATH": str(tmp_path / "target")},
    )
    assert result.returncode == 0, result.stderr
    assert "ok: built 1 punch list(s) on duckdb (insp_pql_power_users): 1 model(s) built" in result.stdout

    frames = load_mock(REPO / "seeds")
    expected = punch_list(
        rule_documents()["pql_power_users"],
        frames["events"],
        frames["persons"],
        frames["person_distinct_id"],
        frames["accounts"],
        MOCK_AS_OF,
    )
    con = duckdb.connect(str(path), read_only=True)
    try:
        rebuilt = con.execute('select user_id from beton_inspections.insp_pql_power_users order by "rank"').fetchall()
        untouched = con.execute("select count(*) from beton_inspections.insp_pql_pricing_intent").fetchone()[0]
    finally:
        con.close()
    assert [r[0] for r in rebuilt] == expected["user_id"].tolist()
    assert untouched == 0  # not selected, not rebuilt


def test_an_empty_selection_fails(mock_build, tmp_path):
    path = tmp_path / "w.duckdb"
    shutil.copy(mock_build.duckdb_path, path)
    result = beton(
        "run",
        "--duckdb",
        str(path),
        "-s",
        "no_such_rule_or_model",
        "--vars",
        '{"beton_input": "mock"}',
        env={"BETON_TARGET_PATH": str(tmp_path / "target")},
    )
    assert result.returncode == 1
    assert "matched no model" in result.stderr and "ok:" not in result.stdout


def _children(pid: int) -> list[int]:
    """Every process whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_dbt_too_and_releases_the_warehouse(generated, tmp_path):
    path = tmp_path / "w.duckdb"
    shutil.copy(generated, path)
    env = {**os.environ, "BETON_TARGET_PATH": str(tmp_path / "target")}
    process = subprocess.Popen(
        [
            str(BETON),
            "run",
            "--duckdb",
            str(path),
            "--as-of",
            "2026-10-01 12:00:00",
            "--vars",
            '{"beton_input": "source"}',
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 120
        dbt = []
        while not dbt and time.monotonic() < deadline and process.poll() is None:
            dbt = [
                pid for pid in _children(process.pid) if b"dbt.cli.main" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ]
            time.sleep(0.1)
        assert dbt, "dbt never started"
        time.sleep(3)  # dbt is connected and building
        assert process.poll() is None, "the build finished before the signal; make the data larger"
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    assert not _alive(dbt[0]), "dbt is still running after beton stopped"
    duckdb.connect(str(path)).close()  # the lock is released: a writer can open the file

    again = beton(
        "run",
        "--duckdb",
        str(path),
        "--as-of",
        "2026-10-01 12:00:00",
        "--vars",
        '{"beton_input": "source"}',
        env={"BETON_TARGET_PATH": str(tmp_path / "target")},
    )
    assert again.returncode == 0, again.stderr
    shipped = len(list((REPO / "rules").glob("*.yml")))
    assert f"ok: built {shipped} punch list(s) on duckdb" in again.stdout
