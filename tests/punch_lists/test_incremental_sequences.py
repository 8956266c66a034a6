"""Incremental state never lies, whatever happens between runs (issue #12, item 5): random
sequences of operations — new days, late events, future-dated events, duplicated events,
identity merges, input switches (mock <-> source, another account link), rule edits and
runs killed part-way (SIGKILL to dbt) — and after every step, every table and view the project
builds (every relation in every beton_* schema) equals a full rebuild from scratch, on the same
input at the same as_of, in a new DuckDB file.

Affordable by default, more with knobs:
- BETON_SEQUENCE_STEPS (default 8): operations per sequence. The first 8 steps of every
  sequence are the 8 kinds of operation in a random order, so every kind runs in CI; later
  steps are drawn at random.
- BETON_SEQUENCE_EXAMPLES (default 1): how many sequences.
Each step costs two dbt builds (about 15-25 s on 2 cores)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from beton_runner.dbt import _dbt_args, run_dbt
from beton_runner.project import Project
from conftest import copy_project, rule_documents, write_duckdb_inputs, write_rules

STEPS = int(os.environ.get("BETON_SEQUENCE_STEPS", "8"))
EXAMPLES = int(os.environ.get("BETON_SEQUENCE_EXAMPLES", "1"))
KINDS = [
    "append_days",
    "late_events",
    "future_event",
    "duplicates",
    "identity_merge",
    "switch_input",
    "edit_rule",
    "kill_mid_run",
]
LOOKBACK_DAYS = 3  # var beton_incremental_lookback_days' default: late events within it are picked up
FIRST_DAY = datetime(2026, 9, 1)
DOMAINS = ["acme.io", "globex.com", "initech.com"]
PEOPLE = [f"p{i}" for i in range(1, 5)]
KNOWN_IDS = [f"d{i}" for i in range(1, 5)]
ANON_IDS = [f"anon{i}" for i in range(1, 4)]
PLANS = ["free", "team", "business"]
INPUTS = {
    "source": {"beton_input": "source"},
    "source, other account link": {"beton_input": "source", "beton_account_link_property": "company_alt"},
    "mock": {"beton_input": "mock"},
}
IGNORED_COLUMNS = {
    "computed_at",  # when the build ran: differs between any two builds
    "new_rules",  # what entered since the run before: a one-run rebuild has no run before
}
# The run-by-run history (and what is derived from it) records the sequence of runs itself, so it
# differs from a one-run rebuild by design; tests/history checks it against its own oracle.
HISTORY_RELATIONS = {"insp_rule_runs", "insp_finding_history", "insp_finding_changes", "mart_rule_trends"}


def sequence_rules(api_plan_filter: dict) -> dict[str, dict]:
    """Shipped rules, thresholds lowered for a few events a day, so the punch lists have rows."""
    shipped = rule_documents()
    power = shipped["pql_power_users"]
    accounts = shipped["pqa_active_accounts_multiple_users"]
    api = shipped["pql_heavy_api_users_on_paid_plan"]
    enterprise = shipped["pqa_free_plan_enterprise_interest"]
    return {
        "pql_power_users": {**power, "conditions": {"min_event_count": 3, "min_active_days": 2}},
        "pqa_active_accounts_multiple_users": {
            **accounts,
            "conditions": {"min_active_users": 2, "min_account_events": 3},
        },
        "pql_heavy_api_users_on_paid_plan": {
            **api,
            "conditions": {
                "event_names": ["used_api"],
                "min_event_count": 1,
                "event_property_filters": api_plan_filter,
            },
        },
        "pqa_free_plan_enterprise_interest": {
            **enterprise,
            "conditions": {**enterprise["conditions"], "min_event_count": 1, "min_account_events": 1},
        },
    }


RULE_FILTERS = [{"plan": {"neq": "free"}}, {"plan": {"in": ["free", "team"]}, "request_count": {"gte": 10}}]
EVENT_NAMES = [
    "used_api",
    "viewed_pricing_page",
    "viewed_enterprise_features",
    "hit_usage_limit",
    "created_project",
    "invited_teammate",
]


class World:
    """The input data as it evolves (what the loader has written so far) and the run settings."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.mapping = [{"person_id": p, "distinct_id": d} for p, d in zip(PEOPLE, KNOWN_IDS, strict=True)]
        self.last_day = FIRST_DAY
        self.input = "source"
        self.rule_filter = 0
        self.serial = 0

    def event(self, draw, at: datetime) -> dict:
        self.serial += 1
        props = {
            "company_domain": draw(st.sampled_from(DOMAINS)),
            "company_alt": draw(st.sampled_from(DOMAINS)),
            "plan": draw(st.sampled_from(PLANS)),
            "request_count": draw(st.integers(0, 20)),
        }
        return {
            "uuid": f"e{self.serial:05d}",
            "event": draw(st.sampled_from(EVENT_NAMES)),
            "distinct_id": draw(st.sampled_from(KNOWN_IDS + ANON_IDS)),
            "timestamp": at,
            "properties": json.dumps(props),
            "person_id": None,
        }

    @property
    def as_of(self) -> datetime:
        return self.last_day + timedelta(hours=12)

    @property
    def vars(self) -> dict:
        return {**INPUTS[self.input], "beton_as_of": self.as_of.strftime("%Y-%m-%d %H:%M:%S")}

    def frames(self) -> dict[str, pd.DataFrame]:
        persons = pd.DataFrame(
            [
                {
                    "id": p,
                    "created_at": FIRST_DAY - timedelta(days=30),
                    "is_identified": True,
                    "properties": json.dumps(
                        {"email": f"{p}@{DOMAINS[i % 3]}", "name": p.upper(), "company_domain": DOMAINS[i % 3]}
                    ),
                }
                for i, p in enumerate(PEOPLE)
            ]
        )
        accounts = pd.DataFrame(
            [
                {
                    "account_id": f"acc_{i}",
                    "name": d.split(".")[0].title(),
                    "domain": d,
                    "arr": 1000.0 * (i + 1),
                    "segment": "SMB",
                    "owner_email": "rep@beton.example",
                    "properties": json.dumps({"industry": "Software", "employees": 10 * (i + 1)}),
                }
                for i, d in enumerate(DOMAINS)
            ]
        )
        events = pd.DataFrame(
            self.events, columns=["uuid", "event", "distinct_id", "timestamp", "properties", "person_id"]
        )
        return {
            "events": events,
            "persons": persons,
            "person_distinct_id": pd.DataFrame(self.mapping),
            "accounts": accounts,
        }


