"""`beton rules test`: the shipped rule tests (rules/tests/*.yml) pass on the real models, and a
wrong expectation fails naming its test file and line.

The shipped files' expectations are worked out by hand from docs/rules.md (each finding's score
is written with the arithmetic beside it), not from the code under test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli import beton as run_beton

from beton_runner.errors import RuleError
from beton_runner.project import Project
from beton_runner.rules import load_rules
from beton_runner.rules.testing import read_test_files
from conftest import REPO, copy_project


def beton(project_dir: Path, target: Path, *args: str):
    return run_beton(*args, project=project_dir, env={"BETON_TARGET_PATH": str(target), "TZ": "UTC"})


FAILING = """\
as_of: "2026-10-01 12:00:00"
given:
  events:
    - {distinct_id: a1, event: viewed_pricing_page, timestamp: "2026-09-30 10:00:00", repeat: 2}
    - {distinct_id: a1, event: requested_demo, timestamp: "2026-09-30 11:00:00"}
    - {distinct_id: b1, event: viewed_pricing_page, timestamp: "2026-09-30 10:00:00", repeat: 5}
expect:
  pql_pricing_intent:
    exactly: true
    findings:
      - {user_id: a1, score: 4.0, event_count: 3}
      - {user_id: zed}
    absent: [b1, a1]
"""


@pytest.fixture(scope="module")
def rule_test_run(tmp_path_factory):
    """`beton rules test --format json` on a copy of the project: the shipped test files plus
    one with wrong expectations (one dbt parse for all of them)."""
    project = copy_project(tmp_path_factory.mktemp("rule_tests") / "project")
    (project / "rules" / "tests" / "wrong.yml").write_text(FAILING, encoding="utf-8")
    return beton(project, project / "target", "rules", "test", "--format", "json")


def test_shipped_rule_tests_pass(rule_test_run):
    rows = json.loads(rule_test_run.stdout)
    assert {(r["file"], r["rule"], r["passed"], r["findings"]) for r in rows} == {
        ("rules/tests/pql_pricing_intent.yml", "pql_pricing_intent", True, 3),
        ("rules/tests/pqa_active_accounts_multiple_users.yml", "pqa_active_accounts_multiple_users", True, 1),
        (
            "rules/tests/churn_risk_previously_active_now_quiet.yml",
            "churn_risk_previously_active_now_quiet",
            True,
            2,
        ),
        ("rules/tests/wrong.yml", "pql_pricing_intent", False, 1),
    }


def test_wrong_expectations_fail_with_file_and_line(rule_test_run):
    result = rule_test_run
    assert result.returncode == 1, result.stdout + result.stderr
    err = " ".join(result.stderr.split())
    # a1: 3 events, 2 kinds, 1 day, last seen 1 day before as_of: 2·ln(4) + 1 − 0.5, and the
    # rule's fit: a1 is no person, so has no email (−3): 0.272588722
    assert "rules/tests/wrong.yml:11: pql_pricing_intent: a1: score expected 4.0, got 0.272588722" in err
    assert "rules/tests/wrong.yml:12: pql_pricing_intent: expected user_id 'zed' in the punch list" in err
    assert (
        "rules/tests/wrong.yml:13: pql_pricing_intent: expected user_id 'a1' not in the punch list; it is there at rank 1"
        in err
    )
    assert "3 expectation(s) failed in 1 rule test file(s)" in err
    assert "FAIL rules/tests/wrong.yml" in err  # the per-file line (on stderr with --format json)


def test_invalid_test_files_are_reported_with_lines(tmp_path):
    project = tmp_path / "project"
    (project / "rules" / "tests").mkdir(parents=True)
    for rule in ("pql_pricing_intent.yml", "pqa_expansion_ready.yml"):
        shutil.copy(REPO / "rules" / rule, project / "rules" / rule)
    (project / "rules" / "tests" / "bad.yml").write_text(
        'as_of: "yesterday"\n'
        "given:\n"
        "  events:\n"
        "    - {distinct_id: a1, event: x, timestamp: '2026-09-30', colour: red}\n"
        "    - {event: x, timestamp: '2026-09-30', repeat: 0}\n"
        "expect:\n"
        "  no_such_rule: {}\n"
        "  pql_pricing_intent:\n"
        "    findings:\n"
        "      - {user_id: a1, active_users: 3}\n"
        "  pqa_expansion_ready:\n"
        "    findings:\n"
        "      - {user_id: a1}\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as caught:
        read_test_files(Project(dir=project), load_rules(project / "rules"))
    found = {(i.file, i.line, i.field) for i in caught.value.issues}
    bad = "rules/tests/bad.yml"
    assert found == {
        (bad, 1, "as_of"),
        (bad, 4, "given.events.0.colour"),
        (bad, 5, "given.events.1"),  # no distinct_id
        (bad, 5, "given.events.1.repeat"),
        (bad, 7, "expect.no_such_rule"),
        (bad, 10, "expect.pql_pricing_intent.findings.0.active_users"),  # an account-level column
        (bad, 13, "expect.pqa_expansion_ready.findings.0"),  # an account rule's findings name account_id
    }
    # `beton rules check` (and so the pre-commit hook) reports them too, without running anything
    shutil.copy(REPO / "dbt_project.yml", project / "dbt_project.yml")
    check = beton(project, tmp_path / "target", "rules", "check", "--format", "json")
    assert check.returncode == 1
    problems = {(p["file"], p["line"], p["field"]) for p in json.loads(check.stdout)["problems"]}
    assert found <= problems
