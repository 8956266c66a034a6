"""Generated models: deterministic, safe for any text, and never clobbering hand-written files."""

from __future__ import annotations

import json

import jinja2
from hypothesis import given, settings
from hypothesis import strategies as st

from beton_runner.rules import load_rules
from beton_runner.rules.compile import generate, jinja_literal, jinja_string_literal, staleness, write
from conftest import REPO, copy_project

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_value_survives_the_jinja_literal(value):
    """What dbt's Jinja reads back (the literal a generated model sets) equals the rule exactly,
    and no string in it holds a Jinja delimiter, a quote or a newline."""
    literal = jinja_literal(value)
    for text in _strings(value):
        string = jinja_string_literal(text)
        for forbidden in ("{", "}", "%", "#", "\\'", "\n"):
            assert forbidden not in string[1:-1].replace("\\u", "")
    env = jinja2.Environment()
    rendered = env.from_string("{{ " + literal + " | tojson }}").render()
    assert json.loads(rendered) == value


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)


def test_generation_is_deterministic_and_committed():
    rules = load_rules(REPO / "rules")
    first = generate(rules, REPO)
    second = generate(list(reversed(rules)), REPO)
    assert first == second
    assert not staleness(first, REPO).stale


def test_removed_rule_drops_its_model_but_not_hand_written_files(tmp_path):
    project = copy_project(tmp_path / "p")
    hand_written = project / "models" / "inspections" / "rules" / "my_notes.sql"
    hand_written.write_text("select 1 as x\n")
    (project / "rules" / "pql_power_users.yml").unlink()
    before = write(generate(load_rules(project / "rules"), project), project)
    assert [str(p) for p in before.orphaned] == ["models/inspections/rules/insp_pql_power_users.sql"]
    assert not (project / "models/inspections/rules/insp_pql_power_users.sql").exists()
    assert hand_written.read_text() == "select 1 as x\n"
    assert "insp_pql_power_users" not in (project / "models/inspections/insp_findings.sql").read_text()
