"""Every shipped rule, built by dbt on the mock data, equals the pandas oracle (tests/oracle.py,
written from docs/rules.md) — same entities, counts, active days, recency, score and rank."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from conftest import MOCK_AS_OF, REPO, read_table, rule_documents
from oracle import entities_with_events, load_mock, punch_list

RULES = rule_documents()


@pytest.fixture(scope="module")
def mock_frames():
    return load_mock(REPO / "seeds")


def assert_same_punch_list(actual: pd.DataFrame, expected: pd.DataFrame, label: str) -> None:
    actual = actual.sort_values("rank").reset_index(drop=True)
    expected = expected.sort_values("rank").reset_index(drop=True)
    assert list(actual.columns) == list(expected.columns), f"{label}: columns differ"
    entity = "account_id" if "account_id" in expected.columns else "user_id"
    assert actual[entity].tolist() == expected[entity].tolist(), f"{label}: entities or order differ"
    for column in expected.columns:
        for i, (a, e) in enumerate(zip(actual[column].tolist(), expected[column].tolist())):
            where = f"{label}: row {i + 1} ({expected[entity][i]}), column {column}"
            if e is None or (isinstance(e, float) and math.isnan(e)) or e is pd.NaT:
                assert a is None or pd.isna(a), f"{where}: expected null, got {a!r}"
            elif column == "score" or isinstance(e, float):
                assert a == pytest.approx(e, rel=1e-9, abs=1e-9), f"{where}: {a!r} != {e!r}"
            elif isinstance(e, pd.Timestamp):
                assert pd.Timestamp(a) == e, f"{where}: {a!r} != {e!r}"
            else:
                assert a == e, f"{where}: {a!r} != {e!r}"


@pytest.mark.parametrize("key", sorted(RULES))
def test_punch_list_matches_oracle(mock_build, mock_frames, key):
    rule = RULES[key]
    expected = punch_list(
        rule,
        mock_frames["events"],
        mock_frames["persons"],
        mock_frames["person_distinct_id"],
        mock_frames["accounts"],
        MOCK_AS_OF,
    )
    actual = read_table(mock_build.duckdb_path, "beton_inspections", f"insp_{key}")
    assert_same_punch_list(actual, expected, key)


@pytest.mark.parametrize("key", sorted(RULES))
def test_every_rule_finds_some_and_rejects_some(mock_build, mock_frames, key):
    rule = RULES[key]
    actual = read_table(mock_build.duckdb_path, "beton_inspections", f"insp_{key}")
    entity = "account_id" if rule["level"] == "account" else "user_id"
    candidates = entities_with_events(
        mock_frames["events"], mock_frames["person_distinct_id"], mock_frames["accounts"], rule["level"], MOCK_AS_OF
    )
    found = set(actual[entity])
    assert found, f"{key} finds nobody on the mock data"
    assert found < candidates, f"{key} lists every {rule['level']} with events: it rejects nobody"


def test_findings_table_unions_every_punch_list(mock_build):
    findings = read_table(mock_build.duckdb_path, "beton_inspections", "insp_findings")
    assert sorted(findings["rule_key"].unique()) == sorted(RULES)
    for key, rule in RULES.items():
        punch = (
            read_table(mock_build.duckdb_path, "beton_inspections", f"insp_{key}")
            .sort_values("rank")
            .reset_index(drop=True)
        )
        entity = "account_id" if rule["level"] == "account" else "user_id"
        rows = findings[findings["rule_key"] == key].sort_values("rank").reset_index(drop=True)
        assert rows["entity_id"].tolist() == punch[entity].tolist()
        assert rows["score"].tolist() == pytest.approx(punch["score"].tolist(), rel=1e-12)
        assert set(rows["level"]) == {rule["level"]}
        assert set(rows["rule_name"]) == {rule["name"]}
        assert (rows["finding_id"] == key + ":" + rows["entity_id"]).all()
        assert (rows["as_of"] == pd.Timestamp(MOCK_AS_OF)).all()
        if rule["level"] == "account":
            assert rows["active_users"].tolist() == punch["active_users"].tolist()
            assert rows["entity_name"].tolist() == punch["name"].tolist()
        else:
            assert rows["active_users"].isna().all()
            assert rows["entity_name"].tolist() == punch["email"].tolist()


def test_marts_summarise_accounts_and_users(mock_build, mock_frames):
    accounts = read_table(mock_build.duckdb_path, "beton_marts", "dim_accounts")
    users = read_table(mock_build.duckdb_path, "beton_marts", "dim_users")
    assert sorted(accounts["account_id"]) == sorted(mock_frames["accounts"]["account_id"])
    assert set(mock_frames["persons"]["id"]) <= set(users["user_id"])
    # 30-day usage, computed independently: the "all events" rule of the oracle over 30 days.
    everything = {"level": "account", "time_window_days": 30, "conditions": {}}
    expected = punch_list(
        everything,
        mock_frames["events"],
        mock_frames["persons"],
        mock_frames["person_distinct_id"],
        mock_frames["accounts"],
        MOCK_AS_OF,
    ).set_index("account_id")
    for row in accounts.itertuples():
        if row.account_id in expected.index:
            assert row.events_30d == expected.loc[row.account_id, "event_count"]
            assert row.active_users_30d == expected.loc[row.account_id, "active_users"]
        else:
            assert row.events_30d == 0
    # rules_matched lists exactly the account rules that list the account.
    for row in accounts.itertuples():
        matched = sorted(
            key
            for key, rule in RULES.items()
            if rule["level"] == "account"
            and row.account_id
            in set(read_table(mock_build.duckdb_path, "beton_inspections", f"insp_{key}")["account_id"])
        )
        assert (row.rules_matched.split(", ") if isinstance(row.rules_matched, str) else []) == matched


V1_PUNCH_LISTS = REPO / "tests" / "punch_lists" / "fixtures" / "v1_punch_lists"


@pytest.mark.parametrize("path", sorted(V1_PUNCH_LISTS.glob("insp_*.csv")), ids=lambda p: p.stem)
def test_format_1_rules_give_the_punch_lists_they_gave_before_format_2(mock_build, path):
    """The 8 rules shipped before rule format 2 (#15) give the rows and scores the v1 build wrote
    (tests/punch_lists/fixtures/v1_punch_lists, from `dbt build` at the commit before): the new
    columns (tier, grade, the breakdown) are added, nothing else changes. The two rules that now
    declare fit (PQA Active Accounts with Multiple Users, PQL Buying Intent) flag the same
    entities with the same metrics, and their behaviour score (score - score_fit) is the v1 score;
    fit re-ranks them."""
    before = pd.read_csv(path, keep_default_na=False, na_values=[""])
    now = read_table(mock_build.duckdb_path, "beton_inspections", path.stem)
    assert [c for c in now.columns if c in set(before.columns)] == list(before.columns)
    assert len(now) == len(before) > 0
    has_fit = now["score_fit"].ne(0).any()
    if has_fit:
        now = now.assign(score=now["score"] - now["score_fit"])
    entity = before.columns[2]  # user_id or account_id, after rank and score
    before = before.sort_values(entity).reset_index(drop=True)
    now = now.sort_values(entity).reset_index(drop=True)
    for column in before.columns:
        if column == "rank" and has_fit:
            continue
        for old, new in zip(before[column].tolist(), now[column].tolist()):
            if pd.isna(old):
                assert pd.isna(new), f"{path.stem}.{column}"
            elif isinstance(old, float):
                assert new == pytest.approx(old, rel=1e-9, abs=1e-9), f"{path.stem}.{column}"
            elif column in ("last_seen", "as_of"):
                assert pd.Timestamp(new) == pd.Timestamp(old), f"{path.stem}.{column}"
            else:
                assert new == old, f"{path.stem}.{column}"


def test_score_breakdown_sums_to_the_score(mock_build):
    """Every punch list's score_* terms, and insp_findings' fixed terms + score_signals + score_fit,
    sum to the score (to 1e-9); tier is null exactly for the rules without tiers, and why is JSON."""
    findings = read_table(mock_build.duckdb_path, "beton_inspections", "insp_findings")
    for key in RULES:
        punch = read_table(mock_build.duckdb_path, "beton_inspections", f"insp_{key}")
        terms = [c for c in punch.columns if c.startswith("score_")]
        assert {"score_event_count", "score_active_days", "score_recency", "score_fit"} <= set(terms)
        total = punch[terms].sum(axis=1)
        assert total.tolist() == pytest.approx(punch["score"].tolist(), rel=1e-9, abs=1e-9), key
        for why in punch["why"]:
            assert set(json.loads(why)) == {"conditions", "signals"}
    parts = ["score_event_count", "score_active_days", "score_recency", "score_signals", "score_fit"]
    assert findings[parts].sum(axis=1).tolist() == pytest.approx(findings["score"].tolist(), rel=1e-9, abs=1e-9)
    tiered = {key for key, doc in RULES.items() if doc.get("tiers")}
    assert tiered and findings.loc[~findings["rule_key"].isin(tiered), "tier"].isna().all()
    signalled = findings[findings["rule_key"] == "pql_buying_signals"]
    assert len(signalled) > 0 and (signalled["score_signals"] > 0).all()
