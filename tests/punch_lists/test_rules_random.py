"""Random datasets and random rules, built by dbt on DuckDB, against the pandas oracle; and rules
full of hostile strings. Data goes in through the `source` input path (beton_raw tables), so
these tests also cover schema mapping (renamed tables and columns)."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_punch_lists_mock import assert_same_punch_list

from beton_runner.dbt import run_dbt
from beton_runner.project import Project
from conftest import copy_project, read_table, write_duckdb_inputs, write_rules
from oracle import punch_list

AS_OF = datetime(2026, 3, 15, 9, 30, 0)
EVENTS = ["signed_up", "used_api", "viewed_pricing_page", "invited_teammate"]
DOMAINS = ["acme.io", "globex.com", "initech.com"]
EXAMPLES = int(os.environ.get("BETON_HYPOTHESIS_EXAMPLES", "6"))


def frames_from(events, persons, mapping, accounts) -> dict[str, pd.DataFrame]:
    return {
        "events": pd.DataFrame(
            events, columns=["uuid", "event", "distinct_id", "timestamp", "properties", "person_id"]
        ),
        "persons": pd.DataFrame(persons, columns=["id", "created_at", "properties", "is_identified"]),
        "person_distinct_id": pd.DataFrame(mapping, columns=["person_id", "distinct_id"]),
        "accounts": pd.DataFrame(
            accounts, columns=["account_id", "name", "domain", "arr", "segment", "owner_email", "properties"]
        ),
    }


person_properties = st.fixed_dictionaries(
    {},
    optional={
        "job_title": st.sampled_from(["Head of Data", "Engineer", "VP Sales", ""]),
        "seats": st.integers(0, 20) | st.sampled_from(["7", "x"]),
        "company_domain": st.sampled_from(DOMAINS + ["unknown.com"]),
    },
)
account_properties = st.fixed_dictionaries(
    {},
    optional={
        "industry": st.sampled_from(["Software", "Retail", "Media"]),
        "employees": st.integers(1, 5000) | st.sampled_from(["250", "many", 12.5]),
        "plan": st.sampled_from(["free", "pro", True]),
    },
)


@st.composite
def datasets(draw):
    distinct_ids = [f"d{i}" for i in range(6)]
    persons, mapping = [], []
    for i in range(4):
        pid = f"p{i}"
        props = {"email": f"u{i}@x.io", "name": f"User {i}"}
        props.update(draw(person_properties))
        persons.append([pid, datetime(2026, 1, 1), json.dumps(props), True])
    for d in distinct_ids[:5]:
        for pid in draw(st.lists(st.sampled_from([p[0] for p in persons]), max_size=2, unique=True)):
            mapping.append([pid, d])
    accounts = [
        [
            f"a{i}",
            f"Account {i}",
            dom,
            draw(st.none() | st.floats(0, 1e6)),
            draw(st.sampled_from(["SMB", "Mid-Market", "Enterprise"]) | st.none()),
            "rep@x.io",
            json.dumps(draw(account_properties)),
        ]
        for i, dom in enumerate(DOMAINS)
    ]
    enrichment = [
        [
            f"a{i}",
            "simulation",
            draw(st.sampled_from(["Software", "Retail"]) | st.none()),
            draw(st.none() | st.integers(1, 5000)),
        ]
        for i in draw(st.lists(st.integers(0, len(DOMAINS) - 1), unique=True, max_size=len(DOMAINS)))
    ]
    plan_values = st.sampled_from(["free", "pro", 5, "5", 5.5, "5.5", True, "true", None, "x'y", "MISSING"])
    events = []
    for i in range(draw(st.integers(0, 70))):
        props = {}
        domain = draw(st.sampled_from(DOMAINS + [" ACME.io ", "unknown.com", None]))
        if domain is not None:
            props["company_domain"] = domain
        plan = draw(plan_values)
        if plan != "MISSING":
            props["plan"] = plan
        if draw(st.booleans()):
            props["n"] = draw(st.integers(-5, 50) | st.sampled_from(["7", "abc", "1e1"]))
        # a few after as_of, most in the last 25 days, some up to 150 days back (windows over 64 days)
        seconds = draw(st.integers(-2 * 86400, 25 * 86400) | st.integers(25 * 86400, 150 * 86400))
        events.append(
            [
                f"e{i:04d}",
                draw(st.sampled_from(EVENTS)),
                draw(st.sampled_from(distinct_ids)),
                AS_OF - timedelta(seconds=seconds),
                json.dumps(props),
                None,
            ]
        )
    frames = frames_from(events, persons, mapping, accounts)
    frames["enrichment"] = pd.DataFrame(enrichment, columns=["account_id", "provider", "industry", "employees"])
    return frames


scalar = st.sampled_from(["free", "pro", 5, "5", 5.5, True, "x'y"])
filter_specs = st.one_of(
    scalar,
    st.fixed_dictionaries({"eq": scalar}),
    st.fixed_dictionaries({"neq": scalar}),
    st.fixed_dictionaries({"in": st.lists(scalar, min_size=1, max_size=3)}),
    st.fixed_dictionaries({"not_in": st.lists(scalar, min_size=1, max_size=3)}),
    st.fixed_dictionaries({"contains": st.sampled_from(["r", "ee", "'"])}),
    st.fixed_dictionaries({"regex": st.sampled_from(["^p", "e$", "[0-9]"])}),
    st.fixed_dictionaries({"gte": st.integers(-1, 10)}),
    st.fixed_dictionaries({"lt": st.floats(-1, 10)}),
    st.just({"is_set": True}),
    st.just({"is_not_set": True}),
)


@st.composite
def rules(draw):
    level = draw(st.sampled_from(["user", "account"]))
    window = draw(st.integers(1, 20) | st.integers(60, 140))  # 60-140: active days span two or three 64-bit words
    small = st.none() | st.integers(0, 4)
    conditions = {}
    names = draw(st.lists(st.sampled_from(EVENTS), max_size=3, unique=True))
    if names:
        conditions["event_names"] = names
    for key in (
        "min_event_count",
        "min_distinct_events",
        "min_active_days",
        "max_days_since_last_event",
        "min_days_since_last_event",
    ) + (("min_active_users", "min_account_events") if level == "account" else ()):
        value = draw(small)
        if value is not None:
            conditions[key] = value
    if names and conditions.get("min_distinct_events", 0) > len(names):
        conditions["min_distinct_events"] = len(names)
    conditions["min_active_days"] = min(conditions.get("min_active_days", 0), window)
    if "min_days_since_last_event" in conditions:
        conditions["min_days_since_last_event"] = min(
            conditions["min_days_since_last_event"], window - 1, conditions.get("max_days_since_last_event", 99)
        )
    filters = draw(st.dictionaries(st.sampled_from(["plan", "n"]), filter_specs, max_size=2))
    if filters:
        conditions["event_property_filters"] = filters
    weights = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "event_count_weight": st.floats(-3, 3),
                "active_days_weight": st.floats(-3, 3),
                "recency_weight": st.floats(-3, 3),
            },
        )
    )
    doc = {"name": "", "level": level, "time_window_days": window, "conditions": conditions}
    if weights:
        doc["scoring_weights"] = weights
    attributes = st.sampled_from(FIT_ATTRIBUTES[level])
    fit = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "when": st.dictionaries(attributes, st.just(None), min_size=1, max_size=2),
                    "points": st.integers(-10, 10) | st.floats(-5, 5),
                }
            ),
            max_size=3,
        )
    )
    for item in fit:
        item["when"] = {a: draw(NUMBER_SPECS if a.split(".")[-1] in NUMBERS else filter_specs) for a in item["when"]}
    if fit:
        doc["fit"] = fit
    tier_values = st.lists(st.integers(-10, 40) | st.floats(-10, 40), min_size=1, max_size=3, unique=True)
    by = draw(st.sampled_from([None, "score", "percentile"]))
    if by is not None:
        values = draw(
            tier_values
            if by == "score"
            else st.lists(st.integers(1, 100) | st.floats(0.5, 100), min_size=1, max_size=3, unique=True)
        )
        tiers = {f"t{i}": v for i, v in enumerate(values)}
        if by == "percentile" or draw(st.booleans()):
            tiers["by"] = by
        if draw(st.booleans()):
            tiers["else"] = "rest"
        doc["tiers"] = tiers
    if fit and draw(st.booleans()):
        doc["grade"] = {
            "fit": sorted(draw(st.lists(st.integers(-5, 15), min_size=1, max_size=3, unique=True)), reverse=True),
            "behaviour": sorted(draw(tier_values), reverse=True),
        }
    if draw(st.booleans()):  # rule format 2: signals, decay, match (docs/rules.md)
        doc.update(draw(format_2_parts(level, window)))
    return doc


HALF_LIVES = st.sampled_from([0.5, 1, 3.5, 7, 30])


@st.composite
def signal_specs(draw, window: int) -> dict:
    spec: dict = {"weight": draw(st.integers(-5, 5) | st.floats(-5, 5))}
    names = draw(st.lists(st.sampled_from(EVENTS), max_size=2, unique=True))
    if names:
        spec["event_names"] = names
    if draw(st.booleans()):
        spec["event_property_filters"] = draw(
            st.dictionaries(st.sampled_from(["plan", "n"]), filter_specs, min_size=1, max_size=2)
        )
    optional = {
        "window_days": st.integers(1, window),
        "min_count": st.integers(1, 3),
        "half_life_days": HALF_LIVES,
        "max_points": st.sampled_from([0.5, 2, 10]),
    }
    for key, values in optional.items():
        if draw(st.booleans()):
            spec[key] = draw(values)
    return spec


def _depth(node) -> int:
    """YAML nesting levels of a match node (a mapping and its list each count)."""
    if isinstance(node, str):
        return 0
    ((op, value),) = node.items()
    if op in ("all", "any"):
        return 2 + max(_depth(child) for child in value)
    return 1 + _depth(value) if op == "not" else 1


def match_nodes(level: str, signals: list[str]):
    small = st.integers(0, 4)
    names = ["min_event_count", "min_distinct_events", "min_active_days", "max_days_since_last_event"]
    names += ["min_days_since_last_event"] + (["min_active_users", "min_account_events"] if level == "account" else [])
    leaves = st.builds(lambda name, value: {name: value}, st.sampled_from(names), small)
    if signals:
        signal = st.sampled_from(signals)
        leaves = leaves | signal | signal.map(lambda name: {"signal": name})
    tree = st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda nodes: {"all": nodes}),
            st.lists(children, min_size=1, max_size=3).map(lambda nodes: {"any": nodes}),
            children.map(lambda node: {"not": node}),
        ),
        max_leaves=5,
    )
    return tree.filter(lambda node: _depth(node) <= 7)  # a rule file nests at most 10 levels


@st.composite
def format_2_parts(draw, level: str, window: int) -> dict:
    parts: dict = {}
    if draw(st.booleans()):
        parts["decay"] = {"half_life_days": draw(HALF_LIVES)}
    names = draw(st.lists(st.sampled_from(["s_a", "s_b", "s_c"]), max_size=3, unique=True))
    if names:
        parts["signals"] = {name: draw(signal_specs(window)) for name in names}
    if draw(st.booleans()):
        parts["match"] = draw(match_nodes(level, names))
    return parts


NUMBERS = ("arr", "enriched_employees")
NUMBER_SPECS = st.one_of(
    st.integers(0, 3000),
    st.fixed_dictionaries({"gte": st.integers(0, 3000)}),
    st.fixed_dictionaries({"lt": st.floats(0, 1e6)}),
    st.fixed_dictionaries({"neq": st.integers(0, 3)}),
    st.fixed_dictionaries({"in": st.lists(st.integers(0, 3000), min_size=1, max_size=2)}),
    st.just({"is_set": True}),
    st.just({"is_not_set": True}),
)
# Account columns, account properties, enrichment fields; for users, person properties and the
# user's account's attributes.
_ACCOUNT_FIT = [
    "segment",
    "arr",
    "name",
    "industry",
    "employees",
    "properties.plan",
    "enriched_industry",
    "enriched_employees",
]
FIT_ATTRIBUTES = {
    "account": _ACCOUNT_FIT,
    "user": ["job_title", "seats", "email", "plan"] + [f"account.{a}" for a in _ACCOUNT_FIT],
}


def build(tmp: Path, rule_docs: dict[str, dict], frames: dict[str, pd.DataFrame], *, renamed: bool) -> Project:
    project_dir = copy_project(tmp / "project")
    write_rules(project_dir, rule_docs)
    db = tmp / "w.duckdb"
    vars = {"beton_input": "source", "beton_as_of": AS_OF.strftime("%Y-%m-%d %H:%M:%S")}
    if renamed:
        rename = {
            "events": {"timestamp": "ts", "event": "event_name", "properties": "props"},
            "accounts": {"domain": "website"},
        }
        tables = {"events": "product_events", "accounts": "crm_accounts"}
        write_duckdb_inputs(db, frames, schema="analytics", rename=rename, tables=tables)
        vars.update(
            {
                "beton_source_schema": "analytics",
                "beton_events_table": "product_events",
                "beton_accounts_table": "crm_accounts",
                "beton_columns": rename,
            }
        )
    else:
        write_duckdb_inputs(db, frames)
    if len(frames.get("enrichment", ())):  # what `beton enrich` writes (docs/enrichment.md)
        con = duckdb.connect(str(db))
        try:
            con.execute("create schema if not exists beton_enrichment")
            con.execute(
                "create table beton_enrichment.account_enrichment (account_id varchar, domain varchar, provider varchar,"
                " industry varchar, employee_band varchar, employees bigint, revenue_band varchar, annual_revenue double,"
                " hq_country varchar, funding_stage varchar, founded_year bigint, description varchar, linkedin_url varchar)"
            )
            con.register("incoming", frames["enrichment"])
            con.execute(
                "insert into beton_enrichment.account_enrichment (account_id, provider, industry, employees)"
                " select account_id, provider, industry, employees from incoming"
            )
        finally:
            con.close()
    project = Project(dir=project_dir, target="duckdb", duckdb_path=db, target_path=tmp / "target")
    run_dbt(project, ["build"], vars=vars)
    return project


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=datasets(), rule_docs=st.lists(rules(), min_size=1, max_size=8), renamed=st.booleans())
def test_random_rules_on_random_data_match_the_oracle(frames, rule_docs, renamed):
    docs = {}
    for i, doc in enumerate(rule_docs):
        doc["name"] = f"Random rule {i}"
        docs[f"r{i}"] = doc
    with tempfile.TemporaryDirectory() as tmp:
        project = build(Path(tmp), docs, frames, renamed=renamed)
        for key, doc in docs.items():
            expected = punch_list(
                doc,
                frames["events"],
                frames["persons"],
                frames["person_distinct_id"],
                frames["accounts"],
                AS_OF,
                enrichment=frames["enrichment"],
            )
            actual = read_table(project.duckdb_path, "beton_inspections", f"insp_{key}")
            assert_same_punch_list(actual, expected, f"{key}: {json.dumps(doc)}")


HOSTILE = [
    "it's",
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "drop -- comment",
    "semi; drop table x;",
    "{{ var('x') }}",
    "{% if %}",
    "{# c #}",
    "$current_url",
    "plan.tier",
    "ünïcødé 🚀",
    "%s %(x)s",
    "' or 1=1 --",
    "\\'",
    "null",
]


def test_hostile_strings_are_data_not_sql(tmp_path):
    events, n = [], 0
    for i, text in enumerate(HOSTILE):
        for match in (True, False):
            props = {"company_domain": "acme.io", text: text if match else text + "x", "plan": text}
            for _ in range(i % 3 + 1):
                events.append([f"h{n:04d}", text, f"d{i % 4}", AS_OF - timedelta(hours=n + 1), json.dumps(props), None])
                n += 1
    frames = frames_from(events, [], [], [["a0", "Acme", "acme.io", 1.0, "SMB", "r@x.io", "{}"]])
    docs = {}
    for i, text in enumerate(HOSTILE):
        docs[f"hostile_{i:02d}"] = {
            "name": f"Hostile {i}: {text}",
            "description": f"description with {text} and */ -- ; {{{{ }}}}",
            "level": "user" if i % 2 else "account",
            "time_window_days": 30,
            "conditions": {
                "event_names": [text],
                "event_property_filters": {
                    text: text,
                    "plan": {"in": [text, "other"]},
                    "company_domain": {"contains": "acme"},
                },
            },
        }
    docs["hostile_regex"] = {
        "name": "Hostile regex",
        "level": "user",
        "time_window_days": 30,
        "conditions": {"event_property_filters": {"plan": {"regex": "^[\\\\'\"{%]"}}},
    }
    project = build(tmp_path, docs, frames, renamed=False)
    found_any = 0
    for key, doc in docs.items():
        expected = punch_list(
            doc, frames["events"], frames["persons"], frames["person_distinct_id"], frames["accounts"], AS_OF
        )
        actual = read_table(project.duckdb_path, "beton_inspections", f"insp_{key}")
        assert_same_punch_list(actual, expected, key)
        found_any += len(actual)
    assert found_any >= len(HOSTILE)  # every hostile rule found its own events
    findings = read_table(project.duckdb_path, "beton_inspections", "insp_findings")
    assert set(findings["rule_name"]) >= {
        doc["name"] for doc in docs.values() if doc["name"].startswith("Hostile ")
    } - {
        doc["name"]
        for key, doc in docs.items()
        if read_table(project.duckdb_path, "beton_inspections", f"insp_{key}").empty
    }
