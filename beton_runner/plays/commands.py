"""`beton plays`: sales plays for accounts, as Markdown files (and on screen).

Register with ``cli.add_command(plays_command)`` (the command is named ``plays``).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..enrich.cli_support import console, handle_errors, project_from_context, target_option, warn
from .engine import ENGINES, file_names, generate_plays, write_play_files
from .playbook import PLAYS_BY_KEY


@click.command("plays")
@target_option
@click.option("--account", "-a", "accounts", multiple=True, metavar="DOMAIN|ID|NAME",
              help="Only this account (repeatable). Default: every account on a punch list.")
@click.option("--all", "all_accounts", is_flag=True, help="Every account, on a punch list or not.")
@click.option("--engine", type=click.Choice(ENGINES), default="deterministic", show_default=True,
              help="deterministic (templates, offline) or llm (BETON_LLM_BASE_URL, BETON_LLM_MODEL, BETON_LLM_API_KEY).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the Markdown files (default: output/plays in the project).")
@click.option("--print/--no-print", "print_markdown", default=None,
              help="Print the Markdown (default: when one account is asked for).")
@handle_errors
def plays_command(target: str | None, accounts: tuple[str, ...], all_accounts: bool, engine: str, out_dir: Path | None,
                  print_markdown: bool | None) -> None:
    """Write sales plays grounded in the warehouse: matched rules and scores, usage, enrichment,
    people to contact, and the plays whose signals hold (docs/plays.md)."""
    project = project_from_context(target)
    if accounts and all_accounts:
        raise click.UsageError("use --account or --all, not both")
    documents = generate_plays(project, list(accounts) or None, all_accounts=all_accounts, engine=engine, warn=warn)
    out_dir = out_dir or project.dir / "output" / "plays"
    write_play_files(documents, out_dir)
    if print_markdown is None:
        print_markdown = len(documents) == 1
    if print_markdown:
        for doc in documents:
            click.echo(doc.markdown)
    names = file_names(documents)
    table = Table("account", "domain", "plays recommended", "engine", "file", title="Sales plays", title_justify="left")
    for doc in documents:
        table.add_row(doc.name or doc.account_id, doc.domain or "",
                      ", ".join(PLAYS_BY_KEY[k].title for k in doc.plays) or "none (nurture)",
                      doc.engine + (" (fallback)" if doc.fallback else ""), names[doc.account_id])
    (console if not print_markdown else _stderr()).print(table)
    (console if not print_markdown else _stderr()).print(
        f"[green]ok:[/] {len(documents)} account(s); plays in {out_dir} (index.md lists them).", highlight=False)


def _stderr():
    from ..enrich.cli_support import err_console

    return err_console
