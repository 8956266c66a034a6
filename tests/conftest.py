"""Shared fixtures: the repository's dbt project built on real DuckDB files (and, for ClickHouse
tests, the real ClickHouse engine behind the test HTTP server)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
# Test modules live in one folder per area and share helpers across areas (`from conftest import
# ...`, `from test_enrich_shared import ...`, `from chserver.fixture import ...`): this folder,
# every area folder and fakes/ (the local PostHog, ClickHouse and LLM servers) are importable.
for _folder in [
    TESTS,
    TESTS / "fakes",
    *sorted(p for p in TESTS.iterdir() if p.is_dir() and p.name not in ("dbt", "__pycache__")),
]:
    if str(_folder) not in sys.path:
        sys.path.insert(1, str(_folder))

from beton_runner.dbt import run_dbt  # noqa: E402
from beton_runner.project import Project  # noqa: E402
from chserver.fixture import clickhouse_server  # noqa: E402,F401  (session fixture: the real ClickHouse engine)

MOCK_AS_OF = datetime(2026, 10, 1, 12, 0, 0)

os.environ["TZ"] = "UTC"  # naive datetimes handed to drivers are UTC
time.tzset()


def rule_documents() -> dict[str, dict]:
    """The shipped rule files, parsed independently of beton_runner."""
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted((REPO / "rules").glob("*.yml"))}


def read_table(db_path: Path, schema: str, table: str) -> pd.DataFrame:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(f'select * from "{schema}"."{table}"').df()
    finally:
        con.close()


@pytest.fixture(scope="session")
def mock_build(tmp_path_factory) -> Project:
    """`dbt build` of the repository project on the mock data, into a fresh DuckDB file."""
    tmp = tmp_path_factory.mktemp("mock_build")
    project = Project(dir=REPO, target="duckdb", duckdb_path=tmp / "mock.duckdb", target_path=tmp / "target")
    run_dbt(project, ["build"], vars={"beton_input": "mock"})
    return project


def copy_project(dest: Path) -> Path:
    """A scratch copy of the dbt project (for tests that add or break rule files)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(REPO / name, dest / name)
    for name in ("models", "macros", "seeds", "rules"):
        shutil.copytree(REPO / name, dest / name)
    (dest / "tests").mkdir()
    shutil.copytree(REPO / "tests" / "dbt", dest / "tests" / "dbt")
    return dest


INPUT_TYPES = {
    "events": {
        "uuid": "varchar",
        "event": "varchar",
        "distinct_id": "varchar",
        "timestamp": "timestamp",
        "properties": "varchar",
        "person_id": "varchar",
    },
    "persons": {"id": "varchar", "created_at": "timestamp", "properties": "varchar", "is_identified": "boolean"},
    "person_distinct_id": {"person_id": "varchar", "distinct_id": "varchar"},
    "accounts": {
        "account_id": "varchar",
        "name": "varchar",
        "domain": "varchar",
        "arr": "double",
        "segment": "varchar",
        "owner_email": "varchar",
        "properties": "varchar",
    },
}


def write_duckdb_inputs(
    db_path: Path,
    frames: dict[str, pd.DataFrame],
    schema: str = "beton_raw",
    rename: dict[str, dict[str, str]] | None = None,
    tables: dict[str, str] | None = None,
) -> None:
    """Write the four input tables into a DuckDB file, optionally under other table/column names."""
    rename = rename or {}
    tables = tables or {}
    con = duckdb.connect(str(db_path))
    try:
        con.execute(f'create schema if not exists "{schema}"')
        for logical, types in INPUT_TYPES.items():
            names = {c: rename.get(logical, {}).get(c, c) for c in types}
            table = tables.get(logical, logical)
            columns = ", ".join(f'"{names[c]}" {t}' for c, t in types.items())
            con.execute(f'create or replace table "{schema}"."{table}" ({columns})')
            frame = frames[logical][list(types)].rename(columns=names)
            if len(frame):
                con.register("incoming", frame)
                con.execute(f'insert into "{schema}"."{table}" select * from incoming')
                con.unregister("incoming")
    finally:
        con.close()


class NoAliasDumper(yaml.SafeDumper):
    """Writes a value shared by two places in a document twice: rule files take no YAML anchors or
    aliases (hypothesis reuses one object for two filters, which safe_dump would anchor)."""

    def ignore_aliases(self, data) -> bool:
        return True


def write_rules(project_dir: Path, rules: dict[str, dict]) -> None:
    """Replace the project's rule files with these documents and regenerate the models."""
    from beton_runner.rules import load_rules
    from beton_runner.rules.compile import generate, write

    for old in (project_dir / "rules").glob("*.yml"):
        old.unlink()
    for key, doc in rules.items():
        (project_dir / "rules" / f"{key}.yml").write_text(
            yaml.dump(doc, Dumper=NoAliasDumper, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    write(generate(load_rules(project_dir / "rules"), project_dir), project_dir)


HISTORY_T1 = datetime(2026, 9, 24, 12, 0, 0)


@pytest.fixture(scope="session")
def mock_two_runs(tmp_path_factory) -> Path:
    """A DuckDB file after `beton run` on the mock data at 2026-09-24 12:00 and then at
    2026-10-01 12:00 (MOCK_AS_OF): the findings history holds two runs. What each run printed is
    next to it (run1.out, run2.out; its stderr, not a terminal, in run1.err, run2.err). Copy the
    file before writing to it."""
    import subprocess

    tmp = tmp_path_factory.mktemp("mock_two_runs")
    path = tmp / "two_runs.duckdb"
    env = {**os.environ, "BETON_TARGET_PATH": str(tmp / "target"), "BETON_INPUT": "mock"}
    for i, instant in enumerate((HISTORY_T1, MOCK_AS_OF), start=1):
        result = subprocess.run(
            [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(REPO), "run", "--duckdb", str(path)]
            + ["--as-of", instant.isoformat(sep=" ")],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        (tmp / f"run{i}.out").write_text(result.stdout, encoding="utf-8")
        (tmp / f"run{i}.err").write_text(result.stderr, encoding="utf-8")
    return path
