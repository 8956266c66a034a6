"""`beton rules check`: every problem in every file at once, with file, line and field."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from beton_runner.errors import RuleError
from beton_runner.rules import check_rules, load_rules
from conftest import REPO, copy_project

FIXTURES = Path(__file__).parent / "fixtures"
KNOWN = {"signed_up", "created_project", "used_api", "viewed_pricing_page"}

EXPECTED_ISSUES = [
    "rules_invalid/Bad-Name.yml: file name 'Bad-Name.yml' cannot name a model: use lowercase letters, digits and _ (starting with a letter, at most 63), e.g. 'bad_name.yml'",
    "rules_invalid/account_only_on_user.yml:5: conditions.min_active_users: applies to account rules only; remove it or set level: account",
    "rules_invalid/account_only_on_user.yml:6: conditions.min_account_events: applies to account rules only; remove it or set level: account",
    "rules_invalid/bad_filters.yml:6: conditions.event_property_filters.plan.inn: unknown operator; did you mean 'in'? (operators: eq, neq, in, not_in, contains, regex, gt, gte, lt, lte, is_set, is_not_set)",
    "rules_invalid/bad_filters.yml:7: conditions.event_property_filters.seats.gte: must be a number, not the text 'five'",
    "rules_invalid/bad_filters.yml:8: conditions.event_property_filters.tags: a list is not a value; write {in: [...]} to match any of several values",
    "rules_invalid/bad_filters.yml:9: conditions.event_property_filters.region: has no value; write {is_not_set: true} to require a missing property, or give a value",
    "rules_invalid/bad_filters.yml:10: conditions.event_property_filters.sdk.regex: uses look-around or a back-reference, which RE2 (DuckDB, ClickHouse) does not support",
    "rules_invalid/bad_filters.yml:11: conditions.event_property_filters.browser.in: must list at least one value",
    "rules_invalid/bad_filters.yml:12: conditions.event_property_filters.url.regex: is not a valid regular expression: unterminated character set at position 0",
    "rules_invalid/bad_filters.yml:13: conditions.event_property_filters.flag.is_set: must be true (to say the opposite, use is_not_set: true)",
    "rules_invalid/duplicate_key.yml:3: level: is written twice; keep one",
    "rules_invalid/impossible.yml:6: conditions.min_distinct_events: is 3 but only 2 event name(s) are listed: no entity can match",
    "rules_invalid/impossible.yml:7: conditions.min_active_days: is 8 but the window has only 7 day(s) (time_window_days): no entity can match",
    "rules_invalid/impossible.yml:8: conditions.min_days_since_last_event: is 10, above max_days_since_last_event (5): no entity can match",
    "rules_invalid/impossible.yml:8: conditions.min_days_since_last_event: is 10 but days since the last event in a 7-day window is at most 6: no entity can match; widen time_window_days",
    "rules_invalid/missing_required.yml:1: required key 'name' is missing",
    "rules_invalid/missing_required.yml:1: required key 'level' is missing",
    "rules_invalid/missing_required.yml:1: required key 'time_window_days' is missing",
    "rules_invalid/missing_required.yml:1: required key 'conditions' is missing",
    "rules_invalid/not_a_mapping.yml:1: must be a mapping with name, level, time_window_days and conditions, not a list",
    "rules_invalid/typo_and_types.yml:1: name: 'Typos and types' is already the name of the rule in rules_invalid/duplicate_name.yml:1; rule names must be unique",
    "rules_invalid/typo_and_types.yml:2: level: must be one of user, account, not the text 'usr'; did you mean 'user'?",
    "rules_invalid/typo_and_types.yml:3: time_window_days: must be at least 1, not -7",
    "rules_invalid/typo_and_types.yml:6: conditions.min_evnt_count: unknown key in 'conditions'; did you mean 'min_event_count'?",
    "rules_invalid/typo_and_types.yml:7: conditions.min_active_days: must be a whole number, not the text 'three'",
    "rules_invalid/typo_and_types.yml:9: scoring_weight: unknown key in the rule; did you mean 'scoring_weights'?",
]


def test_every_problem_is_reported_with_file_line_and_field():
    result = check_rules(FIXTURES / "rules_invalid", known_events=KNOWN, display_root=FIXTURES)
    assert [str(i) for i in result.issues] == EXPECTED_ISSUES
    assert [r.key for r in result.rules] == ["duplicate_name"]  # the only valid file


def test_unknown_event_names_are_warnings_with_a_suggestion():
    result = check_rules(FIXTURES / "rules_invalid", known_events=KNOWN, display_root=FIXTURES)
    assert [str(w) for w in result.warnings] == [
        "rules_invalid/typo_and_types.yml:5: conditions.event_names[1]: 'signed_upp' is not in the standard events library; did you mean 'signed_up'? (fine if your product sends it)",
    ]


def test_valid_fixtures_and_shipped_rules_pass():
    assert check_rules(FIXTURES / "rules_valid").issues == []
    assert check_rules(REPO / "rules").issues == []
    assert len(load_rules(REPO / "rules")) >= 6


def test_load_rules_raises_one_error_listing_everything():
    with pytest.raises(RuleError) as info:
        load_rules(FIXTURES / "rules_invalid", display_root=FIXTURES)
    message = str(info.value)
    assert message.startswith(f"{len(EXPECTED_ISSUES)} problem(s) in 8 rule file(s):")
    for line in EXPECTED_ISSUES:
        assert line in message


def test_normalised_filters_are_typed():
    rule = {r.key: r for r in load_rules(FIXTURES / "rules_valid")}["every_operator"]
    filters = {(f["key"], f["op"]): f for f in rule.normalised["property_filters"]}
    assert filters[("plan", "eq")]["value"] == {"type": "string", "value": "pro"}
    assert filters[("beta", "eq")]["value"] == {"type": "boolean", "value": "true"}
    assert filters[("count", "eq")]["value"] == {"type": "number", "value": 5.0}
    assert filters[("region", "in")]["values"] == [{"type": "string", "value": "eu"}, {"type": "string", "value": "us"}]
    assert {op for (key, op) in filters if key == "seats"} == {"gt", "gte", "lt", "lte"}
    assert rule.normalised["weights"] == {"event_count": 0.5, "active_days": 1.0, "recency": -2.0}


def _beton(project_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(project_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_invalid_rules_never_reach_dbt(tmp_path):
    project = copy_project(tmp_path / "project")
    shutil.copy(FIXTURES / "rules_invalid" / "impossible.yml", project / "rules" / "impossible.yml")
    generated_before = {p: p.read_text() for p in (project / "models" / "inspections").rglob("*") if p.is_file()}
    result = _beton(project, "run", env={"BETON_DUCKDB_PATH": str(tmp_path / "w.duckdb"), "PATH": ""})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "rules/impossible.yml:7: conditions.min_active_days: is 8 but the window has only 7 day(s)" in result.stderr
    assert not (tmp_path / "w.duckdb").exists(), "dbt ran although a rule is invalid"
    assert {
        p: p.read_text() for p in (project / "models" / "inspections").rglob("*") if p.is_file()
    } == generated_before


def test_rules_check_fails_on_stale_generated_models(tmp_path):
    project = copy_project(tmp_path / "project")
    assert _beton(project, "rules", "check").returncode == 0
    rule = project / "rules" / "pql_power_users.yml"
    rule.write_text(rule.read_text().replace("min_active_days: 18", "min_active_days: 17"))
    result = _beton(project, "rules", "check")
    assert result.returncode == 1
    assert "models/inspections/rules/insp_pql_power_users.sql: out of date" in result.stderr
    assert "beton rules compile" in result.stderr
    assert _beton(project, "rules", "compile").returncode == 0
    assert _beton(project, "rules", "check").returncode == 0


def test_shipped_generated_models_are_up_to_date():
    result = _beton(REPO, "rules", "check")
    assert result.returncode == 0, result.stderr


# --- issue #12 item 8: what used to slip through, hang or crash --------------------------------

RE2_HINT = (
    "(RE2 has no atomic groups, possessive or conditional patterns, back-references, \\Z or (?x), "
    "and repeats at most 1000 times)"
)
LIMITS = "rules_invalid/yaml_and_limits"
EXPECTED_LIMIT_ISSUES = (
    [
        f"{LIMITS}/alias_bomb.yml:4: a: uses the YAML anchor &a; rule files take no anchors or aliases: write each value out",
        f"{LIMITS}/deep_nesting.yml:5: conditions.event_names[0][0][0][0][0][0][0][0]: nests lists and mappings more than "
        "10 levels deep; a rule needs at most 5 (see docs/rules.md)",
        f"{LIMITS}/float_window.yml:5: conditions.min_active_days: is 8 but the window has only 7 day(s) (time_window_days): "
        "no entity can match",
        f"{LIMITS}/float_window.yml:6: conditions.min_days_since_last_event: is 7 but days since the last event in a 7-day "
        "window is at most 6: no entity can match; widen time_window_days",
    ]
    + [
        f"{LIMITS}/regex_not_re2.yml:{line}: conditions.event_property_filters.{key}.regex: is not valid in RE2, the "
        f"regular-expression engine of DuckDB and ClickHouse: {reason} {RE2_HINT}"
        for line, key, reason in [
            (6, "atomic", "invalid perl operator: (?>"),
            (7, "possessive", "bad repetition operator: *+"),
            (8, "repeat", "invalid repetition size: {1001}"),
            (9, "backref", "invalid perl operator: (?P"),
            (10, "end", "invalid escape sequence: \\Z"),
            (11, "verbose", "invalid perl operator: (?x"),
            (12, "conditional", "invalid perl operator: (?("),
        ]
    ]
    + [
        f"{LIMITS}/regex_not_re2.yml:13: conditions.event_property_filters.named.regex: names a group as (?<name>...), "
        "which DuckDB's RE2 does not accept; write (?P<name>...)",
        f"{LIMITS}/weights_overflow.yml:5: scoring_weights: let scores overflow to infinity (|event_count_weight|·ln(1 + 2^63)"
        " + |active_days_weight|·30 + |recency_weight|·29); scores are limited to 1e+12: use smaller weights",
        f"{LIMITS}/weights_too_large.yml:5: scoring_weights: let scores reach 3e+12 (|event_count_weight|·ln(1 + 2^63)"
        " + |active_days_weight|·30 + |recency_weight|·29); scores are limited to 1e+12: use smaller weights",
        f"{LIMITS}/yaml11_coercions.yml:6: conditions.event_property_filters.country: the unquoted value NO means false in "
        "YAML 1.1 but the text 'NO' in YAML 1.2; write \"NO\" (in quotes) for the text, or false",
        f"{LIMITS}/yaml11_coercions.yml:7: conditions.event_property_filters.zip.eq: the unquoted value 010 means 8 in "
        'YAML 1.1 but 10 in YAML 1.2; write "010" (in quotes) for the text, or 8 or 10',
        f"{LIMITS}/yaml11_coercions.yml:8: conditions.event_property_filters.duration.in[0]: the unquoted value 1:30 means "
        "90 in YAML 1.1 but the text '1:30' in YAML 1.2; write \"1:30\" (in quotes) for the text, or 90",
        f"{LIMITS}/yaml11_coercions.yml:9: conditions.event_property_filters.on: the unquoted key on means true in YAML 1.1 "
        "but the text 'on' in YAML 1.2; write \"on\" (in quotes) for the text, or true",
        f"{LIMITS}/yaml11_coercions.yml:10: conditions.event_property_filters.since: the unquoted value 2026-01-01 means the "
        "date 2026-01-01 in YAML 1.1 but the text '2026-01-01' in YAML 1.2; write \"2026-01-01\" (in quotes) for the text",
        f"{LIMITS}/yaml11_coercions.yml:11: conditions.event_property_filters.revenue.gt: the unquoted value 1e3 means the "
        "text '1e3' in YAML 1.1 but 1000.0 in YAML 1.2; write \"1e3\" (in quotes) for the text, or 1000.0",
    ]
)


def test_yaml_regex_window_and_weight_gaps_are_refused_with_file_line_and_field():
    result = check_rules(FIXTURES / LIMITS, display_root=FIXTURES)
    assert [str(i) for i in result.issues] == EXPECTED_LIMIT_ISSUES
    assert result.rules == []


def test_rules_check_refuses_them_without_a_hang_or_a_traceback(tmp_path):
    project = copy_project(tmp_path / "project")
    for path in (FIXTURES / LIMITS).iterdir():
        shutil.copy(path, project / "rules" / path.name)
    (project / "rules" / "huge.yml").write_text("name: Huge\ndescription: " + "x" * 300_000 + "\n")
    result = _beton(project, "rules", "check")  # the alias bomb used to take all memory, the nesting a RecursionError
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert "re2.cc" not in result.stderr  # RE2 does not print its own copy of each error
    for issue in EXPECTED_LIMIT_ISSUES:
        assert issue.replace(f"{LIMITS}/", "rules/") in result.stderr
    assert (
        "rules/huge.yml: is 300,025 bytes; a rule file may be at most 262,144 bytes (one rule is a few hundred)"
        in result.stderr
    )


def test_yaml_1_2_values_whole_floats_and_re2_syntax_are_accepted():
    rule = {r.key: r for r in load_rules(FIXTURES / "rules_valid")}["yaml12_and_re2"]
    assert rule.normalised["time_window_days"] == 7 and rule.normalised["conditions"] == {"min_active_days": 3}
    filters = {(f["key"], f["op"]): f for f in rule.normalised["property_filters"]}
    assert filters[("country", "eq")]["value"] == {"type": "string", "value": "NO"}
    assert filters[("zip", "eq")]["value"] == {"type": "string", "value": "010"}
    assert filters[("duration", "in")]["values"] == [
        {"type": "string", "value": "1:30"},
        {"type": "string", "value": "2:45"},
    ]
    assert ("on", "is_set") in filters
    assert filters[("since", "eq")]["value"] == {"type": "string", "value": "2026-01-01"}
    assert filters[("revenue", "gt")]["value"] == {"type": "number", "value": 1000.0}
    assert filters[("letters", "regex")]["value"]["value"] == "^\\pL+$"  # RE2 syntax Python's re rejects
    assert rule.normalised["weights"] == {"event_count": 1000.0, "active_days": 1e6, "recency": 0.0}


BAD_V2 = """\
name: Bad v2
level: user
time_window_days: 14
conditions: {}
decay: {half_life_days: 0}
signals:
  pricing:
    event_names: [viewed_pricing_page]
    window_days: 30
    weight: 3
    event_property_filters:
      plan: {inn: [free]}
  Bad-Name: {weight: 1}
  huge: {weight: 5000}
  capped: {weight: 5000, max_points: 20, min_count: 0}
