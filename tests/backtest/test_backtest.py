"""`beton backtest` (issue #15 part 7; docs/backtest.md) on DuckDB: one rule's punch list at past
as_of dates, read from the warehouse one build made (no build per as_of), equals the rule
oracle's punch list at those dates — what a full build at each as_of gives — and the eligible
population, conversions, precision, base rate, lift, recall and lead time equal an independent
pandas computation; the command's table, JSON, CSV and stored rows agree."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta

import pandas as pd
import pytest

from beton_runner.backtest import SENTINEL, as_of_dates, parse_days, run_backtests, template_of
from beton_runner.errors import BetonError, ConfigError
from beton_runner.project import Project
from beton_runner.rules import load_rules
from conftest import REPO, read_table, rule_documents
from oracle import backtest as oracle_backtest
from oracle import load_mock

CONVERSIONS = ["upgraded_plan", "started_checkout", "requested_demo", "contacted_sales", "added_seat"]
WITHIN = 14
# a whole-second instant, one with microseconds, and the as_of of mock_two_runs' first run
AS_OFS = [datetime(2026, 9, 10, 12), datetime(2026, 9, 17, 8, 30, 0, 250000), datetime(2026, 9, 24, 12)]


def expected_row(oracle: pd.DataFrame, as_of: datetime) -> dict:
    """The documented metrics from the oracle's entities, computed here (not by beton_runner)."""
    flagged = oracle["flagged"]
    converted = oracle["converted_at"].notna()
    fc, fn = int((flagged & converted).sum()), int(flagged.sum())
    nc, nn = int((~flagged & converted).sum()), int((~flagged).sum())
    precision = fc / fn if fn else None
    base = nc / nn if nn else None
    leads = sorted(
        (t - pd.Timestamp(as_of)).total_seconds() / 86400 for t in oracle["converted_at"][flagged & converted]
    )
    median = None
    if leads:
        mid = len(leads) // 2
        median = leads[mid] if len(leads) % 2 else (leads[mid - 1] + leads[mid]) / 2
    return {
        "eligible": len(oracle),
        "flagged": fn,
        "flagged_converted": fc,
        "not_flagged": nn,
        "not_flagged_converted": nc,
        "precision": precision,
        "base_rate": base,
        "lift": precision / base if precision is not None and base else None,
        "recall": fc / (fc + nc) if fc + nc else None,
        "median_lead_days": median,
    }


def same(a, b) -> bool:
    if a is None or (isinstance(a, float) and pd.isna(a)):
        return b is None or (isinstance(b, float) and pd.isna(b))
    return b is not None and abs(float(a) - float(b)) < 1e-9


def assert_equals_the_oracle(results: list, as_ofs: list[datetime]) -> None:
    """Each backtest's entities (eligible, flagged, first conversion) and metrics at each as_of
    equal the oracle's on the mock data."""
    documents = rule_documents()
    mock = load_mock(REPO / "seeds")
    for result in results:
        assert result.rows["as_of"].tolist() == as_ofs
        for as_of, row in zip(as_ofs, result.rows.to_dict("records")):
            oracle = oracle_backtest(
                documents[result.rule.key],
                mock["events"],
                mock["persons"],
                mock["person_distinct_id"],
                mock["accounts"],
                as_of,
                CONVERSIONS,
                WITHIN,
            )
            got = result.entities[result.entities["as_of"] == as_of].sort_values("entity_id").reset_index(drop=True)
            where = f"{result.rule.key} at {as_of}"
            assert got["entity_id"].tolist() == oracle["entity_id"].tolist(), where
            assert got["flagged"].tolist() == oracle["flagged"].tolist(), where
            assert [None if pd.isna(v) else pd.Timestamp(v) for v in got["converted_at"]] == [
                None if v is None or pd.isna(v) else pd.Timestamp(v) for v in oracle["converted_at"]
            ], where
            for key, value in expected_row(oracle, as_of).items():
                assert same(row[key], value), (where, key, row[key], value)


def test_every_shipped_rule_at_past_as_of_dates_equals_the_oracle(mock_build):
    """Every shipped rule (user and account level, with and without property filters) at three
    past as_of dates, from the one build at 2026-10-01: who it flagged equals the oracle's punch
    list at that as_of, and every count and ratio equals the pandas computation."""
    rules = load_rules(REPO / "rules")
    results = run_backtests(mock_build, rules, AS_OFS, CONVERSIONS, WITHIN, 7, vars={"beton_input": "mock"})
    assert [r.rule.key for r in results] == [r.key for r in rules]
    assert_equals_the_oracle(results, AS_OFS)
    for result in results:
        for as_of, complete in zip(AS_OFS, result.rows["horizon_complete"]):
            assert complete == (as_of + timedelta(days=WITHIN) <= datetime(2026, 10, 1, 12))
    power = next(r for r in results if r.rule.key == "pql_power_users")
    assert power.total["lift"] > 1  # pooled over the three as_of dates


