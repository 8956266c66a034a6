"""The user's dbt setup is the truth: beton finds profiles.yml where dbt does (--profiles-dir,
DBT_PROFILES_DIR, the project folder, ~/.dbt), takes --profile/--target (DBT_PROFILE,
DBT_TARGET) as dbt does, passes the same to every dbt command, and reads and writes the
warehouse the resolved target names, on DuckDB and on ClickHouse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import clickhouse_connect
import duckdb
import pytest

from beton_runner.errors import ConfigError, WarehouseError
from beton_runner.profile import profiles_dir
from beton_runner.project import Project
from beton_runner.warehouse import connect
from conftest import MOCK_AS_OF, REPO, copy_project, rule_documents
from oracle import load_mock, punch_list

BETON = Path(sys.executable).parent / "beton"
PASSWORD = "pw-Profile-Secret-7731"
RULE = "pql_power_users"


def write_profiles(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(text, encoding="utf-8")
    return folder


def acme_profiles(db: Path, ch_port: int = 1, ch_schema: str = "acme_ch") -> str:
    """A user's own profiles.yml: profile acme, a DuckDB dev target (the default) with its own
    file and schema, and a ClickHouse prod target whose password comes from a secret variable."""
    return f"""
acme:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: {db}
      schema: analytics
      threads: 2
      settings:
        TimeZone: UTC
        threads: 3
    prod:
      type: clickhouse
      driver: http
      host: 127.0.0.1
      port: {ch_port}
      user: beton_reader
      password: "{{{{ env_var('DBT_ENV_SECRET_ACME_PW') }}}}"
      schema: {ch_schema}
      custom_settings:
        join_use_nulls: 1
        max_threads: 3
