"""The resolved dbt profile is cached under target/ (dbt's profile code costs every warehouse
command a second or two): a cached answer is dbt's answer, it follows every input it depends on
(the file, the environment variables the file reads, the profile and target asked for), and no
secret is ever written to the cache."""

from __future__ import annotations

import json
from pathlib import Path

from beton_runner.profile import CACHE_FILE, resolve

PASSWORD = "pw-Cache-Secret-5521"


def _profiles(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(text, encoding="utf-8")
    return folder


DUCKDB = """
acme:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('ACME_DB', 'acme.duckdb') }}"
      schema: "{{ env_var('ACME_SCHEMA', 'analytics') }}"
      threads: 2
      settings:
        TimeZone: UTC
    other:
      type: duckdb
      path: other.duckdb
      schema: other
"""


def test_a_cached_profile_is_dbts_and_follows_what_it_reads(tmp_path):
    folder = _profiles(tmp_path / "p", DUCKDB)
    cache = tmp_path / "target"

    def resolved(env: dict, **kw):
        return resolve(tmp_path, profiles_dir_option=folder, profile="acme", environ=env, cache_dir=cache, **kw)

    env = {"ACME_SCHEMA": "one", "HOME": str(tmp_path)}
    first = resolved(env)
    assert (cache / CACHE_FILE).is_file()
    uncached = resolve(tmp_path, profiles_dir_option=folder, profile="acme", environ=env)  # dbt, no cache
    assert first == uncached and resolved(env) == uncached
    assert (first.schema, first.target, first.database, first.threads) == ("one", "dev", "acme", 2)
    assert first.duckdb_settings == {"TimeZone": "UTC"}
    # each input the result depends on gives a new answer, not the cached one
    assert resolved({**env, "ACME_SCHEMA": "two"}).schema == "two"
    assert resolved({**env, "ACME_DB": str(tmp_path / "x.duckdb")}).database == "x"
    assert resolved(env, target="other").schema == "other"
    (folder / "profiles.yml").write_text(DUCKDB.replace("threads: 2", "threads: 3"), encoding="utf-8")
    assert resolved(env).threads == 3
    assert resolved(env) == resolve(tmp_path, profiles_dir_option=folder, profile="acme", environ=env)


def test_no_secret_is_cached(tmp_path):
    clickhouse = """
acme:
  target: prod
  outputs:
    prod:
      type: clickhouse
      driver: http
      host: 127.0.0.1
      port: 8123
      user: reader
      password: "{{ env_var('DBT_ENV_SECRET_ACME_PW') }}"
      schema: acme
"""
    cache = tmp_path / "target"
    env = {"DBT_ENV_SECRET_ACME_PW": PASSWORD, "HOME": str(tmp_path)}
    found = resolve(
        tmp_path,
        profiles_dir_option=_profiles(tmp_path / "ch", clickhouse),
        profile="acme",
        environ=env,
        cache_dir=cache,
    )
    assert found.clickhouse["password"] == PASSWORD
    literal = clickhouse.replace("\"{{ env_var('DBT_ENV_SECRET_ACME_PW') }}\"", PASSWORD)
    resolve(
        tmp_path, profiles_dir_option=_profiles(tmp_path / "lit", literal), profile="acme", environ={}, cache_dir=cache
    )
    settings = DUCKDB.replace("TimeZone: UTC", f"TimeZone: UTC\n        s3_secret_access_key: {PASSWORD}")
    resolve(
        tmp_path, profiles_dir_option=_profiles(tmp_path / "s3", settings), profile="acme", environ={}, cache_dir=cache
    )
    dynamic = DUCKDB.replace("env_var('ACME_SCHEMA', 'analytics')", "env_var('ACME_' ~ 'SCHEMA', 'analytics')")
    resolve(
        tmp_path, profiles_dir_option=_profiles(tmp_path / "dyn", dynamic), profile="acme", environ={}, cache_dir=cache
    )
    assert not (cache / CACHE_FILE).exists()  # none of these was cached
    # a profile that is cached beside them holds no secret either
    resolve(
        tmp_path, profiles_dir_option=_profiles(tmp_path / "p", DUCKDB), profile="acme", environ=env, cache_dir=cache
    )
    text = (cache / CACHE_FILE).read_text(encoding="utf-8")
    assert PASSWORD not in text and len(json.loads(text)) == 1
