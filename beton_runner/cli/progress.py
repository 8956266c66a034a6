"""Progress displays: the dbt build bar and the PostHog ingest's per-stream lines.

The library reports progress through plain callbacks (dbt's JSON events, the ingest's
``Reporter`` protocol); only this module turns them into rich output.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from ..posthog.progress import NullReporter
from .console import err_console, esc


@contextmanager
def dbt_progress(label: str, *, quiet: bool = False) -> Iterator[Callable[[dict], None]]:
    """A bar over dbt's nodes, fed by dbt's JSON log events (yields the callback)."""
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[node]}"),
    ]
    with Progress(
        *columns, console=err_console, transient=quiet, disable=not err_console.is_terminal and quiet
    ) as progress:
        task = progress.add_task(esc(label), total=None, node="")

        def on_event(event: dict) -> None:
            data = event.get("data", {})
            name = event.get("info", {}).get("name", "")
            if name.endswith("Result") and "total" in data and "index" in data:
                node = (data.get("node_info") or {}).get("node_name", "")
                progress.update(task, total=data["total"], completed=data["index"], node=esc(node))

        yield on_event
        # dbt reports a node when it starts and when it ends; the last report may come before the
        # last end. The run is over: the bar ends at the real total.
        total = progress.tasks[0].total
        progress.update(task, total=total or 0, completed=total or 0, node="done")


class _RateColumn(ProgressColumn):
    """Pages, rows and rows per second over the stream's elapsed time."""

    def render(self, task: Task) -> Text:
        pages = task.fields.get("pages", 0)
        rows = int(task.completed)
        elapsed = task.finished_time if task.finished else task.elapsed
        rate = rows / elapsed if elapsed else 0.0
        return Text(f"{pages:,} pages, {rows:,} rows, {rate:,.0f}/s", style="progress.data.speed")


class RichReporter(NullReporter):
    """The ingest's progress on stderr: one line per stream (plain lines when not a terminal)."""

    def __init__(self) -> None:
        super().__init__()
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<20}"),
            BarColumn(bar_width=12),
            _RateColumn(),
            TimeElapsedColumn(),
            console=err_console,
            refresh_per_second=4,
            transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._progress.start()

    def start(self, stream: str, label: str, total: int | None = None) -> None:
        super().start(stream, label, total)
        with self._lock:
            self._tasks[stream] = self._progress.add_task(esc(label), total=total, pages=0)

    def set_total(self, stream: str, total: int | None) -> None:
        if stream in self._tasks:
            self._progress.update(self._tasks[stream], total=total)

    def page(self, stream: str, rows: int) -> None:
        super().page(stream, rows)
        if stream in self._tasks:
            self._progress.update(self._tasks[stream], advance=rows, pages=self.pages[stream])

    def finish(self, stream: str) -> None:
        if stream in self._tasks:
            task_id = self._tasks[stream]
            task = next(t for t in self._progress.tasks if t.id == task_id)
            self._progress.update(task_id, total=task.completed)
            self._progress.stop_task(task_id)

    def note(self, message: str) -> None:
        super().note(message)
        self._progress.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {esc(message)}", highlight=False)

    def close(self) -> None:
        self._progress.stop()
