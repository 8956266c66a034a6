"""The exploratory views (models/explore/) against an independent pandas computation, on the
mock data and on a hand-made dataset with the awkward cases (unknown event names, events that
link to no person or account, a day without events, events before the window and after as_of).

The oracle below is written from the views' documented meaning (models/explore/_explore__models.yml),
not from their SQL; identity resolution and account linking come from tests/oracle.py
(docs/rules.md). ``explore(frames, as_of, days)`` gives one DataFrame per explore model
(``explore_data_health`` as a one-row frame) with the model's columns (as_of left out)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from beton_runner.dbt import run_dbt
from beton_runner.errors import DbtCommandError
from beton_runner.project import Project
from conftest import MOCK_AS_OF, REPO, read_table, write_duckdb_inputs
from oracle import LINK_PROPERTY, _blank_to_none, _prepared, load_mock, property_text

EXPLORE_MODELS = [
    "explore_daily_activity",
    "explore_event_volume",
    "explore_top_events",
    "explore_top_users",
    "explore_top_accounts",
    "explore_unknown_events",
    "explore_data_health",
]

# ---------------------------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------------------------


def _person_map(person_distinct_id: pd.DataFrame) -> dict[str, str]:
    """distinct id -> the smallest person id it is mapped to (rows with a blank side ignored)."""
    mapping: dict[str, str] = {}
    for person_id, distinct_id in zip(person_distinct_id["person_id"], person_distinct_id["distinct_id"]):
        person_id, distinct_id = _blank_to_none(person_id), _blank_to_none(distinct_id)
        if person_id is None or distinct_id is None:
            continue
        if str(distinct_id) not in mapping or str(person_id) < mapping[str(distinct_id)]:
            mapping[str(distinct_id)] = str(person_id)
    return mapping


def _account_by_key(accounts: pd.DataFrame) -> dict[str, str]:
    by_key: dict[str, str] = {}
    for account_id, domain in sorted(zip(accounts["account_id"], accounts["domain"]), key=lambda p: str(p[0])):
        domain = _blank_to_none(domain)
        if domain is not None:
            by_key.setdefault(str(domain).strip().lower(), str(account_id))
    return by_key


def users(ev: pd.DataFrame, persons: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Every person and every distinct id that resolves to no person, with profile and account:
    the person's link property's account, else the account most of their events link to."""
    by_key = _account_by_key(accounts)
    linked = ev[ev["account_id"].notna()]
    counts = linked.groupby(["user_id", "account_id"]).size().reset_index(name="n")
    counts = counts.sort_values(["user_id", "n", "account_id"], ascending=[True, False, True])
    main_account = counts.drop_duplicates("user_id").set_index("user_id")["account_id"].to_dict()
    rows = []
    person_ids = set()
    for person in persons.itertuples(index=False):
        person_id = str(person.id)
        person_ids.add(person_id)
        key = property_text(person.properties, LINK_PROPERTY)
        account = by_key.get(key.strip().lower()) if key is not None else None
        rows.append(
            {
                "user_id": person_id,
                "is_person": True,
                "email": property_text(person.properties, "email"),
                "name": property_text(person.properties, "name"),
                "job_title": property_text(person.properties, "job_title"),
                "account_id": account or main_account.get(person_id),
            }
        )
    for user_id in sorted(set(ev["user_id"]) - person_ids):
        rows.append(
            {
                "user_id": user_id,
                "is_person": False,
                "email": None,
                "name": None,
                "job_title": None,
                "account_id": main_account.get(user_id),
            }
        )
    return pd.DataFrame(rows).set_index("user_id", drop=False)


