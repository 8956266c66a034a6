"""`beton export`: everything a rep or a BI tool wants, as files in one folder.

::

    <out>/accounts_enriched.csv      beton_marts.dim_accounts_enriched, by account_id
    <out>/users_enriched.csv         beton_marts.dim_users_enriched, by user_id
    <out>/punch_lists/<rule>.csv     one per rule, by rank
    <out>/plays/index.md             the plays, one Markdown file per account (default: the
    <out>/plays/<domain>.md          accounts on a punch list; --all: every account)

CSV files are written by the one CSV writer (:mod:`beton_runner.csvfile`: UTF-8 with a BOM
for spreadsheets, RFC 4180 quoting, CRLF, empty cells for nulls). CRM and product data are
untrusted, so by default a text cell a spreadsheet would run as a formula (it starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and is not a plain number) is written
with a leading ``'``; numeric columns are never touched. ``raw_csv=True`` (``--raw-csv``)
writes every value as it is, for programs that load the files.

Every file is checked for the values of secret environment variables before it is written
(:mod:`beton_runner.secrets`); if one would hold a secret, the export stops, the files it had
already written are removed and an ``ExportError`` names the file. The command is
``beton_runner.cli.export``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .csvfile import write_csv
from .enrich.store import Store
from .errors import BetonError
from .project import Project
from .secrets import SecretInOutputError

MARTS = {
    "accounts_enriched.csv": ("dim_accounts_enriched", "account_id"),
    "users_enriched.csv": ("dim_users_enriched", "user_id"),
}


class ExportError(BetonError):
    """The export could not be written (or would have contained a secret)."""


@dataclass
class ExportSummary:
    out_dir: Path
    accounts: int = 0
    users: int = 0
    punch_lists: dict[str, int] = field(default_factory=dict)
    plays: list = field(default_factory=list)  # PlayDocument
    files: list[Path] = field(default_factory=list)
    plays_dir: Path | None = None  # where the plays were written (out_dir/plays unless told)
    notes: list[str] = field(default_factory=list)  # what a user should know (e.g. a punch list not built yet)


def _rule_keys(project: Project) -> list[str]:
    from .rules import load_rules

    return [rule.key for rule in load_rules(project.rules_dir)]


def export_all(
    project: Project,
    out_dir: Path,
    *,
    engine: str = "deterministic",
    all_accounts: bool = False,
    with_plays: bool = True,
    warn_fn: Callable[[str], None] | None = None,
    raw_csv: bool = False,
    plays_dir: Path | None = None,
) -> ExportSummary:
    """Write every export file into ``out_dir`` (see the module doc). ``warn_fn`` hears what a
    user should know as it happens (it is also collected in ``summary.notes``); ``raw_csv``
    turns off the CSV formula neutralisation; ``plays_dir`` is where the plays go (default
    ``out_dir/plays``; `beton demo` puts them where `beton report` looks, ``output/plays``)."""
    summary = ExportSummary(out_dir)
    try:
        _export(
            project,
            summary,
            engine=engine,
            all_accounts=all_accounts,
            with_plays=with_plays,
            warn_fn=warn_fn,
            raw_csv=raw_csv,
            plays_dir=plays_dir if plays_dir is not None else out_dir / "plays",
        )
    except SecretInOutputError as exc:
        for path in summary.files:
            path.unlink(missing_ok=True)
        raise ExportError(
            f"{exc.path.name} would contain the value of a secret environment variable "
            f"({exc.variable}); nothing was exported (the {len(summary.files)} file(s) already "
            f"written to {out_dir} were removed). Check where that value entered the data."
        ) from None
    return summary


def _export(
    project: Project,
    summary: ExportSummary,
    *,
    engine: str,
    all_accounts: bool,
    with_plays: bool,
    warn_fn: Callable[[str], None] | None,
    raw_csv: bool,
    plays_dir: Path,
) -> None:
    from .plays.engine import generate_plays, write_play_files

    out_dir = summary.out_dir

    def warn(message: str) -> None:
        summary.notes.append(message)
        if warn_fn is not None:
            warn_fn(message)

    with Store(project) as store:
        for file_name, (table, key) in MARTS.items():
            store.require("marts", table, "run `beton run` (or `beton demo`) to build the enriched marts")
            frame = store.read("marts", table, order_by=key)
            summary.files.append(write_csv(frame, out_dir / file_name, raw=raw_csv))
            if key == "account_id":
                summary.accounts = len(frame)
            else:
                summary.users = len(frame)
        for rule_key in _rule_keys(project):
            model = f"insp_{rule_key}"
            if not store.exists("inspections", model):
                warn(f"punch list {model} is not built yet; run `beton run` to include it")
                continue
            frame = store.read("inspections", model, order_by="rank")
            summary.punch_lists[rule_key] = len(frame)
            summary.files.append(write_csv(frame, out_dir / "punch_lists" / f"{rule_key}.csv", raw=raw_csv))
    if with_plays:
        summary.plays = generate_plays(project, all_accounts=all_accounts, engine=engine, warn=warn)
        summary.files += write_play_files(summary.plays, plays_dir)
        summary.plays_dir = plays_dir
