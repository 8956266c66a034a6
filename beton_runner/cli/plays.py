"""`beton plays`: sales plays for accounts, as Markdown files (and on screen)."""

from __future__ import annotations

from pathlib import Path

import click

from ..plays.engine import ENGINES, file_names, generate_plays, write_play_files
from ..plays.playbook import PLAYS_BY_KEY
from ..project import Project
from . import console
from .console import esc
from .options import out_option, warehouse_options
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
    help="Print the Markdown (default: when one account is asked for).",
)
def plays_command(
    project: Project,
    accounts: tuple[str, ...],
    all_accounts: bool,
    engine: str,
    out: Path | None,
    print_markdown: bool | None,
) -> None:
    """Write sales plays grounded in the warehouse: matched rules and scores, usage, enrichment,
    people to contact, and the plays whose signals hold (docs/plays.md)."""
    if accounts and all_accounts:
        raise click.UsageError("use --account or --all, not both")
    documents = generate_plays(
        project, list(accounts) or None, all_accounts=all_accounts, engine=engine, warn=console.warn
    )
    out_dir = out or project.dir / "output" / "plays"
    write_play_files(documents, out_dir)
    if print_markdown is None:
        print_markdown = len(documents) == 1
    if print_markdown:
        for doc in documents:
            click.echo(doc.markdown)
    names = file_names(documents)
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
