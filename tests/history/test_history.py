"""The findings history and its changes (insp_rule_runs, insp_finding_history,
insp_finding_changes), built by `beton run` at several as_of instants on the mock data, equal
changes derived independently from the oracle's punch lists (tests/oracle.py) at those instants:
entered / exited / stayed, scores and ranks then and now, when each stay began and how long it
lasted. Runs out of as_of order, a re-run at the same as_of and `--full-refresh` keep the history
right; the same runs on the ClickHouse engine give the same changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from conftest import MOCK_AS_OF, REPO, read_table, rule_documents
from oracle import load_mock, punch_list

T1 = datetime(2026, 9, 24, 12, 0, 0)
T2 = MOCK_AS_OF  # 2026-10-01 12:00
T3 = datetime(2026, 11, 15, 12, 0, 0)  # past the mock data: every list is empty, every stay ends
RULES = rule_documents()


def beton(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(REPO), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=900,
    )


def oracle_changes(instants: list[datetime]) -> pd.DataFrame:
    """Changes between consecutive instants (sorted), from the oracle's punch lists alone."""
    frames = load_mock(REPO / "seeds")
    rows = []
    for key, rule in RULES.items():
        entity = "user_id" if rule["level"] == "user" else "account_id"
        before: dict[str, dict] = {}
        stay_began: dict[str, datetime] = {}
        previous_instant = None
        for instant in sorted(instants):
            now_list = punch_list(
                rule,
                frames["events"],
                frames["persons"],
                frames["person_distinct_id"],
                frames["accounts"],
                instant,
            )
            now = {str(r[entity]): r for r in now_list.to_dict("records")}
            for eid, r in now.items():
                if eid not in before:
                    stay_began[eid] = instant
                b = before.get(eid)
                rows.append(
                    {
                        "as_of": instant,
                        "previous_as_of": previous_instant,
                        "rule_key": key,
                        "entity_id": eid,
                        "change": "stayed" if b else "entered",
                        "score": float(r["score"]),
                        "previous_score": float(b["score"]) if b else None,
                        "rank": int(r["rank"]),
                        "previous_rank": int(b["rank"]) if b else None,
                        "first_entered_at": stay_began[eid],
                        "days_on_list": (instant.date() - stay_began[eid].date()).days,
                    }
                )
            for eid, b in before.items():
                if eid not in now:
                    rows.append(
                        {
                            "as_of": instant,
                            "previous_as_of": previous_instant,
                            "rule_key": key,
                            "entity_id": eid,
                            "change": "exited",
                            "score": None,
                            "previous_score": float(b["score"]),
                            "rank": None,
                            "previous_rank": int(b["rank"]),
                            "first_entered_at": stay_began[eid],
                            "days_on_list": (previous_instant.date() - stay_began[eid].date()).days,
                        }
                    )
            before, previous_instant = now, instant
    return pd.DataFrame(rows)