def explore(frames: dict[str, pd.DataFrame], as_of: datetime, days: int = 30) -> dict[str, pd.DataFrame]:
    events, persons, pdi, accounts = (
        frames["events"],
        frames["persons"],
        frames["person_distinct_id"],
        frames["accounts"],
    )
    library = frames["standard_events"]
    as_of = pd.Timestamp(as_of)
    ev = _prepared(events, pdi, accounts)
    mapping = _person_map(pdi)
    ev["is_resolved"] = ev["distinct_id"].map(lambda d: str(d) in mapping)
    first_day = as_of.date() - timedelta(days=days - 1)
    window = ev[(ev["day"] >= first_day) & (ev["timestamp"] <= as_of)]
    known = set(library["event_name"])
    category = dict(zip(library["event_name"], library["category"]))
    out: dict[str, pd.DataFrame] = {}

    daily = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        rows = window[window["day"] == day]
        daily.append(
            {
                "event_date": pd.Timestamp(day),
                "events": len(rows),
                "distinct_events": rows["event"].nunique(),
                "active_users": rows["user_id"].nunique(),
                "active_accounts": rows["account_id"].dropna().nunique(),
            }
        )
    out["explore_daily_activity"] = pd.DataFrame(daily)

    volume = [
        {
            "event_date": pd.Timestamp(day),
            "event_name": name,
            "events": len(g),
            "users": g["user_id"].nunique(),
            "accounts": g["account_id"].dropna().nunique(),
        }
        for (day, name), g in window.groupby(["day", "event"])
    ]
    out["explore_event_volume"] = pd.DataFrame(
        volume, columns=["event_date", "event_name", "events", "users", "accounts"]
    )

    def ranked(groups, key_name: str, rank_name: str, total: int, extra) -> pd.DataFrame:
        rows = []
        for key, g in groups:
            rows.append(
                {
                    key_name: key,
                    "events": len(g),
                    "share": len(g) / total if total else None,
                    "distinct_events": g["event"].nunique(),
                    "active_days": g["day"].nunique(),
                    "first_seen": g["timestamp"].min(),
                    "last_seen": g["timestamp"].max(),
                    **extra(key, g),
                }
            )
        rows.sort(key=lambda r: (-r["events"], str(r[key_name])))
        for rank, row in enumerate(rows, start=1):
            row[rank_name] = rank
        return pd.DataFrame(rows)

    top_events = ranked(
        window.groupby("event"),
        "event_name",
        "event_rank",
        len(window),
        lambda name, g: {
            "users": g["user_id"].nunique(),
            "accounts": g["account_id"].dropna().nunique(),
            "is_standard": name in known,
            "category": category.get(name),
        },
    )
    out["explore_top_events"] = top_events.rename(columns={"share": "share_of_events"}).drop(
        columns=["distinct_events"]
    )

    people = users(ev, persons, accounts)
    top_users = ranked(
        window.groupby("user_id"),
        "user_id",
        "activity_rank",
        len(window),
        lambda user_id, g: {
            c: people.loc[user_id, c] for c in ("is_person", "email", "name", "job_title", "account_id")
        },
    )
    out["explore_top_users"] = top_users.rename(columns={"share": "share_of_events"})

    linked = window[window["account_id"].notna()]
    info = accounts.set_index(accounts["account_id"].astype(str))
    top_accounts = ranked(
        linked.groupby("account_id"),
        "account_id",
        "usage_rank",
        len(linked),
        lambda account_id, g: {
            "active_users": g["user_id"].nunique(),
            **{c: _blank_to_none(info.loc[account_id, c]) for c in ("name", "domain", "segment", "arr")},
        },
    )
    out["explore_top_accounts"] = top_accounts.rename(columns={"share": "share_of_account_events"})

    unknown = ev[~ev["event"].isin(known)]
    out["explore_unknown_events"] = pd.DataFrame(
        [
            {
                "event_name": name,
                "events": len(g),
                "users": g["user_id"].nunique(),
                "first_seen": g["timestamp"].min(),
                "last_seen": g["timestamp"].max(),
            }
            for name, g in unknown.groupby("event")
        ],
        columns=["event_name", "events", "users", "first_seen", "last_seen"],
    )

    n = len(ev)
    out["explore_data_health"] = pd.DataFrame(
        [
            {
                "window_days": days,
                "window_start_date": pd.Timestamp(first_day),
                "events": n,
                "events_in_window": len(window),
                "events_after_as_of": int((ev["timestamp"] > as_of).sum()),
                "first_event_at": ev["timestamp"].min() if n else None,
                "last_event_at": ev["timestamp"].max() if n else None,
                "event_days": ev["day"].nunique(),
                "persons": len(persons),
                "mapped_distinct_ids": len(mapping),
                "accounts": len(accounts),
                "event_distinct_ids": ev["distinct_id"].nunique(),
                "event_users": ev["user_id"].nunique(),
                "events_linked_to_person": int(ev["is_resolved"].sum()),
                "share_linked_to_person": ev["is_resolved"].sum() / n if n else None,
                "events_linked_to_account": int(ev["account_id"].notna().sum()),
                "share_linked_to_account": ev["account_id"].notna().sum() / n if n else None,
                "event_names": ev["event"].nunique(),
                "standard_event_names": len(known),
                "unknown_event_names": unknown["event"].nunique(),
                "unknown_events": len(unknown),
                "share_unknown_events": len(unknown) / n if n else None,
            }
        ]
    )
    return out


