"""Accounts from PostHog group analytics, end to end, per destination: a project whose company
group keys are opaque ids (``org_0001`` ..), whose events carry the company only in ``$groups``
(PostHog derives the ``$group_1`` column from it) and mostly no ``company_domain``, and whose
group properties come from ``$groupidentify``. `beton ingest posthog` keeps each event's
``$group_1``; `beton run` (no account vars set) then links events to accounts by it, as the
ingest recorded; every punch list equals the pandas oracle computed from the server's own
dataset, and the accounts carry the group properties as attributes.

On the DuckDB destination only: the ingest keeps the group key the same way for both
destinations (before they see the rows), and test_posthog_end_to_end.py runs the group link
on ClickHouse (its events link by $group_1 too, many of them without company_domain)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pandas as pd
import pytest
from click.testing import CliRunner
from test_posthog_end_to_end import RULE_EVENTS, read_inspection
from test_punch_lists_mock import assert_same_punch_list

from beton_runner.cli.posthog import ingest_posthog
from beton_runner.posthog.accounts import with_group_key
from conftest import REPO, rule_documents
from oracle import AccountLink, punch_list
from posthog_server.dataset import DatasetSpec
from posthog_server.fixture import posthog_server_factory, target  # noqa: F401

RULES = rule_documents()
COMPANIES = 6
SPEC = DatasetSpec(
    events=4_000,
    persons=50,
    companies=COMPANIES,
    days=60,
    event_names=RULE_EVENTS + ("$pageview",),
    skew=3.0,
    usage_properties=True,
    quiet_companies=1,
    opaque_group_keys=True,
)
GROUP_PROPERTIES = ("name", "domain", "arr", "segment", "owner_email")


def server_frames(server) -> dict[str, pd.DataFrame]:
    """The input data model as PostHog holds it, read from the server's dataset: each event's
    ``$group_1`` is its ``$groups.company`` (what PostHog's ingestion writes), the accounts are
    the company groups with their properties by name."""
    cur = server.dataset.cursor()

    def frame(sql: str, columns: list[str]) -> pd.DataFrame:
        return pd.DataFrame(cur.execute(sql).fetchall(), columns=columns)

    def with_group(text: str) -> str:
        props = json.loads(text)
        company = (props.get("$groups") or {}).get("company")
        if company:
            props["$group_1"] = company
        return json.dumps(props)

    events = frame(
        "select uuid, event, distinct_id, ts, properties, person_id from srv_events",
        ["uuid", "event", "distinct_id", "timestamp", "properties", "person_id"],
    )
    events["properties"] = events["properties"].map(with_group)
    persons = frame(
        "select id, created_at, properties, is_identified from srv_persons",
        ["id", "created_at", "properties", "is_identified"],
    )
    pdi = frame("select person_id, distinct_id from srv_pdi", ["person_id", "distinct_id"])
    rows = []
    for key, props in cur.execute("select group_key, properties from srv_groups where group_index = 1").fetchall():
        p = json.loads(props)
        rows.append([key, *(p[name] for name in GROUP_PROPERTIES), props])
    accounts = pd.DataFrame(rows, columns=["account_id", *GROUP_PROPERTIES, "properties"])
    return {"events": events, "persons": persons, "person_distinct_id": pdi, "accounts": accounts}


def read_built(target, layer: str, table: str) -> pd.DataFrame:
    if target.kind == "duckdb":
        return target.query_df(f'select * from "beton_{layer}"."{table}"')
    return target.query_df(f"select * from `{target.prefix}_{layer}`.`{table}`")


def test_accounts_from_group_analytics_end_to_end(posthog_server_factory, target, tmp_path):
    server = posthog_server_factory(SPEC, max_rows=2_000)
    frames = server_frames(server)
    # the dataset is what the test is about: opaque keys, links that a domain could not make
    assert set(frames["accounts"]["account_id"]) == {f"org_{i:04d}" for i in range(COMPANIES)}
    grouped = frames["events"]["properties"].map(lambda t: "$group_1" in json.loads(t))
    with_domain = frames["events"]["properties"].map(lambda t: json.loads(t).get("company_domain") is not None)
    assert grouped.sum() > 2 * (grouped & with_domain).sum() > 0
    assert (~grouped).sum() > 0  # anonymous persons' events belong to no company

    env = {
        "POSTHOG_PERSONAL_API_KEY": server.api_key,
        "POSTHOG_PROJECT_ID": server.project_id,
        "POSTHOG_HOST": server.url,
        **target.env(),
    }
    ingested = CliRunner().invoke(ingest_posthog, ["--days", "90", *target.cli_args()], env=env)
    assert ingested.exit_code == 0, ingested.output
    assert "PostHog group type 'company' (index 1; events link by $group_1)" in ingested.output

    # every event is stored with its group key as property $group_1, and only those
    stored = target.query_df(f"select uuid, properties from {target.raw}.events")
    stored_key = dict(zip(stored["uuid"], stored["properties"].map(lambda t: json.loads(t).get("$group_1"))))
    expected_key = dict(
        zip(frames["events"]["uuid"], frames["events"]["properties"].map(lambda t: json.loads(t).get("$group_1")))
    )
    assert stored_key == expected_key

    as_of = (server.dataset.end + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    dbt_vars = {"beton_input": "source", "beton_as_of": as_of}
    if target.kind == "clickhouse":
        dbt_vars["beton_source_schema"] = target.raw
    run = subprocess.run(
        [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(REPO), "run", "--target", target.kind]
        + ["--vars", json.dumps(dbt_vars)],
        env={**os.environ, **target.env(), "BETON_TARGET_PATH": str(tmp_path / "dbt-target")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    link = AccountLink(group_index=1)
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
    # the account rules find accounts by their opaque ids, and the quiet one as a churn risk
    assert any(found[key] for key, rule in RULES.items() if rule["level"] == "account"), found
    assert f"org_{COMPANIES - 1:04d}" in found["churn_risk_previously_active_now_quiet"], found

    # the accounts carry the group properties ($groupidentify's $group_set) as attributes
    accounts = read_built(target, "marts", "dim_accounts").set_index("account_id").sort_index()
    groups = frames["accounts"].set_index("account_id").sort_index()
    assert list(accounts.index) == list(groups.index)
    for column in GROUP_PROPERTIES:
        assert list(accounts[column]) == list(groups[column]), column
    assert set(accounts["industry"]) == {"Software"}
    # every account's events of the 30 days to as_of (docs/rules.md: the as_of day and the 29
    # before it) are its events by group key, counted independently
    stamps = pd.to_datetime(frames["events"]["timestamp"])
    first_day = pd.Timestamp(as_of).normalize() - timedelta(days=29)
    recent = frames["events"][(stamps >= first_day) & (stamps <= pd.Timestamp(as_of))]
    keys = recent["properties"].map(lambda t: json.loads(t).get("$group_1"))
    assert dict(accounts["events_30d"].astype(int)) == {k: int((keys == k).sum()) for k in groups.index}


@pytest.mark.parametrize(
    "properties, expected",
    [
        ('{"a": 1}', '{"$group_1": "org_7", "a": 1}'),
        ("{}", '{"$group_1": "org_7"}'),
        (" { } ", '{"$group_1": "org_7" } '),
        ('{"$group_1": "org_7", "a": 1}', '{"$group_1": "org_7", "a": 1}'),  # PostHog wrote it already
        ({"a": 1}, {"$group_1": "org_7", "a": 1}),
        (None, '{"$group_1": "org_7"}'),
        ("", '{"$group_1": "org_7"}'),
        ("[1, 2]", "[1, 2]"),  # not an object: left alone (the models read it as no properties)
    ],
)
def test_an_events_group_key_is_kept_as_its_group_property(properties, expected):
    assert with_group_key(properties, "$group_1", "org_7") == expected
    if isinstance(expected, str) and expected.startswith("{"):
        assert json.loads(expected)["$group_1"] == "org_7"
    assert with_group_key(properties, "$group_1", "") == properties  # no group: unchanged
    assert with_group_key(properties, "$group_1", None) == properties