def test_the_command_prints_the_table_json_and_csv_and_keeps_the_latest_per_rule(mock_build, tmp_path):
    """As a user runs it, on a copy of the build: JSON on stdout equals the CSV file and the
    warehouse table; a second backtest of one rule replaces only that rule's rows; the table
    format prints the pooled line and an honest n/a."""
    db = tmp_path / "backtest.duckdb"
    shutil.copy(mock_build.duckdb_path, db)
    env = {**os.environ, "BETON_INPUT": "mock", "BETON_TARGET_PATH": str(tmp_path / "target")}

    def beton(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "beton_runner.cli",
                "--project-dir",
                str(REPO),
                "backtest",
                *args,
                "--duckdb",
                str(db),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    common = ["--from", "2026-09-08 12:00", "--to", "2026-09-29T12:00Z", "--every", "1w", "--within", "14d"]
    out_csv = tmp_path / "backtest.csv"
    first = beton(
        "pql_power_users", "pql_pricing_intent", *common, "--converted", "upgraded_plan,requested_demo",
        "--converted", "added_seat", "--format", "json", "--output", str(out_csv),
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    rows = json.loads(first.stdout)
    assert [(r["rule_key"], r["as_of"]) for r in rows] == [
        (k, f"2026-09-{d:02d}T12:00:00Z") for k in ("pql_power_users", "pql_pricing_intent") for d in (8, 15, 22, 29)
    ]
    assert {r["conversion_events"] for r in rows} == {"upgraded_plan,requested_demo,added_seat"}
    for r in rows:
        assert r["eligible"] == r["flagged"] + r["not_flagged"]
        if r["lift"] is None:
            assert r["lift_note"].startswith("n/a")
        else:
            assert r["lift_note"] is None
            assert abs(r["lift"] - r["precision"] / r["base_rate"]) < 1e-12
    assert "horizon" in first.stderr and "beton_backtest.backtests" in first.stderr
    with out_csv.open(newline="", encoding="utf-8-sig") as handle:  # a file for spreadsheets: with a BOM
        written = list(csv.DictReader(handle))
    assert [(w["rule_key"], int(w["flagged"]), int(w["flagged_converted"])) for w in written] == [
        (r["rule_key"], r["flagged"], r["flagged_converted"]) for r in rows
    ]
    stored = read_table(db, "beton_backtest", "backtests").sort_values(["rule_key", "as_of"])
    assert sorted(zip(stored["rule_key"], stored["flagged_converted"])) == sorted(
        (r["rule_key"], r["flagged_converted"]) for r in rows
    )

    second = beton("pql_pricing_intent", *common[:4], "--converted", "requested_demo,no_such_event", "--within", "7d")
    assert second.returncode == 0, second.stderr
    assert "no event named 'no_such_event' in the warehouse" in second.stdout  # a likely typo is named
    assert "Backtest: PQL: Buying Intent" in second.stdout and "all (pooled)" in second.stdout
    assert "n/a: none flagged" in second.stdout  # at 2026-09-08 nobody is on the list
    stored = read_table(db, "beton_backtest", "backtests")
    pricing = stored[stored["rule_key"] == "pql_pricing_intent"]
    assert set(pricing["conversion_events"]) == {"requested_demo,no_such_event"} and set(pricing["within_days"]) == {7}
    assert len(stored[stored["rule_key"] == "pql_power_users"]) == 4  # the other rule's backtest is kept


def test_options_are_checked_before_anything_runs():
    assert parse_days("7d", "--every") == 7 and parse_days("2w", "--every") == 14 and parse_days("30", "--within") == 30
    for bad in ("0d", "7 days", "-1d", "3651d"):
        with pytest.raises(ConfigError, match="--every"):
            parse_days(bad, "--every")
    with pytest.raises(ConfigError, match="before --from"):
        as_of_dates(datetime(2026, 9, 2), datetime(2026, 9, 1), 1)
    assert as_of_dates(datetime(2026, 9, 1), datetime(2026, 9, 15), 7) == [
        datetime(2026, 9, 1),
        datetime(2026, 9, 8),
        datetime(2026, 9, 15),
    ]


def test_the_sentinel_literals_move_to_each_as_of_and_an_unknown_form_is_refused():
    sql = (
        f"where d > cast('2101-02-02' as date) and d < cast('{SENTINEL:%Y-%m-%d}' as date)\n"
        f"and t >= cast('{SENTINEL:%Y-%m-%d} 00:00:00' as timestamp) and t <= '2101-03-04 05:06:07.080910'\n"
        "and t <= '2101-03-18 05:06:07.080910' and created > '2026-01-01'"
    )
    moved = template_of(sql).at(datetime(2026, 9, 17, 8, 30))
    assert moved == (
        "where d > cast('2026-08-18' as date) and d < cast('2026-09-17' as date)\n"
        "and t >= cast('2026-09-17 00:00:00' as timestamp) and t <= '2026-09-17 08:30:00'\n"
        "and t <= '2026-10-01 08:30:00' and created > '2026-01-01'"
    )
    with pytest.raises(BetonError, match="cannot move"):
        template_of("where year(t) = 2101")


def test_a_missing_build_is_a_clear_error(tmp_path):
    project = Project(dir=REPO, target="duckdb", duckdb_path=tmp_path / "none.duckdb", target_path=tmp_path / "t")
    rules = [r for r in load_rules(REPO / "rules") if r.key == "pql_power_users"]
    with pytest.raises(BetonError, match="beton run|beton demo"):
        run_backtests(project, rules, AS_OFS[:1], CONVERSIONS, WITHIN, 7)