KEYS = {
    "explore_daily_activity": ["event_date"],
    "explore_event_volume": ["event_date", "event_name"],
    "explore_top_events": ["event_rank"],
    "explore_top_users": ["activity_rank"],
    "explore_top_accounts": ["usage_rank"],
    "explore_unknown_events": ["event_name"],
    "explore_data_health": ["window_days"],
}


def _null(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def assert_matches(actual: pd.DataFrame, expected: pd.DataFrame, model: str) -> int:
    """Every expected column and row (matched by the model's key) equals the actual one; floats
    to 1e-9. Returns the number of values compared."""
    key = KEYS[model]
    assert len(actual) == len(expected), f"{model}: {len(actual)} rows, expected {len(expected)}"
    if not len(expected):  # (a driver may give an empty result no columns)
        return 0
    missing = [c for c in expected.columns if c not in actual.columns]
    assert not missing, f"{model}: columns {missing} missing"
    actual = actual.copy()
    for column in actual.columns:
        if isinstance(actual[column].dtype, pd.DatetimeTZDtype):
            actual[column] = actual[column].dt.tz_convert("UTC").dt.tz_localize(None)
    for k in key:
        if "date" in k:
            actual[k] = pd.to_datetime(actual[k])
            expected = expected.assign(**{k: pd.to_datetime(expected[k])})
    actual = actual.sort_values(key).reset_index(drop=True)
    expected = expected.sort_values(key).reset_index(drop=True)
    compared = 0
    for column in expected.columns:
        for i, (a, e) in enumerate(zip(actual[column].tolist(), expected[column].tolist())):
            where = f"{model}: row {i + 1} ({', '.join(str(expected.loc[i, k]) for k in key)}), column {column}"
            if _null(e):
                assert _null(a) or a == "", f"{where}: expected null, got {a!r}"
            elif isinstance(e, bool):
                assert bool(a) is e, f"{where}: {a!r} != {e!r}"
            elif isinstance(e, float):
                assert float(a) == pytest.approx(e, rel=1e-9, abs=1e-12), f"{where}: {a!r} != {e!r}"
            elif isinstance(e, (pd.Timestamp, datetime)):
                assert pd.Timestamp(a) == pd.Timestamp(e), f"{where}: {a!r} != {e!r}"
            elif isinstance(e, int):
                assert int(a) == e, f"{where}: {a!r} != {e!r}"
            else:
                assert a == e, f"{where}: {a!r} != {e!r}"
            compared += 1
    return compared


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------


def warehouse_tables(db_path: Path) -> dict[str, pd.DataFrame]:
    return {model: read_table(db_path, "beton_explore", model) for model in EXPLORE_MODELS}


def test_explore_views_on_the_mock_data_equal_the_oracle(mock_build):
    expected = explore(load_mock(REPO / "seeds"), MOCK_AS_OF, days=30)
    actual = warehouse_tables(mock_build.duckdb_path)
    compared = sum(assert_matches(actual[m], expected[m], m) for m in EXPLORE_MODELS)
    assert compared > 1000
    assert len(actual["explore_daily_activity"]) == 30
    assert (actual["explore_top_users"]["as_of"] == pd.Timestamp(MOCK_AS_OF)).all()


def test_every_explore_model_and_column_is_documented(mock_build):
    import yaml

    documented = {  # by the table each model builds (beton_explore_x builds explore_x)
        m["name"].removeprefix("beton_"): m
        for m in yaml.safe_load((REPO / "models" / "explore" / "_explore__models.yml").read_text())["models"]
    }
    assert set(documented) == set(EXPLORE_MODELS)
    for model, frame in warehouse_tables(mock_build.duckdb_path).items():
        assert documented[model].get("description"), model
        columns = {c["name"]: c for c in documented[model]["columns"]}
        assert list(columns) == list(frame.columns), f"{model}: documented columns differ from the view's"
        assert all(c.get("description") for c in columns.values()), model


AS_OF = datetime(2026, 5, 10, 15, 0, 0)
EVENTS = [  # uuid, event, distinct_id, timestamp, company_domain (None: no property)
    ("e01", "signed_up", "d1", "2026-05-04 10:00:00", "alpha.io"),  # before the 5-day window
    ("e02", "logged_in", "d1", "2026-05-06 00:00:00", "alpha.io"),  # the window's first instant
    ("e03", "logged_in", "d1", "2026-05-06 09:00:00", " ALPHA.io "),  # link key trimmed, lowercased
    ("e04", "singed_up", "d2", "2026-05-06 12:00:00", "beta.io"),  # a typo: not in the library
    ("e05", "custom_export", "d3", "2026-05-08 08:00:00", "nowhere.org"),  # no person, no account
    ("e06", "custom_export", "d3", "2026-05-08 09:00:00", None),  # no account property at all
    ("e07", "ran_query", "d2", "2026-05-10 14:59:59", "beta.io"),  # (2026-05-07 has no event)
    ("e08", "ran_query", "d1", "2026-05-10 15:00:00", "alpha.io"),  # exactly as_of: in
    ("e09", "ran_query", "d1", "2026-05-10 15:00:01", "alpha.io"),  # after as_of: out
    ("e10", "logged_in", "d4", "2026-05-09 11:00:00", "beta.io"),  # p3: account from events
    ("e11", "viewed_dashboard", "d5", "2026-05-09 12:00:00", "alpha.io"),  # p9: mapped, no persons row
]


def awkward_frames() -> dict[str, pd.DataFrame]:
    events = pd.DataFrame(
        [
            {
                "uuid": u,
                "event": e,
                "distinct_id": d,
                "timestamp": pd.Timestamp(t),
                "properties": json.dumps({} if dom is None else {"company_domain": dom, "plan": "team"}),
                "person_id": None,
            }
            for u, e, d, t, dom in EVENTS
        ]
    )
    persons = pd.DataFrame(
        [
            {
                "id": "p1",
                "created_at": pd.Timestamp("2026-01-01"),
                "is_identified": True,
                "properties": json.dumps(
                    {"email": "ann@alpha.io", "name": "Ann", "job_title": "CTO", "company_domain": "alpha.io"}
                ),
            },
            {
                "id": "p2",
                "created_at": pd.Timestamp("2026-01-02"),
                "is_identified": True,
                "properties": json.dumps({"email": "bob@beta.io", "name": "Bob", "company_domain": "beta.io"}),
            },
            {
                "id": "p3",
                "created_at": pd.Timestamp("2026-01-03"),
                "is_identified": True,
                "properties": json.dumps({"email": "cat@example.com", "name": "Cat"}),
            },
            {
                "id": "p4",
                "created_at": pd.Timestamp("2026-01-04"),
                "is_identified": False,
                "properties": json.dumps({"company_domain": "alpha.io"}),
            },
        ]
    )
    person_distinct_id = pd.DataFrame(
        [
            {"person_id": "p1", "distinct_id": "d1"},
            {"person_id": "p2", "distinct_id": "d2"},
            {"person_id": "p3", "distinct_id": "d4"},
            {"person_id": "p9", "distinct_id": "d5"},
            {"person_id": "p1", "distinct_id": "d1-other-device"},
        ]
    )
    accounts = pd.DataFrame(
        [
            {
                "account_id": "acc_a",
                "name": "Alpha",
                "domain": "alpha.io",
                "arr": 1000.0,
                "segment": "SMB",
                "owner_email": "o@x.io",
                "properties": "{}",
            },
            {
                "account_id": "acc_b",
                "name": "Beta",
                "domain": "beta.io",
                "arr": None,
                "segment": None,
                "owner_email": None,
                "properties": "{}",
            },
            {
                "account_id": "acc_c",
                "name": "Gamma",
                "domain": "gamma.io",
                "arr": 5.0,
                "segment": "SMB",
                "owner_email": None,
                "properties": "{}",
            },
        ]
    )
    library = load_mock(REPO / "seeds")["standard_events"]
    return {
        "events": events,
        "persons": persons,
        "person_distinct_id": person_distinct_id,
        "accounts": accounts,
        "standard_events": library,
    }


@pytest.fixture(scope="module")
def awkward_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explore_awkward")
    frames = awkward_frames()
    project = Project(dir=REPO, target="duckdb", duckdb_path=tmp / "awkward.duckdb", target_path=tmp / "target")
    write_duckdb_inputs(project.duckdb_path, frames)
    run_dbt(
        project,
        ["build"],
        select=["+path:models/explore"],
        vars={"beton_input": "source", "beton_as_of": AS_OF.strftime("%Y-%m-%d %H:%M:%S"), "beton_explore_days": 5},
    )
    return project, frames


def test_explore_views_on_awkward_data_equal_the_oracle(awkward_build):
    project, frames = awkward_build
    expected = explore(frames, AS_OF, days=5)
    actual = warehouse_tables(project.duckdb_path)
    for model in EXPLORE_MODELS:
        assert_matches(actual[model], expected[model], model)


def test_awkward_data_health_and_rankings_by_hand(awkward_build):
    """The same facts worked out by hand from EVENTS, so the oracle itself is checked too."""
    project, _ = awkward_build
    health = read_table(project.duckdb_path, "beton_explore", "explore_data_health").iloc[0]
    assert health["events"] == 11 and health["events_in_window"] == 9 and health["events_after_as_of"] == 1
    assert health["events_linked_to_person"] == 9  # all but d3's two
    assert health["share_linked_to_person"] == pytest.approx(9 / 11)
    assert health["events_linked_to_account"] == 9  # all but e05 and e06
    assert health["unknown_event_names"] == 2 and health["unknown_events"] == 3
    assert health["window_start_date"] == pd.Timestamp("2026-05-06")
    assert (health["persons"], health["mapped_distinct_ids"], health["accounts"]) == (4, 5, 3)
    daily = read_table(project.duckdb_path, "beton_explore", "explore_daily_activity").sort_values("event_date")
    assert daily["events"].tolist() == [3, 0, 2, 2, 2]
    assert daily["active_accounts"].tolist() == [2, 0, 0, 2, 2]
    top_users = read_table(project.duckdb_path, "beton_explore", "explore_top_users").sort_values("activity_rank")
    assert top_users["user_id"].tolist() == ["p1", "d3", "p2", "p3", "p9"]  # ties by user id
    assert top_users.set_index("user_id").loc["p3", "account_id"] == "acc_b"  # from its events
    assert not top_users.set_index("user_id").loc["p9", "is_person"]
    top_events = read_table(project.duckdb_path, "beton_explore", "explore_top_events").sort_values("event_rank")
    assert top_events["event_name"].tolist()[:3] == ["logged_in", "custom_export", "ran_query"]
    assert top_events.set_index("event_name")["is_standard"].to_dict()["singed_up"] == False  # noqa: E712
    assert pd.isna(top_events.set_index("event_name").loc["singed_up", "category"])
    unknown = read_table(project.duckdb_path, "beton_explore", "explore_unknown_events").set_index("event_name")
    assert unknown["events"].to_dict() == {"custom_export": 2, "singed_up": 1}


def test_a_bad_explore_window_fails_with_a_message_naming_the_var(tmp_path):
    project = Project(dir=REPO, target="duckdb", duckdb_path=tmp_path / "w.duckdb", target_path=tmp_path / "target")
    with pytest.raises(DbtCommandError) as excinfo:
        run_dbt(project, ["compile"], select=["beton_explore_daily_activity"], vars={"beton_explore_days": 0})
    assert "beton_explore_days" in str(excinfo.value) and "1 to 3660" in str(excinfo.value)
