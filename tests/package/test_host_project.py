"""Beton as a dbt package inside a user's own dbt project (README, "Use as a dbt package").

The shipped example host project (examples/host_project: its own dim_accounts, a model over
ref('beton', 'insp_findings'), a rule of its own compiled into models/beton_rules/) is copied
into a scratch folder, pointed at this checkout (packages.yml `local:`), and driven with plain
dbt the way a user would: `dbt deps`, then one `dbt build --vars '{beton_input: mock}'`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from test_punch_lists_mock import assert_same_punch_list

from conftest import MOCK_AS_OF, REPO, read_table
from oracle import load_mock, punch_list

EXAMPLE = REPO / "examples" / "host_project"
HOST_RULE = "acme_paid_api_regulars"
LAYERS = ("explore", "inspections", "intermediate", "marts", "mock", "reference", "staging")


def dbt(host: Path, *args: str) -> subprocess.CompletedProcess:
    """Plain dbt in the host project, as its user runs it (nothing of beton's environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BETON_", "CLICKHOUSE_", "DBT_"))}
    env.update({"ACME_DUCKDB_PATH": str(host / "acme.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    return subprocess.run(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *args, "--project-dir", str(host)]
        + ["--profiles-dir", str(host)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def beton(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "beton_runner.cli", *args], capture_output=True, text=True, timeout=300, cwd=REPO
    )


def generated(host: Path) -> dict[str, str]:
    folder = host / "models" / "beton_rules"
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Path:
    """The example host, its rule models compiled afresh by `beton rules compile --project-dir`,
    its packages installed, and built once on the mock data."""
    host = tmp_path_factory.mktemp("host") / "acme_analytics"
    shutil.copytree(EXAMPLE, host, ignore=shutil.ignore_patterns("target", "dbt_packages", "*.duckdb", "logs"))
    (host / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(REPO)}]}))
    shutil.rmtree(host / "models" / "beton_rules")
    compiled = beton("rules", "compile", "--project-dir", str(host))
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    deps = dbt(host, "deps")
    assert deps.returncode == 0, deps.stdout + deps.stderr
    build = dbt(host, "build", "--vars", "{beton_input: mock}")
    assert build.returncode == 0, build.stdout[-5000:] + build.stderr
    return host


def test_rules_compile_into_the_host_writes_the_shipped_example(host):
    """`beton rules compile --project-dir HOST` writes the host's rule into models/beton_rules/ (the
    package's models are not copied), the same bytes as the committed example, and
    `beton rules check --project-dir HOST` then finds it current."""
    assert generated(host) == generated(EXAMPLE)
    assert set(generated(host)) == {
        f"insp_{HOST_RULE}.sql",
        "_beton_rules__models.yml",
        f"filtered/beton_int_filtered_activity__{HOST_RULE}.sql",
        "filtered/_beton_rules_filtered__models.yml",
    }
    check = beton("rules", "check", "--project-dir", str(host))
    assert check.returncode == 0 and "1 rule(s) valid" in check.stderr + check.stdout, check.stderr


def test_the_host_rule_builds_its_punch_list_beside_the_packages(host):
    rules = {p.stem: yaml.safe_load(p.read_text()) for p in (host / "rules").glob("*.yml")}
    frames = load_mock(REPO / "seeds")
    expected = punch_list(
        rules[HOST_RULE],
        frames["events"],
        frames["persons"],
        frames["person_distinct_id"],
        frames["accounts"],
        MOCK_AS_OF,
    )
    assert len(expected) > 0
    actual = read_table(host / "acme.duckdb", "analytics_beton_inspections", f"insp_{HOST_RULE}")
    assert_same_punch_list(actual, expected, HOST_RULE)


def test_a_host_model_of_the_same_name_stays_the_hosts(host):
    """The host's dim_accounts is the host's; Beton's is its own table in its own schema."""
    hosts = read_table(host / "acme.duckdb", "analytics", "dim_accounts")
    assert list(hosts.columns) == ["account_key", "company_name", "tier"]
    assert hosts.to_dict("records") == [{"account_key": "acct-1", "company_name": "Acme Corp", "tier": "enterprise"}]
    betons = read_table(host / "acme.duckdb", "analytics_beton_marts", "dim_accounts")
    assert "account_id" in betons.columns
    assert set(betons["account_id"]) == set(load_mock(REPO / "seeds")["accounts"]["account_id"])


def test_the_findings_are_the_standalone_builds_and_the_host_model_reads_them(host, mock_build):
    """insp_findings built as a package holds the punch lists the standalone build holds, and the
    host's model over ref('beton', 'insp_findings') aggregates them."""
    ignore = ["computed_at"]  # the moment each build ran
    key = ["rule_key", "entity_id"]
    findings = read_table(host / "acme.duckdb", "analytics_beton_inspections", "insp_findings").drop(columns=ignore)
    standalone = read_table(mock_build.duckdb_path, "beton_inspections", "insp_findings").drop(columns=ignore)
    pd.testing.assert_frame_equal(
        findings.sort_values(key).reset_index(drop=True), standalone.sort_values(key).reset_index(drop=True)
    )
    hot = read_table(host / "acme.duckdb", "analytics", "my_hot_accounts").sort_values("account_id")
    flagged = standalone[standalone["account_id"].notna()]
    expected = (
        flagged.groupby("account_id")
        .agg(rules_matched=("rule_key", "nunique"), best_score=("score", "max"))
        .reset_index()
        .sort_values("account_id")
    )
    assert hot["account_id"].tolist() == expected["account_id"].tolist()
    assert hot["rules_matched"].tolist() == expected["rules_matched"].tolist()
    assert hot["best_score"].tolist() == pytest.approx(expected["best_score"].tolist(), rel=1e-12)


def test_every_relation_lands_in_a_namespaced_schema(host):
    with duckdb.connect(str(host / "acme.duckdb"), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    schemas = {schema for schema, _ in tables}
    assert schemas == {"analytics", *(f"analytics_beton_{layer}" for layer in LAYERS)}
    # the host's own schema holds only the host's own models
    assert {name for schema, name in tables if schema == "analytics"} == {"dim_accounts", "my_hot_accounts"}
    # and the tables keep the names BI tools read
    assert ("analytics_beton_marts", "dim_users") in tables
    assert ("analytics_beton_intermediate", f"int_filtered_activity__{HOST_RULE}") in tables


def test_without_the_var_no_mock_seed_is_loaded(host):
    """The mock data only when asked: without beton_input the package's only seed is the
    standard events library (the explore views read it on any input)."""
    listed = dbt(host, "ls", "--resource-type", "seed", "--output", "name", "--quiet")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed.stdout.split() == ["beton_standard_events"]
