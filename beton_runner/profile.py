"""The dbt profile: which ``profiles.yml``, which profile and target, and what they say, resolved
exactly as dbt resolves them and with dbt's own code.

``beton`` has no connection settings of its own: it reads the warehouse through the profile and
target dbt would use, and passes the same ``--profiles-dir``, ``--profile`` and ``--target`` to
every dbt command it runs. The precedence is dbt-core's (``dbt/cli/params.py`` and
``dbt/cli/resolvers.py``, dbt-core PR #5717):

- the folder: ``--profiles-dir``, else ``DBT_PROFILES_DIR``, else the project folder when it has
  a ``profiles.yml`` (dbt looks in the current folder; beton runs dbt from the project folder),
  else ``~/.dbt``;
- the profile: ``--profile``, else ``DBT_PROFILE``, else ``profile:`` in ``dbt_project.yml``;
- the target: ``--target``, else ``DBT_TARGET``, else the profile's ``target:`` (rendered; the
  shipped profile reads ``BETON_TARGET``).

The values are rendered by dbt's ``ProfileRenderer`` (``env_var``, ``DBT_ENV_SECRET_*``, Jinja
filters) with the environment beton hands dbt, and validated by the adapter's own credentials
class (dbt-duckdb's, dbt-clickhouse's), so a default (a port, a user) is the adapter's default.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

ENGINES = ("duckdb", "clickhouse")
PROFILES_FILE = "profiles.yml"


@dataclass(frozen=True)
class ResolvedProfile:
    """One target of one profile, rendered. ``clickhouse`` holds the driver settings (host, port,
    username, password, secure, verify): never print it (``repr`` leaves the password out)."""

    path: Path  # the profiles.yml it came from
    profile: str
    target: str
    engine: str  # the adapter type: duckdb or clickhouse
    schema: str
    threads: int
    duckdb_path: Path | None = None
    duckdb_settings: dict[str, Any] = field(default_factory=dict)
    clickhouse: dict[str, Any] = field(default_factory=dict, repr=False)
    cluster: str = ""
    custom_settings: dict[str, Any] = field(default_factory=dict)
    database: str = ""  # dbt's target.database (dbt-duckdb: the file's stem unless the profile names one)

    def describe(self) -> str:
        """Where the warehouse is, for messages: no password, no user."""
        if self.engine == "duckdb":
            where = str(self.duckdb_path)
        else:
            scheme = "https" if self.clickhouse.get("secure") else "http"
            where = f"{scheme}://{self.clickhouse['host']}:{self.clickhouse['port']}"
        return f"profile '{self.profile}', target '{self.target}' ({self.engine} {where}) from {self.path}"


def profiles_dir(
    project_dir: Path, explicit: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The folder whose profiles.yml dbt reads (see the module's docstring for the order)."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit).expanduser().resolve()
    if env.get("DBT_PROFILES_DIR"):
        return Path(env["DBT_PROFILES_DIR"]).expanduser().resolve()
    if (project_dir / PROFILES_FILE).is_file():
        return project_dir
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".dbt"


def project_profile_name(project_dir: Path) -> str | None:
    """``profile:`` in dbt_project.yml (the shipped project: ``beton``)."""
    try:
        data = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    name = data.get("profile") if isinstance(data, dict) else None
    return str(name) if name else None


def _searched(project_dir: Path) -> str:
    return f"--profiles-dir, $DBT_PROFILES_DIR, {project_dir / PROFILES_FILE} and ~/.dbt/{PROFILES_FILE}"


def resolve(
    project_dir: Path,
    *,
    profiles_dir_option: str | os.PathLike | None = None,
    profile: str | None = None,
    target: str | None = None,
    environ: Mapping[str, str] | None = None,
    cli_vars: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
) -> ResolvedProfile:
    """The profile dbt would use for ``project_dir``, rendered with ``environ`` (the environment
    dbt is run with). Every problem is a ``ConfigError`` naming the profiles.yml and what is there.
    With ``cache_dir``, a result resolved before with the same inputs is read from there (see
    CACHE_FILE)."""
    env = dict(os.environ if environ is None else environ)
    directory = profiles_dir(project_dir, profiles_dir_option, env)
    path = directory / PROFILES_FILE
    if not path.is_file():
        where = "--profiles-dir" if profiles_dir_option else "DBT_PROFILES_DIR" if env.get("DBT_PROFILES_DIR") else ""
        hint = f" ({where} points there)" if where else f" (searched {_searched(project_dir)})"
        raise ConfigError(
            f"no {PROFILES_FILE} in {directory}{hint}: create one (the project's own profiles.yml is an example) "
            "or point --profiles-dir / DBT_PROFILES_DIR at the folder that has yours"
        )
    name = profile or env.get("DBT_PROFILE") or project_profile_name(project_dir)
    if not name:
        raise ConfigError(f"no profile named: set `profile:` in {project_dir / 'dbt_project.yml'} or pass --profile")
    target_override = target or env.get("DBT_TARGET") or None
    key = _cache_key(path, name, target_override, env, dict(cli_vars or {}), project_dir) if cache_dir else None
    cached = _cache_read(cache_dir, key) if cache_dir and key else None
    if cached is not None:
        return cached
    found = contextvars.copy_context().run(_render, path, name, target_override, env, dict(cli_vars or {}), project_dir)
    if cache_dir and key:
        _cache_write(cache_dir, key, found)
    return found


# The resolution is cached (CACHE_FILE in the dbt target folder): importing and running dbt's
# profile code is a second or two of every warehouse command. The key is a hash of everything the
# result depends on: the profiles.yml bytes, the profile and target asked for, the values of the
# environment variables the file reads, the vars, the project folder and the installed versions.
# Nothing is cached (dbt resolves every time) when that is in doubt: an env_var() whose name is
# not a literal, a secret variable (DBT_ENV_SECRET_*) that is set, a password, or a setting whose
# name looks like a credential. The cache holds no secret.
CACHE_FILE = ".beton_profile_cache.json"
_ENV_VAR = re.compile(r"""env_var\(\s*(['"])([A-Za-z_][A-Za-z0-9_]*)\1\s*[,)]""")
_CREDENTIAL = re.compile(r"secret|password|passwd|token|key|credential", re.IGNORECASE)
_CACHE_ENTRIES = 8


def _cache_key(
    path: Path, name: str, target: str | None, env: Mapping[str, str], cli_vars: dict, project_dir: Path
) -> str | None:
    try:
        text = path.read_bytes()
    except OSError:
        return None
    decoded = text.decode("utf-8", "replace")
    names = sorted({m.group(2) for m in _ENV_VAR.finditer(decoded)})
    if decoded.count("env_var") != len(_ENV_VAR.findall(decoded)):
        return None  # an env_var() this cannot read: which variables matter is unknown
    if any(n.startswith("DBT_ENV_SECRET") and env.get(n) for n in names):
        return None
    from importlib import metadata

    versions = {}
    for package in ("dbt-core", "dbt-adapters", "dbt-duckdb", "dbt-clickhouse"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    from . import __version__

    material = json.dumps(
        {
            "file": hashlib.sha256(text).hexdigest(),
            "path": str(path),
            "profile": name,
            "target": target,
            "env": {n: env.get(n) for n in names},
            "vars": cli_vars,
            "project": str(project_dir),
            "versions": versions,
            "beton": __version__,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _cache_read(cache_dir: Path, key: str) -> ResolvedProfile | None:
    try:
        entries = json.loads((cache_dir / CACHE_FILE).read_text(encoding="utf-8"))
        data = dict(entries[key])
        data["path"] = Path(data["path"])
        data["duckdb_path"] = Path(data["duckdb_path"]) if data.get("duckdb_path") else None
        return ResolvedProfile(**data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cacheable(found: ResolvedProfile) -> bool:
    settings = {**found.duckdb_settings, **found.custom_settings}
    return not found.clickhouse.get("password") and not any(_CREDENTIAL.search(str(k)) for k in settings)


def _cache_write(cache_dir: Path, key: str, found: ResolvedProfile) -> None:
    if not _cacheable(found):
        return
    file = cache_dir / CACHE_FILE
    try:
        entries = json.loads(file.read_text(encoding="utf-8"))
        entries = entries if isinstance(entries, dict) else {}
    except (OSError, ValueError):
        entries = {}
    data = dataclasses.asdict(found)
    data["path"] = str(found.path)
    data["duckdb_path"] = str(found.duckdb_path) if found.duckdb_path else None
    entries.pop(key, None)
    entries[key] = data
    entries = dict(list(entries.items())[-_CACHE_ENTRIES:])
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f"{file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries, sort_keys=True, default=str), encoding="utf-8")
        tmp.replace(file)
    except OSError:
        pass  # a cache: a read-only target folder only makes the next command slower


def _render(
    path: Path, name: str, target: str | None, env: dict[str, str], cli_vars: dict, project_dir: Path
) -> ResolvedProfile:
    # dbt's own reading, rendering and validation; run in a copied context so the invocation
    # context (the environment env_var() reads) set here stays here.
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.exceptions import DbtProfileError
    from dbt_common.context import set_invocation_context
    from dbt_common.exceptions import DbtBaseException

    set_invocation_context(env)
    try:
        raw = read_profile(str(path.parent))
    except DbtBaseException as exc:
        raise ConfigError(f"{path} cannot be read: {_first_lines(exc)}") from None
    if name not in raw or not isinstance(raw.get(name), dict):
        available = ", ".join(sorted(k for k, v in raw.items() if isinstance(v, dict) and k != "config")) or "none"
        raise ConfigError(
            f"no profile '{name}' in {path} (profiles there: {available}); pass --profile NAME, set DBT_PROFILE "
            "or `profile:` in dbt_project.yml"
        )
    raw_profile = raw[name]
    outputs = raw_profile.get("outputs") if isinstance(raw_profile.get("outputs"), dict) else {}
    try:
        target_name, data = Profile.render_profile(raw_profile, name, target, ProfileRenderer(cli_vars))
    except DbtProfileError as exc:
        if getattr(exc, "result_type", None) == "invalid_target" or "does not have a target" in str(exc):
            wanted = target or raw_profile.get("target")
            raise ConfigError(
                f"profile '{name}' in {path} has no target '{wanted}' (targets there: "
                f"{', '.join(outputs) or 'none'}); pass --target NAME or set DBT_TARGET"
            ) from None
        raise ConfigError(f"profile '{name}' in {path}: {_first_lines(exc)}") from None
    threads = data.pop("threads", 1)
    password = str(data.get("password") or "")
    try:
        credentials = Profile._credentials_from_profile(dict(data), name, target_name)
    except DbtBaseException as exc:
        text = _first_lines(exc)
        if "Could not find adapter type" in text:
            text = f"the adapter '{data.get('type')}' is not installed"
            if data.get("type") == "clickhouse":
                text += " (pip install 'beton-inspector[clickhouse]')"
        if password:
            text = text.replace(password, "***")
        raise ConfigError(f"target '{target_name}' of profile '{name}' in {path}: {text}") from None
    where = f"target '{target_name}' of profile '{name}' in {path}"
    engine = credentials.type
    if engine == "duckdb":
        return _duckdb(credentials, path, name, target_name, int(threads), project_dir, where)
    if engine == "clickhouse":
        return _clickhouse(credentials, path, name, target_name, int(threads), where)
    raise ConfigError(f"{where} is a {engine} target; beton reads and writes duckdb and clickhouse")


def _duckdb(credentials, path, name, target, threads, project_dir, where) -> ResolvedProfile:
    raw_path = str(credentials.path or "")
    if not raw_path or raw_path == ":memory:" or raw_path.startswith(("md:", "motherduck:")):
        raise ConfigError(
            f"{where} has path '{raw_path}'; beton needs a DuckDB file it can open after dbt (a file path)"
        )
    duckdb_path = Path(raw_path).expanduser()
    if not duckdb_path.is_absolute():  # dbt-duckdb opens it from dbt's folder: beton runs dbt in the project
        duckdb_path = project_dir / duckdb_path
    return ResolvedProfile(
        path,
        name,
        target,
        "duckdb",
        credentials.schema or "main",
        threads,
        duckdb_path=duckdb_path,
        duckdb_settings={str(k): v for k, v in (credentials.settings or {}).items()},
        database=str(credentials.database or ""),
    )


def _clickhouse(credentials, path, name, target, threads, where) -> ResolvedProfile:
    port = credentials.port
    if credentials.driver == "native" or (not credentials.driver and port in (9000, 9440)):
        raise ConfigError(
            f"{where} uses ClickHouse's native protocol (port {port}); beton talks HTTP: set `driver: http` and the "
            "HTTP port (8123, or 8443 with secure: true)"
        )
    if not port:  # dbt-clickhouse's default for the http driver
        port = 8443 if credentials.secure else 8123
    return ResolvedProfile(
        path,
        name,
        target,
        "clickhouse",
        credentials.schema or "default",
        threads,
        clickhouse={
            "host": credentials.host,
            "port": int(port),
            "username": credentials.user or "default",
            "password": credentials.password or "",
            "secure": bool(credentials.secure),
            "verify": bool(credentials.verify),
        },
        cluster=(credentials.cluster or "").strip(),
        custom_settings=dict(credentials.custom_settings or {}),
        database=str(credentials.database or ""),
    )


def _first_lines(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(lines[:4]) or type(exc).__name__


def shipped(target: str, environ: Mapping[str, str] | None = None) -> ResolvedProfile:
    """A target of the profiles.yml that ships with beton, rendered with ``environ`` over the
    process environment: for code that talks to a warehouse without a project (the low-level
    connection and ingest classes, called with environment variables)."""
    from .scaffold import template_root

    env = {**os.environ, **(environ or {})}
    if "CLICKHOUSE_PASSWORD" in env:  # as Project.dbt_env hands it to dbt
        env.setdefault("DBT_ENV_SECRET_CLICKHOUSE_PASSWORD", env["CLICKHOUSE_PASSWORD"])
    root = template_root()
    return resolve(root, profiles_dir_option=root, profile="beton", target=target, environ=env)
