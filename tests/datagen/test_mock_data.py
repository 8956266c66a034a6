"""The mock data seeds, and the pandas oracle that the rule tests take expected values from.

Three groups:

* the committed seeds are exactly what ``beton_runner.mock_data`` generates, in this process
  and in a fresh one, and they keep the data contract (sizes, library, ``as_of``);
* every rule finds something on the mock data, but not everything, and the designed stories
  and near misses hold;
* ``oracle.py`` itself, on tiny hand-made frames whose expected values are worked out by hand.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

import oracle
from beton_runner.datagen import mock as mock_data

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
RULE_FILES = sorted((REPO / "rules").glob("*.yml"))
AS_OF = datetime(2026, 10, 1, 12, 0, 0)


def _rule(stem: str) -> dict:
    return yaml.safe_load((REPO / "rules" / f"{stem}.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def mock() -> dict[str, pd.DataFrame]:
    return oracle.load_mock(SEEDS)


def _punch_list(rule: dict, data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return oracle.punch_list(rule, data["events"], data["persons"], data["person_distinct_id"], data["accounts"], AS_OF)


def _entity_column(rule: dict) -> str:
    return "user_id" if rule["level"] == "user" else "account_id"


# ---------------------------------------------------------------------------------------------
# Generation is deterministic and the committed seeds are current
# ---------------------------------------------------------------------------------------------


def _assert_same_files(generated: Path) -> None:
    for rel in mock_data.SEED_FILES.values():
        committed = (SEEDS / rel).read_bytes()
        assert (generated / rel).read_bytes() == committed, (
            f"seeds/{rel} differs from a fresh generation: run "
            "`python -m beton_runner.datagen.mock` and commit the result"
        )


def test_regenerating_gives_the_committed_files(tmp_path: Path) -> None:
    counts = mock_data.write_mock_seeds(tmp_path)
    _assert_same_files(tmp_path)
    assert counts["standard_events"] == 31
    assert counts["mock_accounts"] == 15
    assert counts["mock_persons"] == 15


def test_regenerating_in_a_fresh_process_gives_the_committed_files(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "4242", "TZ": "Pacific/Kiritimati"}
    result = subprocess.run(
        [sys.executable, "-m", "beton_runner.datagen.mock", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "mock_events.csv" in result.stdout
    _assert_same_files(tmp_path)


def test_files_are_utf8_csv_with_newline_line_endings() -> None:
    for rel in mock_data.SEED_FILES.values():
        raw = (SEEDS / rel).read_bytes()
        assert b"\r" not in raw, rel
        assert raw.endswith(b"\n"), rel
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
        assert len({len(r) for r in rows}) == 1, f"{rel}: ragged rows"


# ---------------------------------------------------------------------------------------------
# The data contract
# ---------------------------------------------------------------------------------------------


def test_sizes(mock: dict[str, pd.DataFrame]) -> None:
    assert len(mock["standard_events"]) == 31
    assert len(mock["accounts"]) == 15
    assert len(mock["persons"]) == 15
    assert 4000 <= len(mock["events"]) <= 15000
    assert mock["accounts"]["account_id"].is_unique
    assert mock["persons"]["id"].is_unique
    assert mock["events"]["uuid"].is_unique


def test_columns(mock: dict[str, pd.DataFrame]) -> None:
    assert list(mock["events"].columns) == ["uuid", "event", "distinct_id", "timestamp", "properties", "person_id"]
    assert list(mock["persons"].columns) == ["id", "created_at", "properties", "is_identified"]
    assert list(mock["person_distinct_id"].columns) == ["person_id", "distinct_id"]
    assert list(mock["accounts"].columns) == [
        "account_id",
        "name",
        "domain",
        "arr",
        "segment",
        "owner_email",
        "properties",
    ]
    assert list(mock["standard_events"].columns) == ["event_name", "category", "description"]


def test_standard_events_library_covers_rules_and_mock_events(mock: dict[str, pd.DataFrame]) -> None:
    library = mock["standard_events"]
    names = set(library["event_name"])
    assert len(names) == 31
    assert set(library["category"]) == {"activation", "engagement", "collaboration", "expansion", "intent", "risk"}
    for path in RULE_FILES:
        used = set(yaml.safe_load(path.read_text())["conditions"].get("event_names") or [])
        assert used <= names, f"{path.name}: {sorted(used - names)} not in the library"
    unknown = set(mock["events"]["event"]) - names
    assert not unknown, f"mock events not in the library: {sorted(unknown)}"


def test_events_span_about_90_days_and_never_pass_as_of(mock: dict[str, pd.DataFrame]) -> None:
    ts = mock["events"]["timestamp"]
    assert ts.max() <= AS_OF, "an event is after the mock as_of"
    assert ts.max() == AS_OF  # one event sits exactly on the boundary
    assert (AS_OF - ts.min()).days >= 90  # the 90-day window has events just outside it


def test_accounts_and_persons_are_well_formed(mock: dict[str, pd.DataFrame]) -> None:
    accounts = mock["accounts"]
    assert set(accounts["segment"]) == {"SMB", "Mid-Market", "Enterprise"}
    assert accounts["arr"].isna().any() and accounts["arr"].notna().any()
    for props in accounts["properties"]:
        assert {"industry", "employees", "country"} <= set(json.loads(props))
    plans = {json.loads(props).get("plan") for props in accounts["properties"]}
    assert plans == {"free", "trial", "team", "business", "enterprise", None}
    for props in mock["persons"]["properties"]:
        assert {"email", "name", "job_title", "company_domain"} <= set(json.loads(props))
    pdi = mock["person_distinct_id"]
    assert pdi["distinct_id"].is_unique
    assert set(pdi["person_id"]) == set(mock["persons"]["id"])
    assert (pdi.groupby("person_id").size() > 1).sum() >= 3  # pre-signup anonymous ids


def test_events_exercise_identity_and_account_linking(mock: dict[str, pd.DataFrame]) -> None:
    events = mock["events"]
    mapped = set(mock["person_distinct_id"]["distinct_id"])
    assert (~events["distinct_id"].isin(mapped)).any(), "no unresolved distinct id"
    assert events["person_id"].isna().any(), "no event without person_id"
    domains = events["properties"].map(lambda p: oracle.property_text(p, "company_domain"))
    assert domains.isna().any(), "no event without company_domain"
    accounts = set(mock["accounts"]["domain"])
    odd = domains.dropna()[~domains.dropna().isin(accounts)]
    assert odd.map(lambda d: d.strip().lower() in accounts).any(), "no case/space variant"
    assert (~odd.map(lambda d: d.strip().lower()).isin(accounts)).any(), "no foreign domain"
    linked = oracle.entities_with_events(events, mock["person_distinct_id"], mock["accounts"], "account")
    assert len(linked) < len(mock["accounts"]), "every account has events"


# ---------------------------------------------------------------------------------------------
# Every rule finds some entities, not all of them
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_every_rule_finds_some_but_not_all(path: Path, mock: dict[str, pd.DataFrame]) -> None:
    rule = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = set(_punch_list(rule, mock)[_entity_column(rule)])
    with_events = oracle.entities_with_events(
        mock["events"], mock["person_distinct_id"], mock["accounts"], rule["level"], AS_OF
    )
    assert found, f"rule {path.stem} ({rule['name']}) finds nothing on the mock data"
    assert found < with_events, f"rule {path.stem} ({rule['name']}) finds every {rule['level']} with events"


#: The findings the mock data was designed to produce (see beton_runner/datagen/mock.py).
EXPECTED_FINDINGS = {
    "churn_risk_previously_active_now_quiet": ["acc_006"],
    # Northwind's fit (Enterprise, 3,400 employees, ARR 240k: +20) outranks Acme's (+13)
    "pqa_active_accounts_multiple_users": ["acc_002", "acc_001"],
    "pqa_expansion_ready": ["acc_001"],
    "pqa_free_plan_enterprise_interest": ["acc_003", "acc_007"],
    # rule format 2: demo requests and fresh pricing views lead; usage limits and seats follow
    "pql_buying_signals": [
        "person_011",
        "person_007",
        "anon_e93a0c4b7f12",
        "person_009",
        "person_012",
        "person_008",
        "person_014",
    ],
    "pql_heavy_api_users_on_paid_plan": ["person_009", "person_003"],
    "pql_high_intent_trial_users": ["person_012"],
    "pql_power_users": ["person_001", "person_009", "person_004"],
    "pql_pricing_intent": ["person_007", "person_011", "anon_e93a0c4b7f12", "person_012"],
}


def test_every_rule_has_a_designed_story() -> None:
    assert sorted(EXPECTED_FINDINGS) == [p.stem for p in RULE_FILES]


@pytest.mark.parametrize("stem", sorted(EXPECTED_FINDINGS))
def test_designed_findings_in_rank_order(stem: str, mock: dict[str, pd.DataFrame]) -> None:
    rule = _rule(stem)
    found = _punch_list(rule, mock)
    assert list(found[_entity_column(rule)]) == EXPECTED_FINDINGS[stem], stem
    assert list(found["rank"]) == list(range(1, len(found) + 1))


#: Tier and grade of each finding of the shipped rules that declare them, worked out by hand
#: from docs/rules.md ("Fit", "Tiers", "Grade") and the rule files.
EXPECTED_TIERS = {
    # score_fit: Northwind 10 + 5 + 5 = 20 (A: >= 15), behaviour 32.17 (2: >= 20); score 52.17 hot (>= 50)
    # Acme 10 + 3 = 13 (B: >= 10), behaviour 35.39 (1: >= 35); score 48.39 warm (>= 30)
    "pqa_active_accounts_multiple_users": [("acc_002", 20.0, "hot", "A2"), ("acc_001", 13.0, "warm", "B1")],
    # 4 findings, {hot: 25, warm: 75}: the best hot (0 < 100), the next two warm (100, 200 < 300), the last cold.
    # Grace: Bluebird Mid-Market +4, 640 employees +2, Director +3 = 9 (A: >= 7), behaviour 7.89 (1: >= 7)
    # Leo: Lumen Labs SMB, 18 employees, Founder +3 = 3 (B: >= 3), behaviour 7.39 (1)
    # the anonymous id: no person (no email: -3), its events' account Meridian Bank (Enterprise +4, 12,000 employees +2) = 3 (B), behaviour 5.72 (2: >= 5)
    # Mia: Pipewise SMB, 12 employees, Head of Growth +3 = 3 (B), behaviour 4.77 (3)
    "pql_pricing_intent": [
        ("person_007", 9.0, "hot", "A1"),
        ("person_011", 3.0, "warm", "B1"),
        ("anon_e93a0c4b7f12", 3.0, "warm", "B2"),
        ("person_012", 3.0, "cold", "B3"),
    ],
}


@pytest.mark.parametrize("stem", sorted(EXPECTED_TIERS))
def test_designed_fit_tiers_and_grades(stem: str, mock: dict[str, pd.DataFrame]) -> None:
    found = _punch_list(_rule(stem), mock)
    entity = _entity_column(_rule(stem))
    assert list(zip(found[entity], found["score_fit"], found["tier"], found["grade"])) == EXPECTED_TIERS[stem]


#: (rule, entity, the one condition that rejects it): each entity is not a finding, and
#: becomes one when just that condition is dropped.
NEAR_MISSES = [
    ("churn_risk_previously_active_now_quiet", "acc_012", "min_days_since_last_event"),
    ("churn_risk_previously_active_now_quiet", "acc_013", "min_account_events"),
    ("pqa_active_accounts_multiple_users", "acc_003", "min_active_users"),
    ("pqa_active_accounts_multiple_users", "acc_011", "min_account_events"),
    ("pqa_expansion_ready", "acc_002", "max_days_since_last_event"),
    ("pqa_expansion_ready", "acc_003", "min_active_users"),
    ("pqa_free_plan_enterprise_interest", "acc_004", "event_property_filters"),
    ("pqa_free_plan_enterprise_interest", "acc_010", "min_account_events"),
    ("pql_heavy_api_users_on_paid_plan", "person_006", "min_event_count"),
    ("pql_high_intent_trial_users", "person_005", "min_active_days"),
    ("pql_high_intent_trial_users", "person_013", "max_days_since_last_event"),
    ("pql_power_users", "person_003", "min_distinct_events"),
    ("pql_power_users", "person_005", "min_active_days"),
    ("pql_power_users", "person_008", "max_days_since_last_event"),
    ("pql_pricing_intent", "anon_a6c1e57d2b90", "min_event_count"),
    ("pql_pricing_intent", "person_009", "max_days_since_last_event"),
    ("pql_pricing_intent", "person_013", "min_distinct_events"),
]


@pytest.mark.parametrize("stem,entity,condition", NEAR_MISSES, ids=[f"{s}-{e}-{c}" for s, e, c in NEAR_MISSES])
def test_near_miss_fails_only_one_condition(
    stem: str, entity: str, condition: str, mock: dict[str, pd.DataFrame]
) -> None:
    rule = _rule(stem)
    column = _entity_column(rule)
    assert entity not in set(_punch_list(rule, mock)[column])
    relaxed = {**rule, "conditions": {k: v for k, v in rule["conditions"].items() if k != condition}}
    assert entity in set(_punch_list(relaxed, mock)[column]), f"{entity} is not rejected by {stem}'s {condition} alone"


@pytest.mark.parametrize("entity,regex_or_plan", [("person_002", "sdk_version"), ("person_011", "plan")])
def test_api_users_rejected_by_one_property_filter(
    entity: str, regex_or_plan: str, mock: dict[str, pd.DataFrame]
) -> None:
    rule = _rule("pql_heavy_api_users_on_paid_plan")
    assert entity not in set(_punch_list(rule, mock)["user_id"])
    filters = {k: v for k, v in rule["conditions"]["event_property_filters"].items() if k != regex_or_plan}
    relaxed = {**rule, "conditions": {**rule["conditions"], "event_property_filters": filters}}
    assert entity in set(_punch_list(relaxed, mock)["user_id"])


def test_identity_resolution_changes_mock_results(mock: dict[str, pd.DataFrame]) -> None:
    """Mia's pricing interest spans her anonymous and identified ids; Bluebird's third
    'user' is Grace's own pre-signup id."""
    unresolved = {**mock, "person_distinct_id": mock["person_distinct_id"].iloc[0:0]}
    pricing = _rule("pql_pricing_intent")
    assert "person_012" in set(_punch_list(pricing, mock)["user_id"])
    assert "mia.rossi@pipewise.app" not in set(_punch_list(pricing, unresolved)["user_id"])
    teams = _rule("pqa_active_accounts_multiple_users")
    assert "acc_003" in set(_punch_list(teams, unresolved)["account_id"])


