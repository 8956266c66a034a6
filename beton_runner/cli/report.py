"""`beton report`: one self-contained HTML file (docs/report.md)."""

from __future__ import annotations

from pathlib import Path

import click

from ..project import Project
from ..report import DEFAULT_MAX_ROWS, build_report
from . import console
from .console import esc
from .options import out_option, warehouse_options
from .shell import command


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1000:.0f} kB"


@command("report")
@out_option("output/report.html in the project", file=True)
@warehouse_options
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_ROWS,
    show_default=True,
    help="Rows per table at most (keeps the page fast).",
)
@click.option(
    "--plays-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of sales plays to show (default: output/plays in the project, where `beton plays` and `beton demo` write them).",
)
def report_command(project: Project, out: Path | None, max_rows: int, plays_dir: Path | None) -> None:
    """Write one self-contained HTML report that leads with who to call: every punch list with
    its SQL and a sparkline per finding, the sales plays, trends, data health, activity and a data
    explorer. Opens offline."""
    out_path = out or project.dir / "output" / "report.html"
    result = build_report(project, out_path, max_rows=max_rows, plays_dir=plays_dir)
    for message in result.data.notes:
        console.note(message)
    data = result.data
    findings = sum(p.summary.findings for p in data.punch_lists)
    parts = [f"{len(data.punch_lists)} punch list(s), {findings:,} finding(s)"]
    if data.accounts is not None:
        parts.append(f"{data.accounts.total_rows:,} account(s)")
    if data.users is not None:
        parts.append(f"{data.users.total_rows:,} user(s)")
    if data.plays:
        parts.append(f"{len(data.plays.files)} sales play(s)")
    console.ok(esc(f"wrote {result.path} ({_size(result.size_bytes)}): {', '.join(parts)}."))
