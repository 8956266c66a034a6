"""`beton pipeline`: ingest -> run -> deliver as one scheduled command, stopping at the first
failure and saying which steps ran."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import yaml

from conftest import REPO
from webhook_receiver.fixture import webhook_receiver, webhook_receiver_session  # noqa: F401


def pipeline(*args: str, env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")}
    return subprocess.run(
        [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(REPO), "pipeline", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=600,
    )


def test_pipeline_runs_then_delivers_what_changed(mock_two_runs, webhook_receiver, tmp_path):  # noqa: F811
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(mock_two_runs, warehouse)
    config = tmp_path / "destinations.yml"
    config.write_text(yaml.safe_dump({"destinations": {"hook": {"kind": "webhook"}}}), encoding="utf-8")
    env = {
        "BETON_DESTINATIONS": str(config),
        "BETON_WEBHOOK_URL": webhook_receiver.url,
        "BETON_TARGET_PATH": str(tmp_path / "target"),
        "BETON_INPUT": "mock",
    }
    result = pipeline("--duckdb", str(warehouse), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "── run" in result.stdout and "── deliver" in result.stdout and "── ingest" not in result.stdout
    assert "pipeline done: run (" in result.stdout and "ingest skipped: POSTHOG_PERSONAL_API_KEY is not set" in (
        result.stdout
    )
    # the re-run at the mock as_of changes nothing in the history; the latest run's changes go out
    changes = webhook_receiver.changes
    assert changes and {c["as_of"] for c in changes} == {"2026-10-01T12:00:00Z"}
    assert {c["change"] for c in changes} == {"entered", "exited"}


def test_pipeline_stops_at_the_first_failure_and_says_what_did_not_run(tmp_path):
    result = pipeline("--duckdb", str(tmp_path / "w.duckdb"), "--ingest", env={})
    assert result.returncode != 0
    assert "pipeline stopped at ingest; not run: run, deliver" in result.stderr
    assert "POSTHOG_PROJECT_ID" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.index("POSTHOG_PROJECT_ID") < result.stderr.index("pipeline stopped")  # the cause first