def test_punch_list_columns_on_mock(mock: dict[str, pd.DataFrame]) -> None:
    users = _punch_list(_rule("pql_pricing_intent"), mock)
    assert list(users.columns) == oracle.USER_COLUMNS
    mia = users.set_index("user_id").loc["person_012"]
    assert (mia["email"], mia["name"]) == ("mia.rossi@pipewise.app", "Mia Rossi")
    assert pd.isna(users.set_index("user_id").loc["anon_e93a0c4b7f12", "email"])
    accounts = _punch_list(_rule("pqa_free_plan_enterprise_interest"), mock)
    assert list(accounts.columns) == oracle.ACCOUNT_COLUMNS
    lumen = accounts.set_index("account_id").loc["acc_007"]
    assert (lumen["name"], lumen["domain"], lumen["segment"]) == ("Lumen Labs", "lumenlabs.ai", "SMB")
    assert math.isnan(lumen["arr"])
    assert (accounts["as_of"] == pd.Timestamp(AS_OF)).all()


# ---------------------------------------------------------------------------------------------
# The oracle on hand-made frames
# ---------------------------------------------------------------------------------------------

PERSONS = pd.DataFrame(
    {
        "id": ["p1", "p2", "p3"],
        "created_at": ["2026-01-01 00:00:00"] * 3,
        "properties": [
            json.dumps({"email": "ann@acme.io", "name": "Ann"}),
            json.dumps({"email": "bo@acme.io", "name": "Bo"}),
            json.dumps({"email": "cy@beta.io", "name": "Cy"}),
        ],
        "is_identified": [True, True, True],
    }
)
PDI = pd.DataFrame({"person_id": ["p1", "p1", "p2", "p3"], "distinct_id": ["ann@acme.io", "anon_ann", "bo", "cy"]})
ACCOUNTS = pd.DataFrame(
    {
        "account_id": ["a1", "a2"],
        "name": ["Acme", "Beta"],
        "domain": ["acme.io", " Beta.IO"],
        "arr": [1200.0, float("nan")],
        "segment": ["SMB", None],
        "owner_email": ["x@y.z", None],
        "properties": ["{}", "{}"],
    }
)


