"""`beton plan` on DuckDB: rule files edited after a build (a threshold, a property filter, a
rule added, a rule removed) give the entities that would enter and leave each punch list — the
difference between the built punch list and the pandas oracle's punch list of the edited rule
(tests/oracle.py, written from docs/rules.md) — and the warehouse file is not modified."""

from __future__ import annotations

import hashlib
import json
import shutil

import yaml
from test_cli import beton

from conftest import MOCK_AS_OF, REPO, copy_project, read_table
from oracle import load_mock, punch_list


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_plan_shows_what_edited_rules_would_change(mock_build, tmp_path):
    project = copy_project(tmp_path / "project")
    database = tmp_path / "built.duckdb"
    shutil.copy(mock_build.duckdb_path, database)
    rules = project / "rules"

    def edit(key: str, change) -> dict:
        doc = yaml.safe_load((rules / f"{key}.yml").read_text())
        change(doc)
        (rules / f"{key}.yml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return doc

    edited = {
        # a looser threshold: more users qualify
        "pql_pricing_intent": edit("pql_pricing_intent", lambda d: d["conditions"].update(min_event_count=2)),
        # another property filter (its built filtered rollup holds the old filter's rows)
        "pqa_free_plan_enterprise_interest": edit(
            "pqa_free_plan_enterprise_interest",
            lambda d: d["conditions"].update(event_property_filters={"plan": {"in": ["team"]}}, min_account_events=5),
        ),
    }
    # other weights: the same users, other scores
    edited["pql_power_users"] = edit("pql_power_users", lambda d: d["scoring_weights"].update(event_count_weight=3.0))
    added = yaml.safe_load((rules / "pql_power_users.yml").read_text())
    added.update(name="PQL: Power Users (looser)")
    added["conditions"].update(min_active_days=2)
    (rules / "pql_power_users_loose.yml").write_text(yaml.safe_dump(added, sort_keys=False), encoding="utf-8")
    edited["pql_power_users_loose"] = added
    (rules / "churn_risk_previously_active_now_quiet.yml").unlink()
    before_hash = sha256(database)

    env = {"BETON_TARGET_PATH": str(tmp_path / "target"), "BETON_INPUT": "mock", "TZ": "UTC"}
    result = beton("plan", "--duckdb", str(database), "--format", "json", project=project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    plan = json.loads(result.stdout)
    assert plan["as_of"] == MOCK_AS_OF.isoformat() + "Z"
    by_rule = {r["rule"]: r for r in plan["rules"]}

    mock = load_mock(REPO / "seeds")
    inputs = (mock["events"], mock["persons"], mock["person_distinct_id"], mock["accounts"])
    for key, entry in by_rule.items():
        entity = "account_id" if entry["level"] == "account" else "user_id"
        built = read_table(database, "beton_inspections", f"insp_{key}") if key != "pql_power_users_loose" else None
        old = set(built[entity]) if built is not None else set()
        if key == "churn_risk_previously_active_now_quiet":
            expected = set()  # removed: every finding leaves
            assert entry["status"] == "removed"
        else:
            rule_doc = edited.get(key) or yaml.safe_load((rules / f"{key}.yml").read_text())
            oracle = punch_list(rule_doc, *inputs, MOCK_AS_OF)
            expected = set(oracle[entity])
            scores = dict(zip(oracle[entity], oracle["score"]))
            for finding in entry["entered"]:
                assert abs(finding["score"] - scores[finding["entity_id"]]) < 1e-9
            for finding in entry["rescored"]:
                assert abs(finding["score_after"] - scores[finding["entity_id"]]) < 1e-9
            if built is not None:
                stay = built[built[entity].isin(expected)]
                moved = {e for e, score in zip(stay[entity], stay["score"]) if abs(score - scores[e]) > 1e-9}
                assert moved <= {e["entity_id"] for e in entry["rescored"]}, key
        assert {e["entity_id"] for e in entry["entered"]} == expected - old, key
        assert {e["entity_id"] for e in entry["left"]} == old - expected, key
        assert (entry["findings_before"], entry["findings_after"]) == (len(old), len(expected)), key
        if key not in edited and key != "churn_risk_previously_active_now_quiet":
            assert entry["status"] == "unchanged", key
    assert by_rule["pql_power_users_loose"]["status"] == "added"
    # the edits change something on the mock data (else this test would prove little)
    assert by_rule["pql_pricing_intent"]["entered"] and by_rule["pqa_free_plan_enterprise_interest"]["left"]
    assert len(by_rule["pql_power_users"]["rescored"]) == by_rule["pql_power_users"]["findings_before"] > 0
    assert sha256(database) == before_hash  # nothing built was replaced