def apply(kind: str, world: World, draw, project_dir: Path) -> str:
    """Change the world as operation `kind` says; returns what it did (for the failure report)."""
    if kind == "append_days":
        days = draw(st.integers(1, 2))
        for _ in range(days):
            world.last_day += timedelta(days=1)
            for _ in range(draw(st.integers(3, 12))):
                world.events.append(
                    world.event(draw, world.last_day + timedelta(minutes=draw(st.integers(0, 24 * 60 - 1))))
                )
        return f"{days} new day(s) up to {world.last_day:%Y-%m-%d}"
    if kind == "late_events":
        # events older than the newest loaded day, arriving now: within the lookback (older ones
        # need --full-refresh, docs/performance.md)
        n = draw(st.integers(1, 5))
        for _ in range(n):
            back = draw(st.integers(0, LOOKBACK_DAYS))
            at = world.last_day - timedelta(days=back) + timedelta(minutes=draw(st.integers(0, 12 * 60 - 1)))
            world.events.append(world.event(draw, at))
        return f"{n} late event(s)"
    if kind == "future_event":
        at = datetime(2030, 1, 1) + timedelta(days=draw(st.integers(0, 3)))
        world.events.append(world.event(draw, at))
        return f"an event stamped {at:%Y-%m-%d}"
    if kind == "duplicates":
        if not world.events:
            return "no event to duplicate"
        n = draw(st.integers(1, 3))
        for _ in range(n):
            world.events.append(dict(draw(st.sampled_from(world.events))))
        return f"{n} duplicated event(s) (same uuid)"
    if kind == "identity_merge":
        distinct_id = draw(st.sampled_from(ANON_IDS + KNOWN_IDS))
        person = draw(st.sampled_from(PEOPLE))
        world.mapping = [m for m in world.mapping if m["distinct_id"] != distinct_id] + [
            {"person_id": person, "distinct_id": distinct_id}
        ]
        return f"{distinct_id} now maps to {person}"
    if kind == "switch_input":
        world.input = draw(st.sampled_from([name for name in INPUTS if name != world.input]))
        return f"input switched to {world.input}"
    if kind == "edit_rule":
        world.rule_filter = 1 - world.rule_filter
        write_rules(project_dir, sequence_rules(RULE_FILTERS[world.rule_filter]))
        return f"rule filter edited to {RULE_FILTERS[world.rule_filter]}"
    if kind == "kill_mid_run":
        return "kill"  # done by the step itself: it needs the run
    raise AssertionError(kind)