def _events(*rows: tuple) -> pd.DataFrame:
    """Rows of (event, distinct_id, timestamp, properties dict)."""
    return pd.DataFrame(
        [(f"u{i}", e, d, ts, json.dumps(p), None) for i, (e, d, ts, p) in enumerate(rows)],
        columns=["uuid", "event", "distinct_id", "timestamp", "properties", "person_id"],
    )


def _rule_of(level: str = "user", days: int = 7, weights: dict | None = None, **conditions: object) -> dict:
    rule = {"name": "t", "level": level, "time_window_days": days, "conditions": conditions}
    if weights is not None:
        rule["scoring_weights"] = weights
    return rule


def _run(rule: dict, events: pd.DataFrame, as_of: datetime = AS_OF) -> pd.DataFrame:
    return oracle.punch_list(rule, events, PERSONS, PDI, ACCOUNTS, as_of)


def test_window_boundaries() -> None:
    # N = 7, as_of 2026-10-01 12:00: the window is 2026-09-25 00:00 .. 2026-10-01 12:00.
    events = _events(
        ("a", "bo", "2026-09-24 23:59:59", {}),  # date(as_of) - 7: outside
        ("a", "bo", "2026-09-25 00:00:00", {}),  # date(as_of) - 6: inside
        ("a", "bo", "2026-10-01 12:00:00", {}),  # as_of itself: inside
        ("a", "bo", "2026-10-01 12:00:01", {}),  # after as_of: outside
    )
    found = _run(_rule_of(days=7), events)
    assert len(found) == 1
    bo = found.iloc[0]
    assert (bo["user_id"], bo["email"], bo["name"]) == ("p2", "bo@acme.io", "Bo")
    assert (bo["event_count"], bo["active_days"], bo["distinct_events"]) == (2, 2, 1)
    assert bo["last_seen"] == pd.Timestamp("2026-10-01 12:00:00")
    assert bo["days_since_last_event"] == 0
    assert bo["score"] == pytest.approx(math.log(3) + 2)  # default weights 1, 1, 0
    assert bo["as_of"] == pd.Timestamp(AS_OF)
    # N = 1 is just the as_of date up to as_of
    assert _run(_rule_of(days=1), events).iloc[0]["event_count"] == 1


