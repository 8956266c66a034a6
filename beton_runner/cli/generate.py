"""`beton generate`: deterministic synthetic PostHog-style data at any size (docs/performance.md)."""

from __future__ import annotations

import click

from ..project import Project
from ..warehouse import connect
from . import console
from .console import esc
from .options import warehouse_options
from .shell import command


@command("generate")
@warehouse_options
@click.option("--events", "n_events", type=click.IntRange(min=1), required=True, help="How many events (e.g. 1000000).")
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=90,
    show_default=True,
    help="Days the events span, ending 2026-10-01 12:00 UTC.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same data.")
@click.option(
    "--append-days",
    type=click.IntRange(min=1),
    default=None,
    help="Instead of replacing the tables, append this many new days of events after the existing ones.",
)
def generate_command(project: Project, n_events: int, days: int, seed: int, append_days: int | None) -> None:
    """Write deterministic synthetic PostHog-style data into the input tables (beton_raw).

    Build on it with `BETON_INPUT=source beton run` (as_of defaults to now: pass
    --as-of '2026-10-01 12:00:00' for the generated period)."""
    from ..datagen.synthetic import Shape, write

    shape = Shape.for_events(n_events, days=days, seed=seed)
    raw = project.raw_schema
    status = console.err_console.status(f"generating {n_events:,} events into {esc(raw)} ({project.target}) …")
    with status, connect(project, write=True, create=True) as conn:
        counts = write(conn, project.dir, shape, schema=raw, append_days=append_days or 0)
    console.say(esc("  ".join(f"{table}: {count:,}" for table, count in counts.items())))
