"""`beton plays`: sales plays for accounts, as Markdown files (and on screen)."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from ..plays.engine import ENGINES, file_names, generate_plays, write_play_files
from ..plays.playbook import PLAYS_BY_KEY
from ..project import Project
from . import console
from .console import esc
from .options import format_option, out_option, raw_csv_option, warehouse_options
from .output import emit_csv, emit_json, records
from .shell import command


@command("plays")
@warehouse_options
@click.option(
    "--account",
    "-a",
    "accounts",
    multiple=True,
    metavar="DOMAIN|ID|NAME",
    help="Only this account (repeatable). Default: every account on a punch list.",
)
@click.option("--all", "all_accounts", is_flag=True, help="Every account, on a punch list or not.")
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="deterministic",
    show_default=True,
    help="deterministic (templates, offline) or llm (BETON_LLM_BASE_URL, BETON_LLM_MODEL, BETON_LLM_API_KEY).",
)
@out_option("output/plays in the project")
@click.option(
    "--print/--no-print",
    "print_markdown",
    default=None,
    help="Print the Markdown (default: when one account is asked for; not with --format json|csv).",
)
@format_option()
@raw_csv_option
def plays_command(
    project: Project,
    accounts: tuple[str, ...],
    all_accounts: bool,
    engine: str,
    out: Path | None,
    print_markdown: bool | None,
    output_format: str,
    raw_csv: bool,
) -> None:
    """Write sales plays grounded in the warehouse: matched rules and scores, usage, enrichment,
    people to contact, and the plays whose signals hold (docs/plays.md).

    --format json prints one object per account (with its Markdown); csv one row per account
    (without it); the files are written either way."""
    if accounts and all_accounts:
        raise click.UsageError("use --account or --all, not both")
    if print_markdown and output_format != "table":
        raise click.UsageError("--print is for --format table; --format json carries each account's Markdown")
    documents = generate_plays(
        project, list(accounts) or None, all_accounts=all_accounts, engine=engine, warn=console.warn
    )
    out_dir = out or project.plays_dir
    write_play_files(documents, out_dir)
    names = file_names(documents)
    if output_format != "table":
        frame = pd.DataFrame(
            [
                {
                    "account_id": doc.account_id,
                    "name": doc.name,
                    "domain": doc.domain,
                    "plays": doc.plays,
                    "play_titles": [PLAYS_BY_KEY[k].title for k in doc.plays],
                    "engine": doc.engine,
                    "fallback": doc.fallback,
                    "file": str(out_dir / names[doc.account_id]),
                    "markdown": doc.markdown,
                }
                for doc in documents
            ],
            columns=["account_id", "name", "domain", "plays", "play_titles", "engine", "fallback", "file", "markdown"],
        )
        if output_format == "json":
            emit_json(records(frame))
        else:  # one row per account: the lists as '; '-separated text, the Markdown in the files
            for column in ("plays", "play_titles"):
                frame[column] = frame[column].map("; ".join)
            emit_csv(frame.drop(columns=["markdown"]), raw=raw_csv)
        console.ok(f"{len(documents)} account(s); plays in {esc(out_dir)}.", stderr=True)
        return
    if print_markdown is None:
        print_markdown = len(documents) == 1
    if print_markdown:
        for doc in documents:
            click.echo(doc.markdown)
    rows = [
        (
            doc.name or doc.account_id,
            doc.domain or "",
            ", ".join(PLAYS_BY_KEY[k].title for k in doc.plays) or "none (nurture)",
            doc.engine + (" (fallback)" if doc.fallback else ""),
            names[doc.account_id],
        )
        for doc in documents
    ]
    # With the Markdown on stdout (to pipe or save), the summary goes to stderr.
    to_stderr = bool(print_markdown)
    console.show(
        console.table(("account", "domain", "plays recommended", "engine", "file"), rows, title="Sales plays"),
        stderr=to_stderr,
    )
    console.say(
        f"[green]ok:[/] {len(documents)} account(s); plays in {esc(out_dir)} (index.md lists them).", stderr=to_stderr
    )