def test_days_since_last_event_counts_calendar_days() -> None:
    events = _events(("a", "bo", "2026-09-30 23:59:00", {}))  # 12 hours before as_of
    found = _run(_rule_of(days=7, weights={"recency_weight": -2.0}), events)
    assert found.iloc[0]["days_since_last_event"] == 1
    assert found.iloc[0]["score"] == pytest.approx(math.log(2) + 1 - 2)
    assert _run(_rule_of(max_days_since_last_event=0), events).empty
    assert len(_run(_rule_of(min_days_since_last_event=1), events)) == 1
    assert _run(_rule_of(min_days_since_last_event=2), events).empty


def test_identity_resolution() -> None:
    events = _events(
        ("a", "anon_ann", "2026-09-28 10:00:00", {}),  # Ann before signing up
        ("b", "ann@acme.io", "2026-09-29 10:00:00", {}),  # Ann identified
        ("a", "stranger", "2026-09-30 10:00:00", {}),  # maps to no person
    )
    found = _run(_rule_of(), events).set_index("user_id")
    assert sorted(found.index) == ["p1", "stranger"]
    assert (found.loc["p1", "event_count"], found.loc["p1", "distinct_events"]) == (2, 2)
    assert found.loc["p1", "email"] == "ann@acme.io"
    assert pd.isna(found.loc["stranger", "email"]) and pd.isna(found.loc["stranger", "name"])
    # the events' own person_id column is not used: the mapping is authoritative
    stale = events.assign(person_id="p9")
    assert sorted(_run(_rule_of(), stale)["user_id"]) == ["p1", "stranger"]


