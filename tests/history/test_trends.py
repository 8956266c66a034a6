"""What the marts say about the history after two runs on the mock data (mock_two_runs: 2026-09-24
12:00, then 2026-10-01 12:00): mart_rule_trends has one row per rule per run whose counts equal
those derived from the oracle's punch lists (test_history.oracle_changes), and dim_users /
dim_accounts (and their enriched versions) name in new_rules exactly the rules an entity
entered at the latest run."""

from __future__ import annotations

import pandas as pd
import pytest
from test_history import oracle_changes

from conftest import HISTORY_T1, MOCK_AS_OF, read_table, rule_documents

RULES = rule_documents()
RUNS = [HISTORY_T1, MOCK_AS_OF]


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return oracle_changes(RUNS)


def test_rule_trends_equal_counts_from_the_oracle(mock_two_runs, expected):
    trends = read_table(mock_two_runs, "beton_marts", "mart_rule_trends")
    want = []
    for key, doc in RULES.items():
        for number, instant in enumerate(RUNS, start=1):
            at = expected[(expected["rule_key"] == key) & (expected["as_of"] == pd.Timestamp(instant))]
            counts = at["change"].value_counts()
            entered, exited, stayed = (int(counts.get(c, 0)) for c in ("entered", "exited", "stayed"))
            want.append(
                {
                    "rule_key": key,
                    "as_of": pd.Timestamp(instant),
                    "rule_name": doc["name"],
                    "level": doc["level"],
                    "run_number": number,
                    "findings": entered + stayed,
                    "entered": entered,
                    "exited": exited,
                    "stayed": stayed,
                }
            )
    want = pd.DataFrame(want)
    got = trends[list(want.columns)].sort_values(["rule_key", "as_of"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert got["exited"].sum() > 0 and got.loc[got["run_number"] == 2, "entered"].sum() > 0  # the data moves


@pytest.mark.parametrize("level", ["user", "account"])
def test_dims_name_the_rules_each_entity_is_new_on(mock_two_runs, expected, level):
    key = f"{level}_id"
    entered = expected[
        (expected["as_of"] == pd.Timestamp(MOCK_AS_OF))
        & (expected["change"] == "entered")
        & expected["rule_key"].map(lambda r: RULES[r]["level"] == level)
    ]
    want = {eid: ", ".join(sorted(rows["rule_key"])) for eid, rows in entered.groupby("entity_id")}
    assert want, "no entity entered a list at the second run"
    for table in (f"dim_{level}s", f"dim_{level}s_enriched"):
        dim = read_table(mock_two_runs, "beton_marts", table)
        got = {r[key]: r["new_rules"] for r in dim.to_dict("records") if pd.notna(r["new_rules"])}
        assert got == want, table
        # an entity new on a rule is on its list now
        matched = dim.set_index(key)["rules_matched"]
        for eid, rules in got.items():
            assert set(rules.split(", ")) <= set(matched[eid].split(", "))
