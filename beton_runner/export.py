"""`beton export`: everything a rep or a BI tool wants, as files in one folder.

::

    <out>/accounts_enriched.csv      beton_marts.dim_accounts_enriched, by account_id
    <out>/users_enriched.csv         beton_marts.dim_users_enriched, by user_id
    <out>/punch_lists/<rule>.csv     one per rule, by rank
    <out>/plays/index.md             the plays, one Markdown file per account (default: the
    <out>/plays/<domain>.md          accounts on a punch list; --all: every account)

CSV files open correctly in spreadsheets: UTF-8 **with a byte-order mark** (Excel otherwise
reads UTF-8 as the local code page and mangles names like "Ramírez"), RFC 4180 quoting (a value
with a comma, a quote or a line break is quoted, quotes doubled), CRLF line ends, timestamps as
``YYYY-MM-DD HH:MM:SS``, empty cells for nulls. pandas (``encoding="utf-8-sig"``) and the csv
module read them back unchanged. Values are written as they are: a cell that starts with ``=``
is not rewritten to defuse spreadsheet formulas (that would change the data); open untrusted
CRM data with care.

``run_demo_extras`` is what `beton demo` calls at its end: enrich (simulation), plays, export.
Register the command with ``cli.add_command(export_command)`` (named ``export``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from .enrich.cli_support import console as default_console
from .enrich.cli_support import handle_errors, project_from_context, target_option, warn
from .enrich.store import Store
from .errors import BetonError
from .project import Project

CSV_ENCODING = "utf-8-sig"
MARTS = {"accounts_enriched.csv": ("dim_accounts_enriched", "account_id"),
         "users_enriched.csv": ("dim_users_enriched", "user_id")}
# Environment variables whose values must never appear in an export.
SECRET_VARIABLES = ("BETON_LLM_API_KEY", "CLICKHOUSE_PASSWORD", "POSTHOG_PERSONAL_API_KEY", "POSTHOG_API_KEY")
SECRET_PREFIXES = ("DBT_ENV_SECRET_",)


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


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """A CSV a spreadsheet opens correctly (see the module doc), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False, encoding=CSV_ENCODING, lineterminator="\r\n",
                 date_format="%Y-%m-%d %H:%M:%S", na_rep="")
    tmp.replace(path)
    return path


def _secret_values() -> list[str]:
    values = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    values += [v for k, v in os.environ.items() if k.startswith(SECRET_PREFIXES)]
    return [v for v in values if v and len(v) >= 6]


def _assert_no_secrets(paths: list[Path]) -> None:
    secrets = _secret_values()
    if not secrets:
        return
    for path in paths:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        if any(secret in text for secret in secrets):
            for p in paths:
                p.unlink(missing_ok=True)
            raise ExportError(f"{path.name} would contain the value of a secret environment variable; "
                              "nothing was exported. Check where that value entered the warehouse.")


def _rule_keys(project: Project) -> list[str]:
    from .rules import load_rules

    return [rule.key for rule in load_rules(project.rules_dir)]


def export_all(project: Project, out_dir: Path, *, engine: str = "deterministic", all_accounts: bool = False,
               with_plays: bool = True, warn_fn=None) -> ExportSummary:
    """Write every export file into ``out_dir`` (see the module doc)."""
    from .plays.engine import generate_plays, write_play_files

    summary = ExportSummary(out_dir)
    with Store(project) as store:
        for file_name, (table, key) in MARTS.items():
            store.require("marts", table, "run `beton run` (or `beton demo`) to build the enriched marts")
            frame = store.read("marts", table, order_by=key)
            summary.files.append(write_csv(frame, out_dir / file_name))
            if key == "account_id":
                summary.accounts = len(frame)
            else:
                summary.users = len(frame)
        for rule_key in _rule_keys(project):
            model = f"insp_{rule_key}"
            if not store.exists("inspections", model):
                (warn_fn or warn)(f"punch list {model} is not built yet; run `beton run` to include it")
                continue
            frame = store.read("inspections", model, order_by="rank")
            summary.punch_lists[rule_key] = len(frame)
            summary.files.append(write_csv(frame, out_dir / "punch_lists" / f"{rule_key}.csv"))
    if with_plays:
        summary.plays = generate_plays(project, all_accounts=all_accounts, engine=engine, warn=warn_fn or warn)
        summary.files += write_play_files(summary.plays, out_dir / "plays")
    _assert_no_secrets(summary.files)
    return summary


def print_summary(summary: ExportSummary, console: Console) -> None:
    from .plays.engine import file_names
    from .plays.playbook import PLAYS_BY_KEY

    if summary.plays:
        names = file_names(summary.plays)
        table = Table("account", "plays recommended", "file", title="Sales plays", title_justify="left")
        for doc in summary.plays:
            table.add_row(doc.name or doc.account_id,
                          ", ".join(PLAYS_BY_KEY[k].title for k in doc.plays) or "none (nurture)",
                          f"plays/{names[doc.account_id]}" + (" (LLM fallback)" if doc.fallback else ""))
        console.print(table)
    console.print(
        f"[green]ok:[/] exported {summary.accounts} enriched account(s), {summary.users} user(s), "
        f"{len(summary.punch_lists)} punch list(s) and {len(summary.plays)} play document(s) to {summary.out_dir}",
        highlight=False)


@click.command("export")
@target_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: output/export in the project).")
@click.option("--engine", type=click.Choice(("deterministic", "llm")), default="deterministic", show_default=True,
              help="Engine for the plays (llm: see docs/plays.md).")
@click.option("--all", "all_accounts", is_flag=True, help="Plays for every account, not only those on a punch list.")
@click.option("--plays/--no-plays", "with_plays", default=True, show_default=True, help="Also write the plays.")
@handle_errors
def export_command(target: str | None, out_dir: Path | None, engine: str, all_accounts: bool, with_plays: bool) -> None:
    """Export enriched accounts and users and every punch list as CSV, and the sales plays as
    Markdown (one file per account plus an index)."""
    project = project_from_context(target)
    out_dir = out_dir or project.dir / "output" / "export"
    summary = export_all(project, out_dir, engine=engine, all_accounts=all_accounts, with_plays=with_plays)
    print_summary(summary, default_console)


def run_demo_extras(project: Project, out_dir: Path, console: Console) -> ExportSummary:
    """The end of `beton demo`: enrich every account (simulation) and rebuild the enriched
    marts, write the sales plays, and export everything to ``<out_dir>/export``."""
    from .enrich import SimulationProvider, run_enrichment

    result = run_enrichment(project, SimulationProvider(), refresh_marts=True, vars={"beton_input": "mock"})
    console.print()
    console.print(f"Enriched {result.accounts} account(s) and {result.users} person(s) with simulated CRM data "
                  f"({result.intent_signals} intent signals, {result.tech_items} tech-stack entries).", highlight=False)
    summary = export_all(project, out_dir / "export")
    print_summary(summary, console)
    return summary