def test_distinct_id_mapped_to_several_persons_takes_the_smallest() -> None:
    pdi = pd.DataFrame({"person_id": ["p3", "p2"], "distinct_id": ["shared", "shared"]})
    found = oracle.punch_list(
        _rule_of(), _events(("a", "shared", "2026-09-30 10:00:00", {})), PERSONS, pdi, ACCOUNTS, AS_OF
    )
    assert list(found["user_id"]) == ["p2"]


def test_account_link_is_trimmed_and_case_insensitive() -> None:
    events = _events(
        ("a", "cy", "2026-09-30 10:00:00", {"company_domain": "beta.io"}),
        ("a", "cy", "2026-09-30 11:00:00", {"company_domain": " BETA.io  "}),
        ("a", "bo", "2026-09-30 11:00:00", {"company_domain": "ACME.IO"}),
        ("a", "bo", "2026-09-30 12:00:00", {"company_domain": "gamma.io"}),  # no account
        ("a", "bo", "2026-09-30 13:00:00", {}),  # no domain
    )
    found = _run(_rule_of("account"), events).set_index("account_id")
    assert sorted(found.index) == ["a1", "a2"]
    assert found.loc["a2", "event_count"] == 2 and found.loc["a1", "event_count"] == 1
    assert found.loc["a2", "domain"] == " Beta.IO" and math.isnan(found.loc["a2", "arr"])
    assert found.loc["a1", "arr"] == 1200.0 and found.loc["a1", "segment"] == "SMB"
    # the unlinked events still count for user rules
    assert _run(_rule_of(), events).set_index("user_id").loc["p2", "event_count"] == 3


