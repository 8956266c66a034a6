"""models/exposures.yml declares what reads the built tables from Python (the report, the CSV
export, each delivery destination, the sales plays): dbt parses each one's depends_on to the
models the code reads, from the readers' own table constants and the rule files."""

from __future__ import annotations

import json

from beton_runner.changes import CHANGES_TABLE, RUNS_TABLE
from beton_runner.export import MARTS
from beton_runner.plays.facts import CATEGORIES_TABLE, EVENTS_TABLE, REQUIRED_TABLES
from beton_runner.report import data as report
from conftest import rule_documents


def rule_models() -> list[str]:
    """Every rule's punch list, and the filtered rollup of a rule with per-event filters (read
    by the report's sparklines), from the rule files themselves."""
    names = []
    for key, rule in rule_documents().items():
        names.append(f"insp_{key}")
        if rule["conditions"].get("event_property_filters"):
            names.append(f"int_filtered_activity__{key}")
    return names


def test_each_exposure_depends_on_what_its_code_reads(mock_build):
    manifest = json.loads((mock_build.dbt_target_path / "manifest.json").read_text())
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    reads = {
        "report": [
            report.FINDINGS_TABLE,
            CHANGES_TABLE,
            RUNS_TABLE,
            report.TRENDS_TABLE,
            *report.ACCOUNT_TABLES,
            *report.USER_TABLES,
            *(table for table, _o, _d in report.EXPLORE_TABLES.values()),
            report.DAILY_ROLLUP,
            *(table for _layer, table in report.SPARKLINE_TABLES.values()),
            *rule_models(),
        ],
        "export": [table for table, _key in MARTS.values()],
        **{f"delivery_{d}": [CHANGES_TABLE, RUNS_TABLE] for d in ("webhook", "slack", "hubspot", "salesforce")},
        "sales_plays": [*(t for _layer, t in REQUIRED_TABLES), EVENTS_TABLE[1], CATEGORIES_TABLE[1]],
    }
    assert set(exposures) == set(reads)
    for name, tables in reads.items():
        exposure = exposures[name]
        nodes = exposure["depends_on"]["nodes"]
        assert all(node in manifest["nodes"] for node in nodes), name  # real models and seeds
        # the tables those nodes build (a model's alias is its table: beton_dim_accounts -> dim_accounts)
        assert sorted(manifest["nodes"][node]["alias"] for node in nodes) == sorted(tables), name
        assert exposure["owner"]["name"] and exposure["description"] and exposure["type"], name