def killed_build(project: Project, vars: dict, delay: float) -> None:
    """A `dbt build` of the incremental warehouse, SIGKILLed after `delay` seconds (if still running)."""
    args = _dbt_args(project, ["build"], vars, None, ["--exclude-resource-type", "test", "unit_test"])
    process = subprocess.Popen(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=project.dbt_env(),
        cwd=str(project.dir),
        start_new_session=True,
    )
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def build(project: Project, vars: dict) -> None:
    # the property is about data, so the schema tests are left out (they have their own tests,
    # and a staging unique test would stop the build on duplicated events before staging dedupes)
    run_dbt(project, ["build"], vars=vars, extra=["--exclude-resource-type", "test", "unit_test"])


def relations(db: Path) -> dict[tuple[str, str], pd.DataFrame]:
    """Every table and view in every beton_* schema but the inputs, sorted by every column."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema like 'beton\\_%' escape '\\' and table_schema != 'beton_raw' "
            "order by 1, 2"
        ).fetchall()
        out = {}
        for schema, table in names:
            if table in HISTORY_RELATIONS or schema.endswith("_delivery"):
                continue
            frame = con.execute(f'select * from "{schema}"."{table}"').df()
            frame = frame.drop(columns=[c for c in frame.columns if c in IGNORED_COLUMNS])
            out[(schema, table)] = (
                frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame.columns) else frame
            )
        return out
    finally:
        con.close()


def assert_equals_full_rebuild(incremental: Path, fresh: Path, step: str) -> int:
    got, want = relations(incremental), relations(fresh)
    # relations of another input (e.g. the mock seeds after a switch to source) may remain; every
    # relation the fresh build has must be there and equal
    missing = sorted(set(want) - set(got))
    assert not missing, f"after {step}: missing {missing}"
    for key, expected in want.items():
        pd.testing.assert_frame_equal(got[key], expected, check_dtype=False, obj=f"{'.'.join(key)} after {step}")
    return sum(len(f) for f in want.values())


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_incremental_runs_equal_full_rebuilds_after_any_sequence(data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sequence")
    project_dir = copy_project(tmp / "project")
    write_rules(project_dir, sequence_rules(RULE_FILTERS[0]))
    incremental = Project(
        dir=project_dir, target="duckdb", duckdb_path=tmp / "incremental.duckdb", target_path=tmp / "t_inc"
    )
    world = World()
    apply("append_days", world, data.draw, project_dir)
    kinds = data.draw(st.permutations(KINDS), label="first steps") + data.draw(
        st.lists(st.sampled_from(KINDS), min_size=max(STEPS - len(KINDS), 0), max_size=max(STEPS - len(KINDS), 0)),
        label="more steps",
    )
    kinds = kinds[:STEPS]
    write_duckdb_inputs(incremental.duckdb_path, world.frames())
    build(incremental, world.vars)

    done = []
    for i, kind in enumerate(kinds):
        what = apply(kind, world, data.draw, project_dir)
        write_duckdb_inputs(incremental.duckdb_path, world.frames())
        if kind == "kill_mid_run":
            delay = data.draw(st.floats(1.0, 12.0), label="kill after (s)")
            killed_build(incremental, world.vars, delay)
            what = f"a build SIGKILLed after {delay:.1f} s"
        done.append(what)
        step = f"step {i + 1} ({'; '.join(done)})"
        build(incremental, world.vars)

        fresh = Project(
            dir=project_dir, target="duckdb", duckdb_path=tmp / f"fresh{i}.duckdb", target_path=tmp / "t_fresh"
        )
        write_duckdb_inputs(fresh.duckdb_path, world.frames())
        build(fresh, world.vars)
        assert assert_equals_full_rebuild(incremental.duckdb_path, fresh.duckdb_path, step) > 0
        fresh.duckdb_path.unlink()
        shutil.rmtree(tmp / "t_fresh", ignore_errors=True)