def test_min_event_count_versus_min_account_events() -> None:
    rows = [
        ("added_seat", "ann@acme.io", "2026-09-30 10:00:00", {"company_domain": "acme.io"}),
        ("added_seat", "bo", "2026-09-29 10:00:00", {"company_domain": "acme.io"}),
    ]
    rows += [("logged_in", "bo", f"2026-09-2{d} 09:00:00", {"company_domain": "acme.io"}) for d in range(5, 9)]
    rows += [("logged_in", "bo", "2026-09-20 09:00:00", {"company_domain": "acme.io"})]  # old
    events = _events(*rows)
    base = dict(event_names=["added_seat"], min_event_count=2)
    found = _run(_rule_of("account", min_account_events=6, **base), events)
    a1 = found.set_index("account_id").loc["a1"]
    # 2 matching events by 2 users; 6 events of any kind in the 7-day window
    assert (a1["event_count"], a1["active_users"], a1["account_events"]) == (2, 2, 6)
    assert (a1["distinct_events"], a1["active_days"], a1["days_since_last_event"]) == (1, 2, 1)
    assert _run(_rule_of("account", min_account_events=7, **base), events).empty
    assert _run(_rule_of("account", event_names=["added_seat"], min_event_count=3), events).empty
    assert _run(_rule_of("account", min_active_users=3, **base), events).empty


