"""`beton deliver` end to end, as a user runs it: the mock data built at two as_of instants,
destinations.yml naming the four stand-ins (webhook receiver, Slack, HubSpot, Salesforce) on
real sockets, faults injected, a run killed mid-delivery. Each destination receives exactly the
changes of the latest run — derived here from the oracle's punch lists, not from the code under
test — once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from test_history import T1, T2, oracle_changes

from conftest import REPO
from hubspot_server.fixture import hubspot_server, hubspot_server_session  # noqa: F401
from hubspot_server.server import Fault as HubSpotFault
from salesforce_server.fixture import salesforce_server, salesforce_server_session  # noqa: F401
from salesforce_server.server import Fault as SalesforceFault
from slack_server.fixture import slack_server, slack_server_session  # noqa: F401
from slack_server.server import Fault as SlackFault
from webhook_receiver.fixture import webhook_receiver, webhook_receiver_session  # noqa: F401
from webhook_receiver.server import Fault as WebhookFault

SECRET = "whsec-s3cret-value-123"


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    """The changes at T2 against T1, from the oracle."""
    changes = oracle_changes([T1, T2])
    return changes[changes["as_of"] == pd.Timestamp(T2)].reset_index(drop=True)


@pytest.fixture
def warehouse(mock_two_runs, tmp_path) -> Path:
    path = tmp_path / "w.duckdb"
    shutil.copy(mock_two_runs, path)
    return path


@pytest.fixture
def stands(webhook_receiver, slack_server, hubspot_server, salesforce_server, tmp_path):  # noqa: F811
    webhook_receiver.secret = SECRET
    slack_server.rate_window = 0.05
    config = {
        "destinations": {
            "hook": {"kind": "webhook", "batch_size": 2, "http": {"budget": 20}},
            "slack": {"kind": "slack", "send_interval": 0.05, "changes": ["entered", "exited"]},
            "hubspot": {
                "kind": "hubspot",
                "base_url": hubspot_server.url,
                "rate_limit": {"requests": 100, "per_seconds": 10},
            },
            "salesforce": {"kind": "salesforce"},
        }
    }
    path = tmp_path / "destinations.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {
        "BETON_DESTINATIONS": str(path),
        "BETON_WEBHOOK_URL": webhook_receiver.url,
        "BETON_WEBHOOK_SECRET": SECRET,
        "BETON_SLACK_WEBHOOK_URL": slack_server.webhook_url,
        "BETON_HUBSPOT_TOKEN": hubspot_server.token,
        "SALESFORCE_INSTANCE_URL": salesforce_server.url,
        "SALESFORCE_ACCESS_TOKEN": salesforce_server.token,
    }
    return {
        "env": env,
        "config": path,
        "hook": webhook_receiver,
        "slack": slack_server,
        "hubspot": hubspot_server,
        "salesforce": salesforce_server,
    }


def beton_command(warehouse: Path, env: dict, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "beton_runner.cli",
        "--project-dir",
        str(REPO),
        "deliver",
        "--duckdb",
        str(warehouse),
        *args,
    ]


def deliver(warehouse: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        beton_command(warehouse, env, *args),
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


def mock_accounts() -> pd.DataFrame:
    return pd.read_csv(REPO / "seeds" / "mock" / "beton_mock_accounts.csv", dtype=str).set_index("account_id")


def mock_emails() -> dict[str, str]:
    import json

    persons = pd.read_csv(REPO / "seeds" / "mock" / "beton_mock_persons.csv", dtype=str)
    return {p: json.loads(props).get("email") for p, props in zip(persons["id"], persons["properties"])}


def sent_ids(stands) -> list[str]:
    return [c["change_id"] for c in stands["hook"].changes]


def test_dry_run_shows_what_would_be_sent_and_sends_nothing(warehouse, stands, expected):
    result = deliver(warehouse, stands["env"], "--dry-run")
    assert result.returncode == 0, result.stderr
    moving = expected[expected["change"] != "stayed"]
    row = next(line for line in result.stdout.splitlines() if "│ hook" in line)
    assert f"│ {len(moving)} " in row.replace("  ", " ") or str(len(moving)) in row
    assert stands["hook"].requests == [] and stands["slack"].requests == []
    assert stands["hubspot"].upserts() == [] and stands["salesforce"].upserts() == []
    con = duckdb.connect(str(warehouse), read_only=True)
    assert (
        con.execute("select count(*) from information_schema.tables where table_schema = 'beton_delivery'").fetchone()[
            0
        ]
        == 0
    )


def test_every_destination_gets_the_latest_runs_changes_once_through_faults(warehouse, stands, expected):
    stands["hook"].faults = [WebhookFault("status", 503), WebhookFault("status", 429, retry_after=1)]
    stands["slack"].faults = [SlackFault.rate_limited(1)]
    stands["hubspot"].fail(HubSpotFault("status", 500))
    stands["salesforce"].fail(SalesforceFault("status", 503))
    result = deliver(warehouse, stands["env"])
    assert result.returncode == 0, result.stdout + result.stderr

    moving = expected[expected["change"] != "stayed"]
    # the webhook: exactly the entered and exited changes of the latest run, each once
    got = sorted(sent_ids(stands))
    assert len(got) == len(set(got))
    assert {(c["rule_key"], c["entity_id"], c["change"]) for c in stands["hook"].changes} == set(
        zip(moving["rule_key"], moving["entity_id"], moving["change"])
    )
    for c in stands["hook"].changes:
        want = moving[(moving["rule_key"] == c["rule_key"]) & (moving["entity_id"] == c["entity_id"])].iloc[0]
        if c["change"] == "entered":
            assert c["score"] == pytest.approx(want["score"], rel=1e-9) and c["rank"] == want["rank"]
        else:
            assert c["previous_score"] == pytest.approx(want["previous_score"], rel=1e-9)

    # Slack: every entity that entered or exited is named in the messages of its rule
    text = "\n".join(str(m) for m in stands["slack"].messages)
    emails, accounts = mock_emails(), mock_accounts()
    for r in moving.itertuples():
        who = accounts.loc[r.entity_id, "name"] if r.entity_id in accounts.index else emails.get(r.entity_id)
        if who:
            assert who.replace("&", "&amp;") in text, who

    # HubSpot and Salesforce: one record per account (by domain) and per person (by email) whose
    # state is the latest run's: the rules it is on now
    on_now = expected[expected["change"] != "exited"]
    for r in moving.itertuples():
        rules_now = sorted(on_now[on_now["entity_id"] == r.entity_id]["rule_key"])
        if r.entity_id in accounts.index:
            domain = accounts.loc[r.entity_id, "domain"]
            company = stands["hubspot"].record("companies", domain)
            account = stands["salesforce"].record("Account", "Beton_Domain__c", domain)
            assert company is not None and account is not None, domain
            assert sorted(filter(None, (company.get("beton_rules") or "").split(";"))) == rules_now
            assert sorted(filter(None, (account.get("Beton_Rules__c") or "").split(";"))) == rules_now
        elif emails.get(r.entity_id):
            contact = stands["hubspot"].record("contacts", emails[r.entity_id])
            lead = stands["salesforce"].record("Lead", "Email", emails[r.entity_id])
            assert contact is not None and lead is not None
            assert sorted(filter(None, (contact.get("beton_rules") or "").split(";"))) == rules_now

    # a second deliver sends nothing: everything is recorded as delivered
    before = (len(stands["hook"].requests), len(stands["slack"].requests), len(stands["hubspot"].upserts()))
    again = deliver(warehouse, stands["env"])
    assert again.returncode == 0, again.stderr
    assert (len(stands["hook"].requests), len(stands["slack"].requests), len(stands["hubspot"].upserts())) == before
    out = result.stdout + result.stderr + again.stdout + again.stderr
    for secret in (SECRET, stands["hubspot"].token, stands["salesforce"].token, stands["slack"].webhook_url):
        assert secret not in out


def test_a_destination_that_stays_down_does_not_block_the_others_and_catches_up_later(warehouse, stands, expected):
    config = yaml.safe_load(stands["config"].read_text())
    config["destinations"]["hook"]["http"] = {"budget": 2, "retries": 2}
    stands["config"].write_text(yaml.safe_dump(config))
    stands["hook"].down = 503
    result = deliver(warehouse, stands["env"])
    assert result.returncode == 1
    assert "hook (will retry)" in result.stderr and "Traceback" not in result.stderr
    assert stands["slack"].messages and stands["hubspot"].upserts() and stands["salesforce"].upserts()
    assert stands["hook"].batches == []
    stands["hook"].down = None
    slack_before = len(stands["slack"].messages)
    result = deliver(warehouse, stands["env"])
    assert result.returncode == 0, result.stderr
    moving = expected[expected["change"] != "stayed"]
    assert sorted(sent_ids(stands)) == sorted(set(sent_ids(stands))) and len(sent_ids(stands)) == len(moving)
    assert len(stands["slack"].messages) == slack_before


def test_a_run_killed_mid_delivery_resumes_without_loss_or_duplicates(warehouse, stands, expected):
    """The receiver takes the second batch and never answers; the sender is killed (SIGKILL)
    while it waits. The next `beton deliver` sends that batch again with the same idempotency
    key (the receiver drops the repeat) and then the rest: every change once."""
    config = yaml.safe_load(stands["config"].read_text())
    config["destinations"] = {"hook": config["destinations"]["hook"]}
    stands["config"].write_text(yaml.safe_dump(config))
    receiver = stands["hook"]
    receiver.faults = [WebhookFault("status", 200) for _ in range(0)] + []
    # the first batch goes through, the second is taken and left unanswered
    receiver.faults = []
    process = subprocess.Popen(
        beton_command(warehouse, stands["env"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **stands["env"]},
    )
    try:
        deadline = time.monotonic() + 120
        while len(receiver.batches) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        receiver.faults = [WebhookFault("accept_hang", delay=60)]
        while len(receiver.batches) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(receiver.batches) >= 2
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    receiver.faults = []
    receiver._cancel.set()
    result = deliver(warehouse, stands["env"])
    assert result.returncode == 0, result.stderr
    moving = expected[expected["change"] != "stayed"]
    ids = sent_ids(stands)
    assert len(ids) == len(set(ids)) == len(moving)  # no loss, no duplicate accepted
    assert receiver.duplicates >= 1  # the unanswered batch came again and was recognised


def test_a_run_killed_while_hubspot_holds_a_batch_resumes_to_the_same_records(warehouse, stands, expected):
    """HubSpot takes the first upsert and answers late; the sender is killed meanwhile. HubSpot
    applies it anyway; the next run upserts the same state again: one record per entity, with the
    latest run's values (an upsert repeated is the same upsert)."""
    config = yaml.safe_load(stands["config"].read_text())
    config["destinations"] = {"hubspot": config["destinations"]["hubspot"]}
    stands["config"].write_text(yaml.safe_dump(config))
    hubspot = stands["hubspot"]
    hubspot.fail(HubSpotFault("hang", delay=2.0))
    process = subprocess.Popen(
        beton_command(warehouse, stands["env"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **stands["env"]},
    )
    try:
        deadline = time.monotonic() + 120
        while not hubspot.upserts() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert hubspot.upserts()
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    time.sleep(2.5)  # HubSpot finishes the request the sender no longer waits for
    result = deliver(warehouse, stands["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    accounts, emails = mock_accounts(), mock_emails()
    moving = expected[expected["change"] != "stayed"]
    on_now = expected[expected["change"] != "exited"]
    companies = hubspot.all_records("companies")
    assert len({c["beton_domain"] for c in companies}) == len(companies)  # one record per domain
    for r in moving.itertuples():
        if r.entity_id in accounts.index:
            company = hubspot.record("companies", accounts.loc[r.entity_id, "domain"])
            rules_now = sorted(on_now[on_now["entity_id"] == r.entity_id]["rule_key"])
            assert sorted(filter(None, (company.get("beton_rules") or "").split(";"))) == rules_now
        elif emails.get(r.entity_id):
            assert hubspot.record("contacts", emails[r.entity_id]) is not None