def assert_same_changes(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    key = ["as_of", "rule_key", "entity_id"]
    actual = actual.sort_values(key).reset_index(drop=True)
    expected = expected.sort_values(key).reset_index(drop=True)
    got = [(pd.Timestamp(a), r, e, c) for a, r, e, c in actual[key + ["change"]].itertuples(index=False)]
    want = [(pd.Timestamp(a), r, e, c) for a, r, e, c in expected[key + ["change"]].itertuples(index=False)]
    assert got == want
    for column in ("score", "previous_score"):
        for g, w in zip(actual[column], expected[column]):
            assert (pd.isna(g) and pd.isna(w)) or g == pytest.approx(w, rel=1e-9, abs=1e-9), column
    for column in ("rank", "previous_rank", "days_on_list"):
        assert [None if pd.isna(v) else int(v) for v in actual[column]] == [
            None if pd.isna(v) else int(v) for v in expected[column]
        ], column
    for column in ("previous_as_of", "first_entered_at"):
        assert [None if pd.isna(v) else pd.Timestamp(v) for v in actual[column]] == [
            None if pd.isna(v) else pd.Timestamp(v) for v in expected[column]
        ], column


@pytest.fixture(scope="module")
def history(mock_two_runs, tmp_path_factory) -> SimpleNamespace:
    """The mock data run at T1 then T2 (`mock_two_runs`, by `beton run`), then `beton run` at T2
    again and at T3 with --full-refresh; snapshots of the history tables after each run. (Runs
    out of as_of order and re-runs with other findings: test_history_sequences.py.)"""
    tmp = tmp_path_factory.mktemp("history")
    db = tmp / "history.duckdb"
    shutil.copy(mock_two_runs, db)
    env = {"BETON_TARGET_PATH": str(tmp / "target")}

    def snapshot(stdout: str) -> dict:
        return {
            "stdout": stdout,
            "runs": read_table(db, "beton_inspections", "insp_rule_runs"),
            "history": read_table(db, "beton_inspections", "insp_finding_history"),
            "changes": read_table(db, "beton_inspections", "insp_finding_changes"),
        }

    snapshots = {1: snapshot((mock_two_runs.parent / "run2.out").read_text(encoding="utf-8"))}
    snapshots[0] = {"stdout": (mock_two_runs.parent / "run1.out").read_text(encoding="utf-8")}
    for step, (instant, extra) in enumerate([(T2, []), (T3, ["--full-refresh"])], start=2):
        result = beton("run", "--duckdb", str(db), "--as-of", instant.isoformat(sep=" "), *extra, env=env)
        assert result.returncode == 0, result.stderr
        snapshots[step] = snapshot(result.stdout)
    return SimpleNamespace(db=db, snapshots=snapshots)


def test_changes_equal_the_oracle_after_every_run(history):
    snapshots = history.snapshots
    assert_same_changes(snapshots[1]["changes"], oracle_changes([T1, T2]))
    assert_same_changes(snapshots[2]["changes"], oracle_changes([T1, T2]))
    assert_same_changes(snapshots[3]["changes"], oracle_changes([T1, T2, T3]))
    # past the data most lists are empty at T3: their findings exited (rules with no findings are
    # recorded as evaluated, not skipped)
    final = snapshots[3]["changes"]
    assert (final[final["as_of"] == pd.Timestamp(T3)]["change"] == "exited").sum() >= 5


def test_a_rerun_at_the_same_as_of_adds_nothing_and_full_refresh_keeps_the_history(history):
    s = history.snapshots

    def without_run_time(frame: pd.DataFrame) -> pd.DataFrame:
        return (
            frame.drop(columns=["computed_at"])
            .sort_values(list(frame.columns.drop("computed_at")))
            .reset_index(drop=True)
        )

    pd.testing.assert_frame_equal(without_run_time(s[1]["history"]), without_run_time(s[2]["history"]))
    pd.testing.assert_frame_equal(without_run_time(s[1]["runs"]), without_run_time(s[2]["runs"]))
    assert sorted(s[3]["runs"]["as_of"].unique()) == [pd.Timestamp(T1), pd.Timestamp(T2), pd.Timestamp(T3)]
    assert len(s[3]["runs"]) == 3 * len(RULES)  # every rule recorded at every run, empty lists too
    at_t3 = s[3]["runs"][s[3]["runs"]["as_of"] == pd.Timestamp(T3)]
    on_lists = s[3]["history"][s[3]["history"]["as_of"] == pd.Timestamp(T3)].groupby("rule_key").size()
    assert at_t3.set_index("rule_key")["findings"].to_dict() == {k: int(on_lists.get(k, 0)) for k in RULES}
    assert (at_t3["findings"] == 0).sum() >= 5


def test_changes_carry_who_the_entity_is(history):
    changes = history.snapshots[3]["changes"]
    frames = load_mock(REPO / "seeds")
    accounts = frames["accounts"].set_index("account_id")
    accounts_rows = changes[changes["level"] == "account"]
    assert not accounts_rows.empty
    for r in accounts_rows.itertuples():
        assert r.name == accounts.loc[r.account_id, "name"]
        assert r.domain == accounts.loc[r.account_id, "domain"]
        assert r.change_id == f"{r.rule_key}:{r.entity_id}@{pd.Timestamp(r.as_of).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
    users = changes[(changes["level"] == "user") & changes["entity_id"].str.startswith("person_")]
    assert users["email"].notna().all()


def test_run_and_changes_commands_say_what_changed(history):
    s = history.snapshots
    assert "history: first recorded run at 2026-09-24 12:00:00 UTC" in s[0]["stdout"]
    expected = oracle_changes([T1, T2])
    at_t2 = expected[expected["as_of"] == pd.Timestamp(T2)]
    entered, exited = (at_t2["change"] == "entered").sum(), (at_t2["change"] == "exited").sum()
    assert (
        f"changes at 2026-10-01 12:00:00 UTC: {entered} entered, {exited} exited since the run before"
        in (s[2]["stdout"])
    )
    shown = beton("changes", "--duckdb", str(history.db), "--since", "2026-09-30", "--rule", "pql_pricing_intent")
    assert shown.returncode == 0, shown.stderr
    every = oracle_changes([T1, T2, T3])
    since = every[every["as_of"] > pd.Timestamp("2026-09-30")]
    rows = since[(since["rule_key"] == "pql_pricing_intent") & (since["change"] != "stayed")]
    for eid in rows["entity_id"]:
        assert eid in shown.stdout
    assert f"{(rows['change'] == 'entered').sum()} entered, {(rows['change'] == 'exited').sum()} exited" in (
        shown.stdout
    )
    unknown = beton("changes", "--duckdb", str(history.db), "--rule", "no_such_rule")
    assert unknown.returncode == 1 and "no_such_rule" in unknown.stderr and "Traceback" not in unknown.stderr


def test_a_warehouse_without_runs_says_what_to_run(tmp_path):
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    result = beton("changes", "--duckdb", str(empty))
    assert result.returncode == 1
    assert "beton run" in result.stderr and "Traceback" not in result.stderr