def test_active_users_counts_unresolved_ids_and_resolves_the_others() -> None:
    events = _events(
        ("a", "anon_ann", "2026-09-30 10:00:00", {"company_domain": "acme.io"}),
        ("a", "ann@acme.io", "2026-09-30 11:00:00", {"company_domain": "acme.io"}),
        ("a", "visitor_1", "2026-09-30 12:00:00", {"company_domain": "acme.io"}),
    )
    found = _run(_rule_of("account"), events)
    assert found.iloc[0]["active_users"] == 2  # Ann (two ids) and the visitor


def test_no_matching_event_means_no_finding() -> None:
    events = _events(("logged_in", "bo", "2026-09-30 10:00:00", {}), ("ran_query", "cy", "2026-09-30 10:00:00", {}))
    found = _run(_rule_of(event_names=["ran_query"]), events)
    assert list(found["user_id"]) == ["p3"]


def test_score_and_rank_ties_by_entity_id() -> None:
    weights = {"event_count_weight": 1.0, "active_days_weight": 2.0, "recency_weight": -0.5}
    events = _events(
        ("a", "cy", "2026-09-29 10:00:00", {}),
        ("a", "cy", "2026-09-30 10:00:00", {}),
        ("a", "cy", "2026-09-30 11:00:00", {}),
        ("a", "bo", "2026-09-29 10:00:00", {}),
        ("a", "bo", "2026-09-30 10:00:00", {}),
        ("a", "bo", "2026-09-30 11:00:00", {}),
        ("a", "stranger", "2026-10-01 10:00:00", {}),
    )
    found = _run(_rule_of(weights=weights), events)
    # p2 and p3: ln(1+3) + 2*2 - 0.5*1 = 4.886; stranger: ln(2) + 2*1 - 0 = 2.693
    assert list(found["user_id"]) == ["p2", "p3", "stranger"]
    assert list(found["rank"]) == [1, 2, 3]
    assert list(found["score"]) == pytest.approx([math.log(4) + 3.5, math.log(4) + 3.5, math.log(2) + 2])
    assert list(found.columns) == oracle.USER_COLUMNS


def test_conditions_on_counts_and_days() -> None:
    events = _events(
        ("a", "bo", "2026-09-28 10:00:00", {}),
        ("b", "bo", "2026-09-28 11:00:00", {}),
        ("a", "bo", "2026-09-30 10:00:00", {}),
    )
    assert len(_run(_rule_of(min_event_count=3, min_distinct_events=2, min_active_days=2), events)) == 1
    assert _run(_rule_of(min_event_count=4), events).empty
    assert _run(_rule_of(min_distinct_events=3), events).empty
    assert _run(_rule_of(min_active_days=3), events).empty


PROPS = json.dumps(
    {
        "plan": "team",
        "seats": 5,
        "ratio": 2.5,
        "text_num": "5",
        "flag": True,
        "sdk_version": "2.4.0",
        "gone": None,
        "$current_url": "https://x.io/pricing",
        "plan.tier": "gold",
        "word": "five",
    }
)


