"""Where things are: the dbt project, its rules, the warehouse file, the output folder."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
TARGETS = ("duckdb", "clickhouse")
LAYERS = ("mock", "reference", "staging", "intermediate", "inspections", "marts", "explore", "enrichment", "raw")


def schema_prefix(target: str, environ: Mapping[str, str] | None = None) -> str:
    """The prefix of every schema the project uses (``<prefix>_raw``, ``<prefix>_marts`` …):
    CLICKHOUSE_DATABASE on ClickHouse (as profiles.yml), BETON_SCHEMA on DuckDB; ``beton``."""
    env = {**os.environ, **(environ or {})}
    return env.get("CLICKHOUSE_DATABASE" if target == "clickhouse" else "BETON_SCHEMA") or "beton"


def raw_schema(target: str, environ: Mapping[str, str] | None = None) -> str:
    """The input (raw) schema, ClickHouse database: the one place it is decided. `beton generate`
    and `beton ingest posthog` write there and dbt's source reads there (``BETON_RAW_SCHEMA``
    in :meth:`Project.dbt_env`), unless the dbt var ``beton_source_schema`` says otherwise."""
    return f"{schema_prefix(target, environ)}_raw"


def model_name(table: str) -> str:
    """The dbt model (or seed) that builds ``table``: the table's name in Beton's model namespace,
    ``beton_<table>`` (every model's alias is its table's name), except the inspections
    ``insp_*``, whose model and table names are the same."""
    return table if table.startswith("insp_") else f"beton_{table}"


def _find_project_dir(explicit: str | os.PathLike | None) -> Path:
    if explicit:
        path = Path(explicit).expanduser().resolve()
        if not (path / "dbt_project.yml").is_file():
            raise ConfigError(
                f"{path} is not a Beton Inspector project (no dbt_project.yml); pass --project-dir or set BETON_PROJECT_DIR"
            )
        return path
    env = os.environ.get("BETON_PROJECT_DIR")
    if env:
        return _find_project_dir(env)
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    source_checkout = PACKAGE_DIR.parent  # an editable install run from elsewhere; never a wheel's site-packages
    if (source_checkout / "dbt_project.yml").is_file():
        return source_checkout
    raise ConfigError(
        f"no Beton Inspector project (dbt_project.yml) in {here} or above: create one with `beton init DIR` and "
        "run beton inside it, or pass --project-dir / set BETON_PROJECT_DIR"
    )


@dataclass
class Project:
    """The dbt project and the settings one `beton` invocation runs with."""

    dir: Path
    target: str = "duckdb"
    duckdb_path: Path = field(default=Path("beton.duckdb"))
    schema: str = "beton"
    target_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # overrides of the process environment for dbt

    @classmethod
    def locate(
        cls,
        project_dir: str | os.PathLike | None = None,
        target: str | None = None,
        *,
        duckdb_path: str | os.PathLike | None = None,
    ) -> Project:
        directory = _find_project_dir(project_dir)
        target = target or os.environ.get("BETON_TARGET", "duckdb")
        if target not in TARGETS:
            raise ConfigError(f"unknown target '{target}'; use one of {', '.join(TARGETS)}")
        if duckdb_path is not None:  # --duckdb: relative to where the user is, like any path argument
            duckdb_path = Path(duckdb_path).expanduser().resolve()
        else:
            duckdb_path = Path(os.environ.get("BETON_DUCKDB_PATH", "beton.duckdb")).expanduser()
            if not duckdb_path.is_absolute():
                duckdb_path = directory / duckdb_path
        schema = schema_prefix(target)
        target_path = os.environ.get("BETON_TARGET_PATH")
        return cls(
            dir=directory,
            target=target,
            duckdb_path=duckdb_path,
            schema=schema,
            target_path=Path(target_path).expanduser().resolve() if target_path else None,
        )

    @property
    def rules_dir(self) -> Path:
        return self.dir / "rules"

    @property
    def plays_dir(self) -> Path:
        """Where the sales plays go by default: `beton plays` and `beton demo` write them here and
        `beton report` shows them from here."""
        return self.dir / "output" / "plays"

    @property
    def dbt_target_path(self) -> Path:
        return self.target_path or self.dir / "target"

    def relation(self, layer: str, table: str) -> tuple[str, str]:
        """(schema, table) of a table the project builds, e.g. ('beton_inspections', 'insp_x')."""
        return f"{self.schema}_{layer}", table

    @property
    def raw_schema(self) -> str:
        """Where the input data model lives (see :func:`raw_schema`)."""
        return self.relation("raw", "")[0]

    def known_events(self) -> set[str]:
        """Event names of the standard events library (for 'did you mean' warnings)."""
        seeds = Path("seeds") / "reference" / "beton_standard_events.csv"
        # Beton's own project, else a host project's installed package (dbt deps)
        path = next((p for p in (self.dir / seeds, self.dir / "dbt_packages" / "beton" / seeds) if p.is_file()), None)
        if path is None:
            return set()
        with path.open(newline="", encoding="utf-8") as handle:
            return {row["event_name"] for row in csv.DictReader(handle) if row.get("event_name")}

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt subprocess: the caller's, plus the resolved warehouse settings."""
        env = {**os.environ, **self.env}
        env["BETON_TARGET"] = self.target
        env["BETON_DUCKDB_PATH"] = str(self.duckdb_path)
        env["BETON_RAW_SCHEMA"] = self.raw_schema  # what _posthog__sources.yml reads by default
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        if "CLICKHOUSE_PASSWORD" in env:  # handed to dbt as a secret, which dbt masks in its logs
            env.setdefault("DBT_ENV_SECRET_CLICKHOUSE_PASSWORD", env.pop("CLICKHOUSE_PASSWORD"))
        env.setdefault("TZ", "UTC")
        return env
