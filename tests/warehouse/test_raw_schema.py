"""The raw (input) schema is decided in one place: what `beton generate` writes is what the dbt
source reads, also under a non-default CLICKHOUSE_DATABASE (before, generate wrote `x_raw`
while the source read `beton_raw`)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import clickhouse_connect
import pandas as pd
import pytest

from beton_runner.project import Project, raw_schema
from conftest import REPO

AS_OF = "2026-10-01 12:00:00"
EVENTS = 4_000


def beton(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(REPO), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC", **env},
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_raw_schema_follows_the_schema_prefix(monkeypatch):
    monkeypatch.delenv("BETON_SCHEMA", raising=False)
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    assert raw_schema("beton") == "beton_raw"
    assert Project.locate(REPO).raw_schema == "beton_raw"
    monkeypatch.setenv("CLICKHOUSE_DATABASE", "x")  # the shipped profile's clickhouse schema
    assert Project.locate(REPO, "clickhouse").raw_schema == "x_raw"
    project = Project(dir=REPO, target="clickhouse", schema="acme")
    assert project.raw_schema == "acme_raw" and project.dbt_env()["BETON_RAW_SCHEMA"] == "acme_raw"


@pytest.mark.clickhouse
def test_generate_then_run_on_clickhouse_reads_what_generate_wrote(clickhouse_server, tmp_path):
    prefix = f"rawx_{uuid.uuid4().hex[:8]}"
    ch = {
        "CLICKHOUSE_HOST": clickhouse_server.host,
        "CLICKHOUSE_PORT": str(clickhouse_server.port),
        "CLICKHOUSE_DATABASE": prefix,
        "BETON_TARGET_PATH": str(tmp_path / "ch-target"),
    }
    duck = {"BETON_DUCKDB_PATH": str(tmp_path / "w.duckdb"), "BETON_TARGET_PATH": str(tmp_path / "duck-target")}
    generate = ["generate", "--events", str(EVENTS), "--days", "30"]
    assert f"events: {EVENTS:,}" in beton([*generate, "--target", "clickhouse"], ch).stdout
    beton(generate, duck)
    run = ["run", "--as-of", AS_OF]
    beton([*run, "--target", "clickhouse"], {**ch, "BETON_INPUT": "source"})
    beton(run, {**duck, "BETON_INPUT": "source"})

    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port, compress=False)
    try:
        raw_events = client.command(f"select count() from `{prefix}_raw`.events")
        staged = client.command(f"select count() from `{prefix}_staging`.stg_posthog__events")
        on_clickhouse = client.query_df(
            f"select rule_key, count() as findings from `{prefix}_inspections`.insp_findings "
            "group by rule_key order by rule_key"
        )
    finally:
        client.close()
    assert raw_events == EVENTS and staged == EVENTS  # dbt read exactly the generated events

    import duckdb

    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        on_duckdb = con.execute(
            "select rule_key, count(*) as findings from beton_inspections.insp_findings "
            "group by rule_key order by rule_key"
        ).df()
    finally:
        con.close()
    assert on_duckdb["findings"].sum() > 0

    def per_rule(frame: pd.DataFrame) -> list[tuple[str, int]]:
        return [(str(key), int(n)) for key, n in zip(frame["rule_key"], frame["findings"])]

    assert per_rule(on_clickhouse) == per_rule(on_duckdb)