match:
  all:
    - any: [pricing, {signal: pricng}]
    - not: {min_active_users: 2}
    - {all: [], any: []}
    - {min_event_count: 'three'}
    - {nope: 1}
"""


def test_signals_match_and_decay_problems_have_file_line_and_field(tmp_path):
    (tmp_path / "bad_v2.yml").write_text(BAD_V2)
    result = check_rules(tmp_path, display_root=tmp_path)
    assert [str(i) for i in result.issues] == [
        "bad_v2.yml:5: decay.half_life_days: must be above 0, not 0",
        "bad_v2.yml:6: signals: let scores reach 5e+12 (each signal's max_points, or |weight|·1e+09 without one); scores are limited to 1e+12: give the signals a max_points or smaller weights",
        "bad_v2.yml:9: signals.pricing.window_days: is 30 but the rule's window is 14 day(s) (time_window_days): a signal looks at most at the rule's window",
        "bad_v2.yml:12: signals.pricing.event_property_filters.plan.inn: unknown operator; did you mean 'in'? (operators: eq, neq, in, not_in, contains, regex, gt, gte, lt, lte, is_set, is_not_set)",
        "bad_v2.yml:13: signals.Bad-Name: a signal name is lowercase letters, digits and _ (starting with a letter, at most 40): it names the column score_signal_<name>, e.g. 'bad_name'",
        "bad_v2.yml:15: signals.capped.min_count: must be at least 1, not 0",
        "bad_v2.yml:18: match.all[0].any[1].signal: names no signal of this rule (the text 'pricng'); did you mean 'pricing'?; signals: pricing, Bad-Name, huge, capped",
        "bad_v2.yml:19: match.all[1].not.min_active_users: applies to account rules only; remove it or set level: account",
        "bad_v2.yml:20: match.all[2]: must be one node: {all: [...]}, {any: [...]}, {not: node}, {signal: name}, a signal name or one threshold such as {min_active_days: 3}, not a mapping with 2 keys",
        "bad_v2.yml:21: match.all[3].min_event_count: must be a whole number, not the text 'three'",
        "bad_v2.yml:22: match.all[4].nope: unknown match node (nodes: all, any, not, signal, or a threshold: min_event_count, min_distinct_events, min_active_days, max_days_since_last_event, min_days_since_last_event, min_active_users, min_account_events)",
    ]


def test_format_2_rule_normalises_signals_match_and_decay(tmp_path):
    (tmp_path / "v2.yml").write_text(
        "name: V2\nlevel: account\ntime_window_days: 30\nconditions: {event_names: [a]}\n"
        "decay: {half_life_days: 14}\n"
        "signals:\n  same: {event_names: [a], weight: -2, window_days: 7.0}\n"
        "  own: {event_names: [b], event_property_filters: {plan: pro}, weight: 1, half_life_days: 3, max_points: 4}\n"
        "match: {any: [same, {not: {min_active_users: 2}}]}\n"
    )
    (rule,) = load_rules(tmp_path)
    n = rule.normalised
    assert n["format"] == 2 and n["decay"] == {"half_life_days": 14.0}
    assert [(s["name"], s["window_days"], s["half_life_days"], s["max_points"], s["rollup"]) for s in n["signals"]] == [
        ("same", 7, 14.0, None, None),
        ("own", 30, 3.0, 4.0, "beton_int_filtered_activity__v2__own"),
    ]
    assert n["match"] == {"any": [{"signal": "same"}, {"not": {"threshold": "min_active_users", "value": 2}}]}
    assert [r.model_name for r in rule.filtered_rollups()] == ["beton_int_filtered_activity__v2__own"]
