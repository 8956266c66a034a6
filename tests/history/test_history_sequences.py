"""Property: whatever sequence of runs reaches the history — as_of instants in any order, the
same instant again with other findings, rules with empty lists — insp_finding_changes equals the
changes between consecutive distinct instants computed here from the findings each instant was
last run with.

Each step writes a random insp_findings (every rule's findings at the step's as_of) into a copy of
a built warehouse and runs the three history models with dbt, as a build would after the punch
lists. Knobs: BETON_SEQUENCE_EXAMPLES (default 1) sequences of up to BETON_HISTORY_STEPS
(default 4) runs."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta

import duckdb
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from beton_runner.dbt import run_dbt
from beton_runner.project import Project
from conftest import REPO, read_table

EXAMPLES = int(os.environ.get("BETON_SEQUENCE_EXAMPLES", "1"))
STEPS = int(os.environ.get("BETON_HISTORY_STEPS", "4"))
INSTANTS = [datetime(2027, 1, 1, 12) + timedelta(days=3 * i) for i in range(4)]
RULES = {"pql_power_users": "user", "pqa_expansion_ready": "account"}  # two shipped rules; the others stay empty
ENTITIES = {
    "user": ["person_001", "person_002", "person_003", "person_004"],
    "account": ["acc_001", "acc_002", "acc_003"],
}
HISTORY_MODELS = "insp_rule_runs insp_finding_history insp_finding_changes"


def punch_lists():
    """rule -> {entity: score}, a random subset of each rule's entities (maybe none)."""
    per_rule = {
        key: st.dictionaries(st.sampled_from(ENTITIES[level]), st.integers(1, 50).map(float), max_size=3)
        for key, level in RULES.items()
    }
    return st.fixed_dictionaries(per_rule)


def ranked(scores: dict[str, float]) -> dict[str, tuple[float, int]]:
    order = sorted(scores, key=lambda e: (-scores[e], e))
    return {e: (scores[e], i + 1) for i, e in enumerate(order)}


def expected_changes(last: dict[datetime, dict]) -> set[tuple]:
    rows = set()
    for key in RULES:
        before, began, previous = {}, {}, None
        for instant in sorted(last):
            now = ranked(last[instant][key])
            for e, (score, rank) in now.items():
                if e not in before:
                    began[e] = instant
                b = before.get(e)
                rows.add(
                    (
                        instant,
                        previous,
                        key,
                        e,
                        "stayed" if b else "entered",
                        score,
                        b[0] if b else None,
                        rank,
                        b[1] if b else None,
                        began[e],
                        (instant.date() - began[e].date()).days,
                    )
                )
            for e, (score, rank) in before.items():
                if e not in now:
                    rows.add(
                        (
                            instant,
                            previous,
                            key,
                            e,
                            "exited",
                            None,
                            score,
                            None,
                            rank,
                            began[e],
                            (previous.date() - began[e].date()).days,
                        )
                    )
            before, previous = now, instant
    return rows


def write_findings(path, instant: datetime, lists: dict) -> None:
    rows = []
    for key, level in RULES.items():
        for e, (score, rank) in ranked(lists[key]).items():
            rows.append(
                {
                    "finding_id": f"{key}:{e}",
                    "rule_key": key,
                    "rule_name": key.upper(),
                    "level": level,
                    "entity_id": e,
                    "entity_name": None,
                    "account_id": e if level == "account" else None,
                    "rank": rank,
                    "score": score,
                    "as_of": instant,
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "finding_id",
            "rule_key",
            "rule_name",
            "level",
            "entity_id",
            "entity_name",
            "account_id",
            "rank",
            "score",
            "as_of",
        ],
    )
    con = duckdb.connect(str(path))
    try:
        columns = [r[0] for r in con.execute("describe beton_inspections.insp_findings").fetchall()]
        con.execute("delete from beton_inspections.insp_findings")
        for column in columns:
            if column not in frame.columns:
                frame[column] = None
        con.register("new_findings", frame[columns])
        con.execute("insert into beton_inspections.insp_findings select * from new_findings")
    finally:
        con.close()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@example(  # a later instant first, a backfill, the same instant again with other findings, an emptied list
    steps=[
        (
            INSTANTS[2],
            {"pql_power_users": {"person_001": 9.0, "person_002": 4.0}, "pqa_expansion_ready": {"acc_001": 3.0}},
        ),
        (
            INSTANTS[0],
            {"pql_power_users": {"person_002": 5.0}, "pqa_expansion_ready": {"acc_001": 2.0, "acc_002": 1.0}},
        ),
        (INSTANTS[2], {"pql_power_users": {"person_001": 8.0, "person_003": 8.0}, "pqa_expansion_ready": {}}),
        (INSTANTS[3], {"pql_power_users": {"person_003": 1.0}, "pqa_expansion_ready": {"acc_002": 7.0}}),
    ]
)
@given(steps=st.lists(st.tuples(st.sampled_from(INSTANTS), punch_lists()), min_size=1, max_size=STEPS))
def test_any_sequence_of_runs_gives_the_changes_of_the_last_findings_per_instant(
    mock_two_runs, tmp_path_factory, steps
):
    tmp = tmp_path_factory.mktemp("sequence")
    path = tmp / "w.duckdb"
    shutil.copy(mock_two_runs, path)
    con = duckdb.connect(str(path))
    con.execute("delete from beton_inspections.insp_finding_history")
    con.execute("delete from beton_inspections.insp_rule_runs")
    con.close()
    project = Project(
        dir=REPO, target="duckdb", duckdb_path=path, target_path=tmp_path_factory.getbasetemp() / "sequence_target"
    )  # parse once
    last: dict[datetime, dict] = {}
    for instant, lists in steps:
        write_findings(path, instant, lists)
        run_dbt(
            project,
            ["run", "--select", *HISTORY_MODELS.split()],
            vars={"beton_input": "mock", "beton_as_of": instant.isoformat(sep=" ")},
        )
        last[instant] = lists
    changes = read_table(path, "beton_inspections", "insp_finding_changes")
    changes = changes[changes["rule_key"].isin(RULES)]

    def plain(v):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return None
        if isinstance(v, pd.Timestamp):
            return v.to_pydatetime()
        return v.item() if hasattr(v, "item") else v

    got = {
        tuple(plain(v) for v in row)
        for row in changes[
            [
                "as_of",
                "previous_as_of",
                "rule_key",
                "entity_id",
                "change",
                "score",
                "previous_score",
                "rank",
                "previous_rank",
                "first_entered_at",
                "days_on_list",
            ]
        ].itertuples(index=False)
    }
    assert got == expected_changes(last)
