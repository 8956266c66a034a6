"""`beton report`: the click command. The CLI registers it with
``cli.add_command(report_command)``."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Callable

import click
from rich.console import Console

from ..errors import BetonError
from ..project import TARGETS, Project
from . import DEFAULT_MAX_ROWS, build_report

console = Console()
err_console = Console(stderr=True)


def _clean_errors(func: Callable) -> Callable:
    """One message and a non-zero exit for a ``BetonError`` (a traceback only with --debug),
    as the CLI does for its own commands."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except BetonError as exc:
            root = click.get_current_context().find_root().obj
            if getattr(root, "debug", False):
                raise
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(exc.exit_code)
    return wrapper


def _project(obj, target: str | None) -> Project:
    if obj is not None and hasattr(obj, "project"):
        return obj.project(target)
    return Project.locate(None, target)


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1000:.0f} kB"


@click.command("report")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file to write (default: output/report.html in the project).")
@click.option("--target", "-t", type=click.Choice(TARGETS), default=None,
              help="Warehouse: duckdb (default, env BETON_TARGET) or clickhouse.")
@click.option("--max-rows", type=click.IntRange(min=1), default=DEFAULT_MAX_ROWS, show_default=True,
              help="Rows per table at most (keeps the page fast).")
@click.option("--plays-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of sales plays to link (default: output/plays in the project).")
@click.pass_obj
@_clean_errors
def report_command(obj, out_path: Path | None, target: str | None, max_rows: int, plays_dir: Path | None) -> None:
    """Write one self-contained HTML report: data health, activity, a data explorer, every
    punch list with its SQL, and links to the sales plays. Opens offline."""
    project = _project(obj, target)
    out_path = out_path or project.dir / "output" / "report.html"
    result = build_report(project, out_path, max_rows=max_rows, plays_dir=plays_dir)
    for note in result.data.notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    data = result.data
    findings = sum(p.summary.findings for p in data.punch_lists)
    parts = [f"{len(data.punch_lists)} punch list(s), {findings:,} finding(s)"]
    if data.accounts is not None:
        parts.append(f"{data.accounts.total_rows:,} account(s)")
    if data.users is not None:
        parts.append(f"{data.users.total_rows:,} user(s)")
    if data.plays:
        parts.append(f"{len(data.plays.files)} sales play(s)")
    console.print(f"[green]ok:[/] wrote {result.path} ({_size(result.size_bytes)}): {', '.join(parts)}.",
                  highlight=False, soft_wrap=True)