"""


def beton(*args: str, env: dict | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BETON), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC", **(env or {})},
        timeout=900,
        cwd=cwd,
    )


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("DBT_PROFILES_DIR", "DBT_PROFILE", "DBT_TARGET", "BETON_TARGET", "BETON_DUCKDB_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DBT_ENV_SECRET_ACME_PW", PASSWORD)
    return monkeypatch


def test_profiles_dir_precedence_is_dbts(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    flag, env_dir, home = tmp_path / "flag", tmp_path / "env", tmp_path / "home"
    # the flag, then DBT_PROFILES_DIR, then the project folder (when it has one), then ~/.dbt
    assert profiles_dir(project, flag, {"DBT_PROFILES_DIR": str(env_dir), "HOME": str(home)}) == flag
    assert profiles_dir(project, None, {"DBT_PROFILES_DIR": str(env_dir), "HOME": str(home)}) == env_dir
    assert profiles_dir(project, None, {"HOME": str(home)}) == home / ".dbt"
    write_profiles(project, "x: {}")
    assert profiles_dir(project, None, {"HOME": str(home)}) == project


def test_a_users_profile_target_resolves_with_dbts_rendering(tmp_path, clean_env):
    folder = write_profiles(tmp_path / "profiles", acme_profiles(tmp_path / "acme.duckdb", 8123))
    dev = Project.locate(REPO, profile="acme", profiles_dir=folder)
    assert (dev.target, dev.engine, dev.schema) == ("dev", "duckdb", "analytics")
    assert dev.duckdb_path == tmp_path / "acme.duckdb"
    assert dev.relation("inspections", "insp_findings") == ("analytics_inspections", "insp_findings")
    assert dev.raw_schema == "analytics_raw"
    assert dev.profile_settings.duckdb_settings == {"TimeZone": "UTC", "threads": 3}

    clean_env.setenv("DBT_PROFILES_DIR", str(folder))
    clean_env.setenv("DBT_PROFILE", "acme")
    clean_env.setenv("DBT_TARGET", "prod")  # dbt's own variables
    prod = Project.locate(REPO)
    resolved = prod.profile_settings
    assert (prod.target, prod.engine, prod.schema) == ("prod", "clickhouse", "acme_ch")
    assert resolved.clickhouse == {
        "host": "127.0.0.1",
        "port": 8123,
        "username": "beton_reader",
        "password": PASSWORD,  # the secret rendered, as dbt renders DBT_ENV_SECRET_*
        "secure": False,
        "verify": True,
    }
    assert resolved.custom_settings == {"join_use_nulls": 1, "max_threads": 3}
    assert PASSWORD not in repr(prod) + repr(resolved) + resolved.describe()


def test_a_missing_profile_or_target_names_the_file_and_what_is_there(tmp_path, clean_env):
    folder = write_profiles(tmp_path / "p", acme_profiles(tmp_path / "acme.duckdb"))
    path = folder / "profiles.yml"
    with pytest.raises(ConfigError) as no_target:
        Project.locate(REPO, "staging", profile="acme", profiles_dir=folder)
    assert str(path) in str(no_target.value) and "targets there: dev, prod" in str(no_target.value)
    with pytest.raises(ConfigError) as no_profile:
        Project.locate(REPO, profiles_dir=folder)  # dbt_project.yml says profile: beton
    assert f"no profile 'beton' in {path}" in str(no_profile.value) and "profiles there: acme" in str(no_profile.value)
    with pytest.raises(ConfigError) as no_file:
        Project.locate(REPO, profiles_dir=tmp_path / "empty")
    assert f"no profiles.yml in {tmp_path / 'empty'}" in str(no_file.value)

    result = beton("--profiles-dir", str(folder), "--profile", "acme", "--target", "qa", "punch-list", RULE)
    assert result.returncode != 0
    assert f"error: profile 'acme' in {path} has no target 'qa' (targets there: dev, prod)" in " ".join(
        result.stderr.split()
    )


def test_run_and_read_through_a_users_profile_and_the_home_fallback(tmp_path, clean_env):
    """`beton run --profiles-dir X --profile acme` builds into the file and schema of the acme
    dev target (and dbt gets the same profile), `beton punch-list` reads it back through
    DBT_PROFILES_DIR, and a project without profiles.yml falls back to ~/.dbt like dbt."""
    db = tmp_path / "acme.duckdb"
    folder = write_profiles(tmp_path / "profiles", acme_profiles(db))
    default_file = REPO / "beton.duckdb"
    existed = default_file.exists()
    run = beton(
        "run",
        "--profiles-dir",
        str(folder),
        "--profile",
        "acme",
        "--vars",
        '{"beton_input": "mock"}',
        env={"BETON_TARGET_PATH": str(tmp_path / "target")},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert default_file.exists() == existed  # nothing went to the shipped profile's file
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "duckdb"
    frames = load_mock(REPO / "seeds")
    expected = punch_list(
        rule_documents()[RULE],
        frames["events"],
        frames["persons"],
        frames["person_distinct_id"],
        frames["accounts"],
        MOCK_AS_OF,
    )["user_id"].tolist()
    con = duckdb.connect(str(db), read_only=True)
    try:
        built = [
            r[0]
            for r in con.execute(f'select user_id from analytics_inspections.insp_{RULE} order by "rank"').fetchall()
        ]
        schemas = {r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()}
    finally:
        con.close()
    assert built == expected
    assert "beton_inspections" not in schemas  # the target's schema, not the shipped default

    listed = beton("punch-list", RULE, "--format", "json", env={"DBT_PROFILES_DIR": str(folder), "DBT_PROFILE": "acme"})
    assert listed.returncode == 0, listed.stderr
    assert [row["user_id"] for row in json.loads(listed.stdout)] == expected
    with connect(Project.locate(REPO, profile="acme", profiles_dir=folder)) as conn:
        assert conn.rows("select current_setting('threads')")[0][0] == 3  # the target's settings

    # ~/.dbt: a project folder without profiles.yml, HOME pointing at the user's home
    project = copy_project(tmp_path / "no_profiles")
    (project / "profiles.yml").unlink()
    home = tmp_path / "home"
    write_profiles(home / ".dbt", acme_profiles(db).replace("acme:", "beton:", 1))  # dbt_project.yml's profile
    from_home = beton("punch-list", RULE, "--format", "json", env={"HOME": str(home)}, cwd=project)
    assert from_home.returncode == 0, from_home.stderr
    assert [row["user_id"] for row in json.loads(from_home.stdout)] == expected


@pytest.mark.clickhouse
def test_clickhouse_through_a_users_profile(clickhouse_server, tmp_path, clean_env):
    """The ClickHouse target of a user's profile: beton writes and reads the server, the
    database and the session settings it names; the password never reaches the output."""
    schema = f"acme_{uuid.uuid4().hex[:8]}"
    folder = write_profiles(
        tmp_path / "profiles", acme_profiles(tmp_path / "unused.duckdb", clickhouse_server.port, schema)
    )
    env = {"DBT_PROFILES_DIR": str(folder), "DBT_ENV_SECRET_ACME_PW": PASSWORD}
    generated = beton("--profile", "acme", "--target", "prod", "generate", "--events", "1500", "--days", "10", env=env)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert PASSWORD not in generated.stdout + generated.stderr

    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port, compress=False)
    try:
        assert client.query(f"select count() from `{schema}_raw`.events").result_rows[0][0] == 1500
    finally:
        client.close()

    project = Project.locate(REPO, "prod", profile="acme", profiles_dir=folder)
    with connect(project) as conn:
        assert conn.rows(f"select count() from `{schema}_raw`.events")[0][0] == 1500
        # the target's custom_settings are the session's settings, as dbt-clickhouse sets them
        assert conn.rows("select getSetting('max_threads')")[0][0] == 3

    shutil.rmtree(folder)
    wrong = write_profiles(folder, acme_profiles(tmp_path / "unused.duckdb", 1, schema))
    with (
        pytest.raises(WarehouseError) as refused,
        connect(Project.locate(REPO, "prod", profile="acme", profiles_dir=wrong)),
    ):
        pass
    assert PASSWORD not in str(refused.value)
