"""Fit, tiers and grade in rule files (docs/rules.md, "Fit", "Tiers", "Grade"): every mistake
reported with file, line and field; valid ones normalised as the macros read them."""

from __future__ import annotations

import textwrap
from pathlib import Path

from beton_runner.rules import FORMAT, check_rules

HEAD = """\
name: "{name}"
level: {level}
time_window_days: 7
conditions: {{min_event_count: 1}}
"""


def _check(tmp_path: Path, files: dict[str, tuple[str, str]]):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for key, (level, body) in files.items():
        text = HEAD.format(name=key, level=level) + textwrap.dedent(body)
        (rules_dir / f"{key}.yml").write_text(text, encoding="utf-8")
    return check_rules(rules_dir, display_root=tmp_path)


def test_fit_tier_and_grade_mistakes_name_file_line_and_field(tmp_path):
    result = _check(
        tmp_path,
        {
            "bad_fit": (
                "account",
                """\
                fit:
                  - when: {segment: {inn: [SMB]}}
                    points: 5
                  - when: {arr: {contains: "1"}, employees: {gte: many}}
                    points: 1
                  - when: {arr: "big"}
                    points: 1
                  - when: {"properties.": {is_set: true}}
                    points: 1
                  - when: {}
                    points: x
                  - points: 1
                grade: {fit: [5, 10], behaviour: [1]}
                """,
            ),
            "bad_tiers": (
                "user",
                """\
                fit:
                  - when: {account.enriched_employees: {regex: "^1"}}
                    points: 2
                tiers: {by: percentile, hot: 0, warm: 150, cold: 30, else: cold}
                """,
            ),
            "more_tiers": ("user", "tiers: {hot: 20, warm: 20, by: rank}\ngrade: {fit: [1], behaviour: [1]}\n"),
            "no_tiers": ("user", "tiers: {else: cold}\n"),
        },
    )
    assert [str(i) for i in result.issues] == [
        "rules/bad_fit.yml:6: fit[0].when.segment.inn: unknown operator; did you mean 'in'? (operators: eq, neq, in, not_in, contains, regex, gt, gte, lt, lte, is_set, is_not_set)",
        "rules/bad_fit.yml:8: fit[1].when.employees.gte: must be a number, not the text 'many'",
        "rules/bad_fit.yml:8: fit[1].when.arr.contains: arr is a number: compare it with eq, in, gt, gte, lt or lte",
        "rules/bad_fit.yml:10: fit[2].when.arr: arr is a number: give a number, not the text 'big'",
        "rules/bad_fit.yml:12: fit[3].when.properties.: names no attribute; write properties.<name>",
        "rules/bad_fit.yml:14: fit[4].when: must not be empty",
        "rules/bad_fit.yml:15: fit[4].points: must be a number, not the text 'x'",
        "rules/bad_fit.yml:16: fit[5]: required key 'when' is missing",
        "rules/bad_fit.yml:17: grade.fit: must decrease (the threshold of A/1 first), not [5, 10]",
        "rules/bad_tiers.yml:6: fit[0].when.account.enriched_employees.regex: account.enriched_employees is a number: compare it with eq, in, gt, gte, lt or lte",
        "rules/bad_tiers.yml:8: tiers.hot: is 0: a percentile tier takes a percentage above 0 and at most 100",
        "rules/bad_tiers.yml:8: tiers.warm: is 150: a percentile tier takes a percentage above 0 and at most 100",
        "rules/bad_tiers.yml:8: tiers.else: 'cold' is already a tier; name the tier below every other one differently",
        "rules/more_tiers.yml:5: tiers.by: must be one of score, percentile, not the text 'rank'",
        "rules/more_tiers.yml:5: tiers.warm: has the same threshold as tier 'hot' (20); give each tier its own",
        "rules/more_tiers.yml:6: grade: grades the fit score, but the rule has no fit: add fit conditions",
        "rules/no_tiers.yml:5: tiers: names no tier; e.g. {hot: 40, warm: 20}",
    ]


def test_fit_tiers_and_grade_are_normalised_best_first(tmp_path):
    result = _check(
        tmp_path,
        {
            "account_fit": (
                "account",
                """\
                fit:
                  - when: {segment: Enterprise, arr: {gte: 100000}, employees: {gte: 200}}
                    points: 10
                  - when: {enriched_industry: {in: [Software]}, properties.segment: x}
                    points: -2.5
                tiers: {warm: 20, hot: 40, else: cold}
                grade: {fit: [10, 0], behaviour: [30, 20, 10]}
                """,
            ),
            "user_fit": (
                "user",
                """\
                fit:
                  - when: {job_title: {contains: Head}, account.founded_year: 2020, account.plan: pro}
                    points: 3
                tiers: {by: percentile, warm: 50, hot: 10}
                """,
            ),
            "plain": ("user", ""),
        },
    )
    assert result.issues == []
    rules = {r.key: r.normalised for r in result.rules}
    assert rules["account_fit"]["format"] == FORMAT == 2
    first, second = rules["account_fit"]["fit"]
    assert first["points"] == 10.0
    assert [(f["table"], f["column"], f["key"], f["type"], f["op"]) for f in first["when"]] == [
        ("account", "segment", None, "text", "eq"),
        ("account", "arr", None, "number", "gte"),
        ("account", "properties", "employees", "json", "gte"),
    ]
    assert [(f["table"], f["column"], f["key"], f["type"]) for f in second["when"]] == [
        ("enrichment", "industry", None, "text"),
        ("account", "properties", "segment", "json"),
    ]
    assert rules["account_fit"]["tiers"] == {
        "by": "score",
        "levels": [{"name": "hot", "value": 40.0}, {"name": "warm", "value": 20.0}],
        "else": "cold",
    }
    assert rules["account_fit"]["grade"] == {"fit": [10.0, 0.0], "behaviour": [30.0, 20.0, 10.0]}
    (item,) = rules["user_fit"]["fit"]
    assert [(f["table"], f["column"], f["key"], f["type"]) for f in item["when"]] == [
        ("person", "properties", "job_title", "json"),
        ("enrichment", "founded_year", None, "number"),
        ("account", "properties", "plan", "json"),
    ]
    assert [t["name"] for t in rules["user_fit"]["tiers"]["levels"]] == ["hot", "warm"]
    assert (rules["plain"]["fit"], rules["plain"]["tiers"], rules["plain"]["grade"]) == ([], None, None)
