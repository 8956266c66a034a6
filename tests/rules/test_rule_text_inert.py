"""No rule text is ever evaluated (issue #12, item 7).

dbt renders every description in a properties file as Jinja before it writes the manifest, so
rule text copied into the generated ``_rules__models.yml`` files used to be code: a description
holding ``{{{ env_var('POSTHOG_PERSONAL_API_KEY') }}}`` put the key into target/manifest.json, and
a stray ``{{{`` or ``{% raw %}`` broke every build. Here Jinja delimiters sit in every text field
of a rule (name, description, event names, filter keys and values): the build succeeds, the
manifest holds each description exactly as written, the secret appears nowhere under target/,
and the delimiters reach the SQL as data (the one event carrying them is the one finding).
"""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from beton_runner.dbt import run_dbt
from beton_runner.project import Project
from conftest import copy_project, read_table, write_duckdb_inputs, write_rules

SECRET = "phx_NeverInArtifacts0123456789"
LEAK = "{{{ env_var('POSTHOG_PERSONAL_API_KEY') }}}"
NAME = f"Jinja {LEAK} {{% raw %}} {{#"
DESCRIPTION = (
    f"Leaks {LEAK} unless inert; {{{{ env_var('POSTHOG_PERSONAL_API_KEY') }}}} too. "
    "Stray {{{ and }}} and {% and %} and {# and #}; {% raw %} ... {% endraw %}; "
    "{%- if true %}{% endif -%} 'quoted' \\ back\\slash \u00e9\u4e2d"
)
EVENT = f"clicked {LEAK} {{% endraw %}}"
KEY_RAW = "{% raw %}plan{#"
KEY_BRACES = "{{{"
AS_OF = datetime(2026, 10, 1, 12, 0, 0)


def _inputs() -> dict[str, pd.DataFrame]:
    """Two users send the hostile event; only u1's properties pass every hostile filter."""
    matching = {
        KEY_RAW: "{{ env_var('POSTHOG_PERSONAL_API_KEY') }}",
        KEY_BRACES: "}}}",
        "note": "a {# b",
        "tag": "x {% endraw %} y",
    }
    other = {**matching, KEY_BRACES: "{%"}  # in the list, but the {% raw %} key's value differs
    other[KEY_RAW] = "something else"
    rows = [
        ("e1", EVENT, "u1", datetime(2026, 9, 30, 9), matching),
        ("e2", EVENT, "u2", datetime(2026, 9, 30, 10), other),
        ("e3", "signed_up", "u1", datetime(2026, 9, 29, 9), {}),
    ]
    events = pd.DataFrame(
        [
            {"uuid": u, "event": e, "distinct_id": d, "timestamp": t, "properties": json.dumps(p), "person_id": None}
            for u, e, d, t, p in rows
        ]
    )
    persons = pd.DataFrame(
        [{"id": p, "created_at": datetime(2026, 1, 1), "properties": "{}", "is_identified": True} for p in ("u1", "u2")]
    )
    pdi = pd.DataFrame([{"person_id": p, "distinct_id": p} for p in ("u1", "u2")])
    accounts = pd.DataFrame(columns=["account_id", "name", "domain", "arr", "segment", "owner_email", "properties"])
    return {"events": events, "persons": persons, "person_distinct_id": pdi, "accounts": accounts}


def test_jinja_in_every_rule_text_field_is_never_evaluated(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", SECRET)
    project_dir = copy_project(tmp_path / "project")
    doc = {
        "name": NAME,
        "description": DESCRIPTION,
        "level": "user",
        "time_window_days": 7,
        "conditions": {
            "event_names": [EVENT],
            "event_property_filters": {
                KEY_RAW: {"eq": "{{ env_var('POSTHOG_PERSONAL_API_KEY') }}"},
                KEY_BRACES: {"in": ["}}}", "{%"]},
                "note": {"contains": "{#"},
                "tag": {"regex": "[{]% endraw %[}]"},
            },
        },
    }
    write_rules(project_dir, {"pql_jinja": doc})
    db = tmp_path / "w.duckdb"
    write_duckdb_inputs(db, _inputs())
    target = tmp_path / "target"
    project = Project(dir=project_dir, target="duckdb", duckdb_path=db, target_path=target)
    run_dbt(
        project,
        ["build"],
        vars={"beton_input": "source", "beton_as_of": AS_OF.strftime("%Y-%m-%d %H:%M:%S")},
        select=["+insp_findings"],
    )

    # the delimiters reached the SQL as data: u1's event matches every filter, u2's does not
    punch = read_table(db, "beton_inspections", "insp_pql_jinja")
    assert punch["user_id"].tolist() == ["u1"]
    assert punch["event_count"].tolist() == [1]
    findings = read_table(db, "beton_inspections", "insp_findings")
    assert findings["rule_name"].tolist() == [NAME]

    # the manifest holds each description exactly as the rule wrote it
    nodes = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    assert nodes["model.beton.insp_pql_jinja"]["description"] == (
        f'Punch list of rule "{NAME}" (user level, rules/pql_jinja.yml). {DESCRIPTION}'
    )
    assert nodes["model.beton.beton_int_filtered_activity__pql_jinja"]["description"] == (
        f'Daily rollup of the events passing the per-event filters of rule "{NAME}" (rules/pql_jinja.yml): '
        "incremental, read by insp_pql_jinja."
    )

    # and the key is nowhere under target/
    leaked = [
        str(p.relative_to(target)) for p in target.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()
    ]
    assert leaked == []