@pytest.mark.parametrize(
    "key,spec,expected",
    [
        # eq (bare value or explicit): strings exactly, numbers numerically, booleans as text
        ("plan", "team", True),
        ("plan", "Team", False),
        ("plan", {"eq": "team"}, True),
        ("seats", 5, True),
        ("seats", 5.0, True),
        ("seats", "5", True),
        ("seats", 6, False),
        ("text_num", 5, True),
        ("word", 5, False),
        ("ratio", 2.5, True),
        ("ratio", "2.5", True),
        ("flag", True, True),
        ("flag", "true", True),
        ("flag", False, False),
        ("missing", "team", False),
        ("gone", "team", False),
        ("plan.tier", "gold", True),
        ("$current_url", {"contains": "/pricing"}, True),
        # neq: true when not set
        ("plan", {"neq": "free"}, True),
        ("plan", {"neq": "team"}, False),
        ("missing", {"neq": "free"}, True),
        ("gone", {"neq": "free"}, True),
        ("seats", {"neq": 5}, False),
        ("word", {"neq": 5}, True),
        # in / not_in
        ("plan", {"in": ["free", "team"]}, True),
        ("plan", {"in": ["free"]}, False),
        ("missing", {"in": ["free"]}, False),
        ("seats", {"in": [4, 5]}, True),
        ("plan", {"not_in": ["free"]}, True),
        ("plan", {"not_in": ["team"]}, False),
        ("missing", {"not_in": ["free"]}, True),
        # contains: case-sensitive; not set never contains
        ("plan", {"contains": "ea"}, True),
        ("plan", {"contains": "EA"}, False),
        ("missing", {"contains": ""}, False),
        ("seats", {"contains": "5"}, True),
        # regex: partial match unless anchored
        ("sdk_version", {"regex": "^[2-9]\\."}, True),
        ("sdk_version", {"regex": "4\\.0"}, True),
        ("sdk_version", {"regex": "^4"}, False),
        ("missing", {"regex": ".*"}, False),
        # gt/gte/lt/lte: numbers and numeric text; anything else fails
        ("seats", {"gte": 5}, True),
        ("seats", {"gt": 5}, False),
        ("seats", {"lt": 5.5}, True),
        ("seats", {"lte": 4}, False),
        ("text_num", {"gte": 5}, True),
        ("ratio", {"gt": 2}, True),
        ("word", {"gte": 0}, False),
        ("missing", {"lt": 100}, False),
        ("flag", {"gte": 0}, False),
        ("seats", {"gte": 5, "lt": 6}, True),
        ("seats", {"gte": 1, "lt": 5}, False),
        # is_set / is_not_set: JSON null is not set
        ("plan", {"is_set": True}, True),
        ("gone", {"is_set": True}, False),
        ("missing", {"is_set": True}, False),
        ("gone", {"is_not_set": True}, True),
        ("missing", {"is_not_set": True}, True),
        ("plan", {"is_not_set": True}, False),
    ],
)
def test_property_filter_operators(key: str, spec: object, expected: bool) -> None:
    assert oracle.filter_holds(spec, oracle.property_text(PROPS, key)) is expected


def test_property_text_reads_values_as_text() -> None:
    props = '{"n": 5, "x": 2.5, "s": "5", "b": false, "z": null, "o": {"a": 1}}'
    assert oracle.property_text(props, "n") == "5"
    assert oracle.property_text(props, "x") == "2.5"
    assert oracle.property_text(props, "s") == "5"
    assert oracle.property_text(props, "b") == "false"
    assert oracle.property_text(props, "z") is None
    assert oracle.property_text(props, "missing") is None
    assert oracle.property_text(props, "o") == '{"a":1}'
    assert oracle.property_text(None, "n") is None


def test_property_filters_in_a_punch_list() -> None:
    events = _events(
        ("used_api", "bo", "2026-09-30 10:00:00", {"plan": "team", "request_count": 12}),
        ("used_api", "bo", "2026-09-30 11:00:00", {"plan": "team", "request_count": "15"}),
        ("used_api", "bo", "2026-09-30 12:00:00", {"plan": "team", "request_count": 3}),
        ("used_api", "cy", "2026-09-30 10:00:00", {"plan": "free", "request_count": 50}),
        ("used_api", "stranger", "2026-09-30 10:00:00", {"request_count": 50}),  # no plan
    )
    rule = _rule_of(
        event_names=["used_api"], event_property_filters={"plan": {"neq": "free"}, "request_count": {"gte": 10}}
    )
    found = _run(rule, events).set_index("user_id")
    assert sorted(found.index) == ["p2", "stranger"]
    assert found.loc["p2", "event_count"] == 2
