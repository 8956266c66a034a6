"""`beton deliver` (punch-list changes to the configured destinations, exactly once) and
`beton pipeline` (ingest -> run -> deliver, the scheduled production run)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click
from rich.text import Text

from ..deliver.config import config_path, load_destinations
from ..deliver.run import DeliveryFailed, DestinationReport, deliver
from ..errors import BetonError, ConfigError
from ..project import Project
from . import console
from .console import esc
from .options import warehouse_options
from .shell import command

destinations_option = click.option(
    "--destinations",
    "destinations_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The destinations file (default: $BETON_DESTINATIONS, else destinations.yml in the project).",
)


def _selected(project: Project, destinations_file: Path | None, names: tuple[str, ...]):
    path = config_path(project.dir, destinations_file)
    configs = load_destinations(path)
    if names:
        known = {c.name for c in configs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(
                f"--destination {', '.join(unknown)}: not in {path}; destinations there: {', '.join(sorted(known)) or 'none'}"
            )
        configs = [c for c in configs if c.name in names]
    return path, configs


def _summary_text(report: DestinationReport) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(report.summary.items())) or "-"


def print_reports(reports: list[DestinationReport], *, dry_run: bool) -> None:
    if dry_run:
        specs = [
            ("destination", {}),
            ("kind", {}),
            ("changes to send", {"justify": "right"}),
            ("requests", {"justify": "right"}),
            ("what", {}),
            ("problem", {}),
        ]
        rows = [
            [
                Text(r.name),
                Text(r.kind),
                Text(str(r.pending)),
                Text(str(r.batches)),
                Text(_summary_text(r)),
                Text(r.error or "", style="red"),
            ]
            for r in reports
        ]
        console.show(
            console.table(specs, rows, title_markup="Delivery dry run [dim](nothing sent, nothing recorded)[/]")
        )
        for r in reports:
            for batch in r.planned:
                if batch.description:
                    console.text(f"  {r.name}: {batch.description}")
        return
    specs = [
        ("destination", {}),
        ("kind", {}),
        ("new", {"justify": "right"}),
        ("delivered", {"justify": "right"}),
        ("rejected", {"justify": "right"}),
        ("pending", {"justify": "right"}),
        ("what", {}),
        ("status", {}),
    ]
    rows = []
    for r in reports:
        if r.error:
            status = Text(("will retry next run: " if r.retryable else "failed: ") + r.error, style="red")
        else:
            status = Text("ok", style="green")
        rows.append(
            [
                Text(r.name),
                Text(r.kind),
                Text(str(r.enqueued)),
                Text(str(r.delivered)),
                Text(str(r.rejected)),
                Text(str(r.pending)),
                Text(_summary_text(r)),
                status,
            ]
        )
    console.show(console.table(specs, rows, title_markup="Delivery"))
    for r in reports:
        for change_id, reason in sorted(r.rejections.items())[:10]:
            console.text(f"  {r.name}: rejected {change_id}: {reason}")


def run_delivery(
    project: Project, destinations_file: Path | None, names: tuple[str, ...], dry_run: bool
) -> list[DestinationReport]:
    path, configs = _selected(project, destinations_file, names)
    enabled = [c for c in configs if c.enabled]
    if not enabled:
        console.say(f"no enabled destination in {esc(path)}: nothing to deliver.")
        return []
    reports = deliver(project, enabled, dry_run=dry_run)
    print_reports(reports, dry_run=dry_run)
    failed = [r for r in reports if r.error]
    if failed and dry_run:
        raise DeliveryFailed(
            f"{len(failed)} of {len(reports)} destination(s) cannot deliver as configured: "
            + "; ".join(r.name for r in failed)
            + " (the problem column above says why). Nothing was sent or recorded."
        )
    if failed:
        raise DeliveryFailed(
            f"{len(failed)} of {len(reports)} destination(s) not fully delivered: "
            + "; ".join(f"{r.name} ({'will retry' if r.retryable else 'needs a fix'})" for r in failed)
            + ". What was delivered is recorded; the rest stays pending for the next `beton deliver`."
        )
    return reports


class PipelineFailed(BetonError):
    """A step of `beton pipeline` failed: its own error, then which steps ran and which did not."""


@command("deliver")
@warehouse_options
@destinations_option
@click.option("--destination", "names", multiple=True, help="Only this destination (its name); repeatable.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent to each destination; send and record nothing.")
def deliver_command(project: Project, destinations_file: Path | None, names: tuple[str, ...], dry_run: bool) -> None:
    """Send the punch-list changes each destination has not had yet (webhook, Slack, HubSpot,
    Salesforce; configured in destinations.yml), exactly once: a change is recorded as delivered
    only after the destination acknowledged it, and what failed is sent on the next run."""
    reports = run_delivery(project, destinations_file, names, dry_run)
    if reports and not dry_run:
        total = sum(r.delivered for r in reports)
        console.ok(f"delivered {total} change(s) to {len(reports)} destination(s).")


@command("pipeline")
@warehouse_options
@destinations_option
@click.option(
    "--ingest/--no-ingest",
    "ingest",
    default=None,
    help="Load PostHog first (default: when POSTHOG_PERSONAL_API_KEY is set).",
)
@click.option("--deliver/--no-deliver", "do_deliver", default=True, help="Deliver the changes at the end (default on).")
@click.pass_context
def pipeline_command(
    ctx: click.Context, project: Project, destinations_file: Path | None, ingest: bool | None, do_deliver: bool
) -> None:
    """The scheduled production run: `beton ingest posthog`, `beton run`, `beton deliver`, in
    order, stopping at the first step that fails, with a summary of every step."""
    from .build import run_command
    from .posthog import ingest_posthog

    if ingest is None:
        ingest = bool(os.environ.get("POSTHOG_PERSONAL_API_KEY"))
    warehouse = {
        "target": project.target,
        "profile": project.profile,
        "profiles_dir": project.profiles_dir,
        "duckdb": project.duckdb_path if project.engine == "duckdb" else None,
    }
    steps = []
    if ingest:
        steps.append(("ingest", lambda: ctx.invoke(ingest_posthog, **warehouse)))
    run_vars = '{"beton_input": "source"}' if ingest else None
    steps.append(("run", lambda: ctx.invoke(run_command, raw_vars=run_vars, **warehouse)))
    if do_deliver:
        steps.append(("deliver", lambda: ctx.invoke(deliver_command, destinations_file=destinations_file, **warehouse)))
    done: list[str] = []
    for name, step in steps:
        console.say(f"[bold]── {name}[/]")
        started = time.monotonic()
        try:
            step()
        except BetonError as exc:
            left = [n for n, _ in steps[len(done) + 1 :]]
            where = f"pipeline stopped at {name}" + (f" after {', '.join(done)}" if done else "")
            failure = PipelineFailed(f"{exc}\n{where}" + (f"; not run: {', '.join(left)}" if left else "") + ".")
            failure.exit_code = exc.exit_code
            raise failure from exc
        done.append(f"{name} ({time.monotonic() - started:.0f} s)")
    skipped = "" if ingest else " (ingest skipped: POSTHOG_PERSONAL_API_KEY is not set; --ingest to require it)"
    console.ok(f"pipeline done: {', '.join(done)}{skipped}.")
