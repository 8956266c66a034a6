"""destinations.yml: mistakes are reported with the file, line and field; the shipped example is
valid for every kind; the committed JSON Schema (for editors) is the one the code validates with."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from beton_runner.deliver.config import file_schema, load_destinations
from beton_runner.errors import ConfigError
from conftest import REPO


def test_the_example_is_valid_and_the_committed_schema_is_current():
    configs = load_destinations(REPO / "destinations.example.yml", env={})
    assert {c.kind for c in configs} == {"webhook", "slack", "hubspot", "salesforce"}
    committed = json.loads((REPO / "destinations.schema.json").read_text(encoding="utf-8"))
    assert committed == file_schema(), "regenerate it: python -m beton_runner.deliver.config > destinations.schema.json"


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("destinations:\n  hook:\n    kind: webhok\n", ":3: destinations.hook.kind", "webhok"),
        ("destinations:\n  hook:\n    kind: webhook\n    batch_size: 0\n", ":4: destinations.hook.batch_size", "0"),
        ("destinations:\n  s:\n    kind: slack\n    changes: [joined]\n", ":4: destinations.s.changes", "joined"),
        ("destinations:\n  s:\n    kind: slack\n    colour: red\n", "destinations.s", "colour"),
        ("destination:\n  s: {kind: slack}\n", "destinations.yml", "destination"),
        ("destinations:\n  s: [kind: slack\n", "destinations.yml:", "not valid YAML"),
    ],
)
def test_mistakes_name_the_file_line_and_field(tmp_path, text, where, what):
    path = tmp_path / "destinations.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_destinations(path, env={})
    message = str(caught.value)
    assert where in message and what in message, message


def test_no_file_says_what_to_do(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "beton_runner.cli",
            "--project-dir",
            str(REPO),
            "deliver",
            "--duckdb",
            str(tmp_path / "x.duckdb"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BETON_DESTINATIONS": str(tmp_path / "destinations.yml")},
        timeout=120,
    )
    assert result.returncode == 1
    assert "destinations.example.yml" in result.stderr and "Traceback" not in result.stderr
