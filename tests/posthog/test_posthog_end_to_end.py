"""End to end, per destination: `beton ingest posthog` loads the local PostHog server's project,
then `beton run` (a subprocess, as a user runs it) builds every shipped rule's punch list on
that data, and each punch list equals the pandas oracle (tests/oracle.py) computed straight
from the server's own dataset (events linked to the 'company' groups by $group_1, as the
ingest recorded; tests/posthog/test_posthog_groups.py covers opaque group keys)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pandas as pd
from click.testing import CliRunner
from test_punch_lists_mock import assert_same_punch_list

from beton_runner.cli.posthog import ingest_posthog
from conftest import REPO, rule_documents
from oracle import AccountLink, punch_list
from posthog_server.dataset import DatasetSpec
from posthog_server.fixture import BOTH_TARGETS, posthog_server_factory, target  # noqa: F401
from posthog_server.helpers import assert_exact_events

RULES = rule_documents()
# Every event name the shipped rules look for, plus two they ignore.
RULE_EVENTS = tuple(sorted({name for rule in RULES.values() for name in rule["conditions"].get("event_names", [])}))
SPEC = DatasetSpec(
    events=10_000,
    persons=60,
    companies=6,
    days=75,
    event_names=RULE_EVENTS + ("$pageview", "dashboard_viewed"),
    skew=3.0,
    usage_properties=True,
    quiet_companies=1,  # company5.com went quiet: churn risk
)


def server_frames(server) -> dict[str, pd.DataFrame]:
    """The input data model, read from the server's dataset (not from the warehouse)."""
    cur = server.dataset.cursor()

    def frame(sql: str, columns: list[str]) -> pd.DataFrame:
        return pd.DataFrame(cur.execute(sql).fetchall(), columns=columns)

    events = frame(
        "select uuid, event, distinct_id, ts, properties, person_id from srv_events",
        ["uuid", "event", "distinct_id", "timestamp", "properties", "person_id"],
    )
    persons = frame(
        "select id, created_at, properties, is_identified from srv_persons",
        ["id", "created_at", "properties", "is_identified"],
    )
    pdi = frame("select person_id, distinct_id from srv_pdi", ["person_id", "distinct_id"])
    # accounts: the "company" group type (index 1), its properties by name
    rows = []
    for key, props in cur.execute("select group_key, properties from srv_groups where group_index = 1").fetchall():
        p = json.loads(props)
        rows.append([key, p["name"], p["domain"], p["arr"], p["segment"], p["owner_email"], props])
    accounts = pd.DataFrame(
        rows,
        columns=["account_id", "name", "domain", "arr", "segment", "owner_email", "properties"],
    )
    return {"events": events, "persons": persons, "person_distinct_id": pdi, "accounts": accounts}


def read_built(target, layer: str, table: str) -> pd.DataFrame:
    """A table dbt built in ``target``, layer e.g. ``inspections`` or ``marts``."""
    if target.kind == "duckdb":
        return target.query_df(f'select * from "beton_{layer}"."{table}"')
    return target.query_df(f"select * from `{target.prefix}_{layer}`.`{table}`")


def read_inspection(target, table: str) -> pd.DataFrame:
    return read_built(target, "inspections", table)


def ingest_and_run(server, target, tmp_path) -> tuple[str, str]:
    """`beton ingest posthog --days 90` from ``server`` into ``target`` (checked exact), then
    `beton run` on it as a user runs it (a subprocess, no account vars); (ingest output, as_of)."""
    env = {
        "POSTHOG_PERSONAL_API_KEY": server.api_key,
        "POSTHOG_PROJECT_ID": server.project_id,
        "POSTHOG_HOST": server.url,
        **target.env(),
    }
    ingested = CliRunner().invoke(ingest_posthog, ["--days", "90", *target.cli_args()], env=env)
    assert ingested.exit_code == 0, ingested.output
    assert_exact_events(target, server)

    as_of = (server.dataset.end + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    dbt_vars = {"beton_input": "source", "beton_as_of": as_of}
    if target.kind == "clickhouse":
        dbt_vars["beton_source_schema"] = target.raw
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "beton_runner.cli",
            "--project-dir",
            str(REPO),
            "run",
            "--target",
            target.kind,
            "--vars",
            json.dumps(dbt_vars),
        ],
        env={**os.environ, **target.env(), "BETON_TARGET_PATH": str(tmp_path / "dbt-target")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"built {len(RULES)} punch list(s) on {target.kind}" in run.stdout
    return ingested.output, as_of


def assert_every_punch_list(target, frames: dict[str, pd.DataFrame], as_of: str, link: AccountLink) -> dict:
    """Every rule's punch list in ``target`` equals the oracle's on ``frames`` (events linked to
    accounts by ``link``); the ids each one found, by rule key."""
    found = {}
    for key, rule in sorted(RULES.items()):
        expected = punch_list(
            rule,
            frames["events"],
            frames["persons"],
            frames["person_distinct_id"],
            frames["accounts"],
            pd.Timestamp(as_of).to_pydatetime(),
            link,
        )
        actual = read_inspection(target, f"insp_{key}")
        if actual.columns.empty:  # ClickHouse's client answers an empty table without columns
            assert expected.empty, f"{target.kind}: {key}: no rows, expected {len(expected)}"
        else:
            assert_same_punch_list(actual, expected, f"{target.kind}: {key}")
        found[key] = set(expected["account_id" if rule["level"] == "account" else "user_id"])
    return found


@BOTH_TARGETS
def test_ingest_then_beton_run_builds_every_punch_list(posthog_server_factory, target, tmp_path):
    server = posthog_server_factory(SPEC, max_rows=2_500)
    _, as_of = ingest_and_run(server, target, tmp_path)  # accounts: group type 'company'

    found = assert_every_punch_list(target, server_frames(server), as_of, AccountLink(group_index=1))
    # the dataset is made so that most rules find someone
    assert sum(1 for ids in found.values() if ids) >= 6, found
    assert found["churn_risk_previously_active_now_quiet"], found
