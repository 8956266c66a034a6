"""Where things are: the dbt project, its rules, the warehouse file, the output folder."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .profile import ENGINES, ResolvedProfile
from .profile import resolve as resolve_profile

PACKAGE_DIR = Path(__file__).resolve().parent
TARGETS = ENGINES  # the shipped profiles.yml names its targets after the engines
LAYERS = ("mock", "reference", "staging", "intermediate", "inspections", "marts", "explore", "enrichment", "raw")


def raw_schema(schema_prefix: str) -> str:
    """The input (raw) schema, ClickHouse database, of a project whose schemas start with
    ``schema_prefix`` (the resolved target's schema): the one place it is decided. `beton
    generate` and `beton ingest posthog` write there and dbt's source reads there
    (``BETON_RAW_SCHEMA`` in :meth:`Project.dbt_env`), unless the dbt var ``beton_source_schema``
    says otherwise."""
    return f"{schema_prefix}_raw"


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
    """The dbt project and the settings one `beton` invocation runs with.

    :meth:`locate` resolves them from the dbt profile (:mod:`beton_runner.profile`): ``target``
    is the dbt target's name, ``engine`` its adapter type, ``schema`` its schema (every
    schema the project builds is ``<schema>_<layer>``), ``duckdb_path`` its file. A Project
    made directly (tests, programs) names them itself and uses the profiles.yml in ``dir``;
    its ClickHouse connection still comes from that profile, rendered with ``env``."""

    dir: Path
    target: str = "duckdb"
    duckdb_path: Path = field(default=Path("beton.duckdb"))
    schema: str = "beton"
    target_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # overrides of the process environment for dbt
    engine: str | None = None  # the adapter type (duckdb, clickhouse); default: ``target``
    profile: str | None = None  # --profile (None: DBT_PROFILE, else dbt_project.yml's)
    profiles_dir: Path | None = None  # the folder of the profiles.yml dbt reads (None: ``dir``)
    resolved: ResolvedProfile | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.engine is None:
            self.engine = self.resolved.engine if self.resolved is not None else self.target

    @classmethod
    def locate(
        cls,
        project_dir: str | os.PathLike | None = None,
        target: str | None = None,
        *,
        duckdb_path: str | os.PathLike | None = None,
        profile: str | None = None,
        profiles_dir: str | os.PathLike | None = None,
        resolve: bool = True,
    ) -> Project:
        """The project at (or above) ``project_dir`` with its dbt profile resolved; with
        ``resolve=False`` only the folder (commands that never touch the warehouse: rules)."""
        directory = _find_project_dir(project_dir)
        target_path = os.environ.get("BETON_TARGET_PATH")
        target_path = Path(target_path).expanduser().resolve() if target_path else None
        if not resolve:
            return cls(dir=directory, target_path=target_path)
        env = cls(dir=directory).dbt_env(with_paths=False)
        if duckdb_path is not None:  # --duckdb: relative to where the user is, like any path argument
            duckdb_path = Path(duckdb_path).expanduser().resolve()
            env["BETON_DUCKDB_PATH"] = str(duckdb_path)  # what the shipped profile reads
        found = resolve_profile(
            directory,
            profiles_dir_option=profiles_dir,
            profile=profile,
            target=target,
            environ=env,
            cache_dir=target_path or directory / "target",
        )
        if duckdb_path is not None and found.engine == "duckdb" and found.duckdb_path != duckdb_path:
            raise ConfigError(
                f"--duckdb {duckdb_path} cannot apply: {found.describe()} names its own file; use that "
                "target's path (or a target that reads BETON_DUCKDB_PATH, as the shipped profiles.yml does)"
            )
        return cls(
            dir=directory,
            target=found.target,
            duckdb_path=found.duckdb_path or directory / "beton.duckdb",
            schema=found.schema,
            target_path=target_path,
            engine=found.engine,
            profile=profile,
            profiles_dir=found.path.parent,
            resolved=found,
        )

    @property
    def profile_settings(self) -> ResolvedProfile:
        """The dbt profile target this project runs with (resolved on first use for a Project
        made directly)."""
        if self.resolved is None:
            self.resolved = resolve_profile(
                self.dir,
                profiles_dir_option=self.profiles_dir or self.dir,
                profile=self.profile,
                target=self.target,
                environ=self.dbt_env(),
            )
        return self.resolved

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
        return raw_schema(self.schema)

    def known_events(self) -> set[str]:
        """Event names of the standard events library (for 'did you mean' warnings)."""
        seeds = Path("seeds") / "reference" / "beton_standard_events.csv"
        # Beton's own project, else a host project's installed package (dbt deps)
        path = next((p for p in (self.dir / seeds, self.dir / "dbt_packages" / "beton" / seeds) if p.is_file()), None)
        if path is None:
            return set()
        with path.open(newline="", encoding="utf-8") as handle:
            return {row["event_name"] for row in csv.DictReader(handle) if row.get("event_name")}

    def dbt_env(self, *, with_paths: bool = True) -> dict[str, str]:
        """Environment for a dbt subprocess (and for rendering the profile): the caller's, plus
        (``with_paths``) the resolved DuckDB file and raw schema."""
        env = {**os.environ, **self.env}
        if with_paths:
            env["BETON_DUCKDB_PATH"] = str(self.duckdb_path)  # what the shipped profile reads
            env["BETON_RAW_SCHEMA"] = self.raw_schema  # what _posthog__sources.yml reads by default
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        if "CLICKHOUSE_PASSWORD" in env:  # handed to dbt as a secret, which dbt masks in its logs
            env.setdefault("DBT_ENV_SECRET_CLICKHOUSE_PASSWORD", env.pop("CLICKHOUSE_PASSWORD"))
        env.setdefault("TZ", "UTC")
        return env
