"""The options several commands share, defined once.

``warehouse_options`` gives a command ``--target``, ``--profile``, ``--profiles-dir`` (the dbt
profile target, as dbt takes them; ``profile_options`` for the `beton` group) and ``--duckdb``
and hands it the located ``Project`` (as ``project``) instead of the raw values; ``as_of_option``, ``vars_option``,
``out_option``, ``raw_csv_option`` and ``format_option`` (``--format table|json|csv``) are the
same everywhere they appear.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import click

from ..errors import ConfigError
from ..project import Project
from .shell import Context


def current_project(target: str | None = None, duckdb_path: Path | None = None, **options) -> Project:
    """The project the `beton` group was pointed at (--project-dir, and its --profiles-dir,
    --profile, --target), else located as usual (a command invoked on its own, e.g. from a test
    or another program); ``options`` as :meth:`Context.project` takes them."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    if obj is None or not hasattr(obj, "project"):
        obj = Context(None, False)
    return obj.project(target, duckdb_path, **options)


TARGET_HELP = (
    "The dbt target (default: $DBT_TARGET, else the profile's own; the shipped profiles.yml: duckdb, or "
    "clickhouse with BETON_TARGET=clickhouse)."
)
PROFILE_HELP = "The dbt profile (default: $DBT_PROFILE, else `profile:` in dbt_project.yml)."
PROFILES_DIR_HELP = (
    "The folder of profiles.yml (default: $DBT_PROFILES_DIR, else the project folder's, else ~/.dbt), as dbt."
)


def profile_options(command: Callable) -> Callable:
    """``--profiles-dir``, ``--profile`` and ``--target``: the dbt profile target, as dbt takes them."""
    for option in reversed(
        (
            click.option("--target", "-t", "target", default=None, metavar="NAME", help=TARGET_HELP),
            click.option("--profile", "profile", default=None, metavar="NAME", help=PROFILE_HELP),
            click.option(
                "--profiles-dir",
                "profiles_dir",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                help=PROFILES_DIR_HELP,
            ),
        )
    ):
        command = option(command)
    return command


def warehouse_options(func: Callable | None = None, *, default_target: str | None = None) -> Callable:
    """``--target``, ``--profile``, ``--profiles-dir`` and ``--duckdb``; the command receives
    ``project: Project``."""

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(
            *args,
            target: str | None = None,
            duckdb: Path | None = None,
            profile: str | None = None,
            profiles_dir: Path | None = None,
            **kwargs,
        ):
            project = current_project(target or default_target, duckdb, profile=profile, profiles_dir=profiles_dir)
            if duckdb is not None and project.engine != "duckdb":
                raise ConfigError(
                    f"--duckdb is for a duckdb target; target '{project.target}' is {project.engine} "
                    f"(profile '{project.profile_settings.profile}' in {project.profile_settings.path})"
                )
            return command(*args, project=project, **kwargs)

        wrapper = click.option(
            "--duckdb",
            "duckdb",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="The DuckDB file (default: the target's path; the shipped profile: $BETON_DUCKDB_PATH, else "
            "beton.duckdb in the project).",
        )(wrapper)
        return profile_options(wrapper)

    return decorate(func) if func is not None else decorate


as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="TS",
    help="Evaluate rules at this instant: 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) or ISO 8601 with Z or an offset "
    "(kept to the microsecond); default: now (mock data: its own instant).",
)

vars_option = click.option(
    "--vars",
    "raw_vars",
    default=None,
    metavar="JSON",
    help='Extra dbt vars as a JSON object, e.g. \'{"beton_input": "source"}\'.',
)

csv_path_option = click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the rows to this CSV file.",
)

raw_csv_option = click.option(
    "--raw-csv",
    "raw_csv",
    is_flag=True,
    default=False,
    help="Write CSV text cells as they are. Default: a text cell starting with = + - @, a tab or a carriage "
    "return (and not a plain number) gets a leading ' so spreadsheets do not run it as a formula.",
)


OUTPUT_FORMATS = ("table", "json", "csv")


def format_option(*extra: str) -> Callable:
    """``--format table|json|csv`` (and ``extra`` choices, e.g. ``github`` for `beton rules check`);
    the command receives ``output_format``. json and csv put the rows alone on stdout (see
    ``cli/output.py``); notes go to stderr."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(OUTPUT_FORMATS + extra),
        default="table",
        show_default=True,
        help="table (for people); json (one document on stdout) or csv (on stdout; --raw-csv applies) for programs"
        + ("; github: GitHub Actions annotations" if "github" in extra else "")
        + ".",
    )


def out_option(default_help: str, *, file: bool = False) -> Callable:
    """``--out``: a folder (or, with ``file=True``, a file); ``default_help`` says the default."""
    kind = click.Path(dir_okay=False, path_type=Path) if file else click.Path(file_okay=False, path_type=Path)
    return click.option("--out", "out", type=kind, default=None, help=f"Where to write (default: {default_help}).")


def dbt_vars(as_of: str | None, raw_vars: str | None) -> dict:
    """The dbt vars of --vars (a JSON object) and --as-of."""
    out: dict = {}
    if raw_vars:
        try:
            out = json.loads(raw_vars)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f'--vars is not JSON ({exc.msg} at column {exc.colno}); e.g. --vars \'{{"beton_input": "source"}}\''
            ) from None
        if not isinstance(out, dict):
            raise ConfigError('--vars must be a JSON object, e.g. --vars \'{"beton_input": "source"}\'')
    if as_of:
        out["beton_as_of"] = instant_text(parse_as_of(as_of))
    return out


_INSTANT = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})(?:[ Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?\s*"
)


def parse_as_of(text: str) -> datetime:
    """--as-of as a naive UTC datetime, to the microsecond: the same forms as the dbt macro
    ``beton.parse_instant`` (checked here first so a typo is one clear message, not a dbt
    compilation error in every model). An offset is applied; a fraction finer than a
    microsecond is refused rather than silently rounded."""
    m = _INSTANT.fullmatch(text)
    example = "e.g. --as-of '2026-10-01 12:00:00' or --as-of 2026-10-01T12:00:00.250Z"
    if not m:
        raise ConfigError(
            f"--as-of {text!r} is not an instant; use 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC) or ISO 8601 "
            f"with Z or an offset, {example}"
        )
    y, mo, d, h, mi, s, fraction, _z, sign, off_h, off_m = m.groups()
    fraction = fraction or ""
    if len(fraction) > 6 and fraction[6:].strip("0"):
        raise ConfigError(
            f"--as-of {text!r} has {len(fraction)} fractional digits, but instants are kept to the "
            "microsecond (6 digits); round it to 6"
        )
    try:
        local = datetime(
            int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), int((fraction[:6] + "000000")[:6])
        )
        offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
        if offset >= timedelta(hours=24):
            raise ValueError("offset of a day or more")
    except ValueError as exc:
        raise ConfigError(f"--as-of {text!r} is not a valid instant ({exc}); {example}") from None
    return local + offset if sign == "-" else local - offset


def instant_text(instant: datetime) -> str:
    """A naive UTC datetime as the text dbt's ``beton_as_of`` takes: seconds, plus the
    microseconds when there are any."""
    return instant.strftime("%Y-%m-%d %H:%M:%S.%f" if instant.microsecond else "%Y-%m-%d %H:%M:%S")
