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
from datetime import timedelta

import pandas as pd
import pytest
from test_posthog_end_to_end import RULE_EVENTS, assert_every_punch_list, ingest_and_run, read_built
from test_posthog_end_to_end import server_frames as posthog_frames

from beton_runner.posthog.accounts import with_group_key
from conftest import rule_documents
from oracle import AccountLink
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
    """The input data model as PostHog holds it, read from the server's dataset (accounts: the
    company groups, their properties by name), with each event's ``$group_1`` set to its
    ``$groups.company``, as PostHog's ingestion writes it."""

    def with_group(text: str) -> str:
        props = json.loads(text)
        company = (props.get("$groups") or {}).get("company")
        if company:
            props["$group_1"] = company
        return json.dumps(props)

    frames = posthog_frames(server)
    frames["events"]["properties"] = frames["events"]["properties"].map(with_group)
    return frames


def test_accounts_from_group_analytics_end_to_end(posthog_server_factory, target, tmp_path):
    server = posthog_server_factory(SPEC, max_rows=2_000)
    frames = server_frames(server)
    # the dataset is what the test is about: opaque keys, links that a domain could not make
    assert set(frames["accounts"]["account_id"]) == {f"org_{i:04d}" for i in range(COMPANIES)}
    grouped = frames["events"]["properties"].map(lambda t: "$group_1" in json.loads(t))
    with_domain = frames["events"]["properties"].map(lambda t: json.loads(t).get("company_domain") is not None)
    assert grouped.sum() > 2 * (grouped & with_domain).sum() > 0
    assert (~grouped).sum() > 0  # anonymous persons' events belong to no company

    output, as_of = ingest_and_run(server, target, tmp_path)
    assert "PostHog group type 'company' (index 1; events link by $group_1)" in output

    # every event is stored with its group key as property $group_1, and only those
    stored = target.query_df(f"select uuid, properties from {target.raw}.events")
    stored_key = dict(zip(stored["uuid"], stored["properties"].map(lambda t: json.loads(t).get("$group_1"))))
    expected_key = dict(
        zip(frames["events"]["uuid"], frames["events"]["properties"].map(lambda t: json.loads(t).get("$group_1")))
    )
    assert stored_key == expected_key

    found = assert_every_punch_list(target, frames, as_of, AccountLink(group_index=1))
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
