"""`beton export`: enriched accounts and users, every punch list (CSV) and the plays (Markdown)."""

from __future__ import annotations

from pathlib import Path

import click

from ..export import ExportSummary, export_all
from ..project import Project
from . import console
from .console import esc
from .options import out_option, raw_csv_option, warehouse_options
from .shell import command


def _plays_folder(summary: ExportSummary) -> str:
    """The plays' folder as the table shows it: `plays` inside the export folder, else the
    folder itself (`beton demo` writes them to output/plays, where `beton report` looks)."""
    folder = summary.plays_dir or summary.out_dir / "plays"
    if folder == summary.out_dir / "plays":
        return "plays"
    return str(folder)


def print_summary(summary: ExportSummary) -> None:
    from ..plays.engine import file_names
    from ..plays.playbook import PLAYS_BY_KEY

    if summary.plays:
        names = file_names(summary.plays)
        rows = [
            (
                doc.name or doc.account_id,
                ", ".join(PLAYS_BY_KEY[k].title for k in doc.plays) or "none (nurture)",
                f"{_plays_folder(summary)}/{names[doc.account_id]}" + (" (LLM fallback)" if doc.fallback else ""),
            )
            for doc in summary.plays
        ]
        console.show(console.table(("account", "plays recommended", "file"), rows, title="Sales plays"))
    console.ok(
        esc(
            f"exported {summary.accounts} enriched account(s), {summary.users} user(s), "
            f"{len(summary.punch_lists)} punch list(s) and {len(summary.plays)} play document(s) to {summary.out_dir}"
        )
    )


@command("export")
@warehouse_options
@out_option("output/export in the project")
@click.option(
    "--engine",
    type=click.Choice(("deterministic", "llm")),
    default="deterministic",
    show_default=True,
    help="Engine for the plays (llm: see docs/plays.md).",
)
@click.option("--all", "all_accounts", is_flag=True, help="Plays for every account, not only those on a punch list.")
@click.option("--plays/--no-plays", "with_plays", default=True, show_default=True, help="Also write the plays.")
@raw_csv_option
def export_command(
    project: Project, out: Path | None, engine: str, all_accounts: bool, with_plays: bool, raw_csv: bool
) -> None:
    """Export enriched accounts and users and every punch list as CSV, and the sales plays as
    Markdown (one file per account plus an index)."""
    out_dir = out or project.dir / "output" / "export"
    summary = export_all(
        project,
        out_dir,
        engine=engine,
        all_accounts=all_accounts,
        with_plays=with_plays,
        warn_fn=console.warn,
        raw_csv=raw_csv,
    )
    print_summary(summary)
