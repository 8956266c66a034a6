"""Progress of an ingest: one line per stream with pages, rows and rows per second."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


class Reporter(Protocol):
    def start(self, stream: str, label: str, total: int | None = None) -> None: ...

    def set_total(self, stream: str, total: int | None) -> None: ...

    def page(self, stream: str, rows: int) -> None: ...

    def finish(self, stream: str) -> None: ...

    def note(self, message: str) -> None: ...

    def close(self) -> None: ...


class NullReporter:
    """Counts pages and rows without showing anything (library use, tests)."""

    def __init__(self) -> None:
        self.pages: dict[str, int] = {}
        self.rows: dict[str, int] = {}
        self.notes: list[str] = []
        self._lock = threading.Lock()

    def start(self, stream: str, label: str, total: int | None = None) -> None:
        self.pages.setdefault(stream, 0)
        self.rows.setdefault(stream, 0)

    def set_total(self, stream: str, total: int | None) -> None:
        pass

    def page(self, stream: str, rows: int) -> None:
        with self._lock:
            self.pages[stream] = self.pages.get(stream, 0) + 1
            self.rows[stream] = self.rows.get(stream, 0) + rows

    def finish(self, stream: str) -> None:
        pass

    def note(self, message: str) -> None:
        with self._lock:
            self.notes.append(message)

    def close(self) -> None:
        pass


class _RateColumn(ProgressColumn):
    """Pages, rows and rows per second over the stream's elapsed time."""

    def render(self, task: Task) -> Text:
        pages = task.fields.get("pages", 0)
        rows = int(task.completed)
        elapsed = task.finished_time if task.finished else task.elapsed
        rate = rows / elapsed if elapsed else 0.0
        return Text(f"{pages:,} pages, {rows:,} rows, {rate:,.0f}/s", style="progress.data.speed")


class RichReporter(NullReporter):
    """A rich progress display on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<20}"),
            BarColumn(bar_width=12),
            _RateColumn(),
            TimeElapsedColumn(),
            console=self.console,
            refresh_per_second=4,
            transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._progress.start()

    def start(self, stream: str, label: str, total: int | None = None) -> None:
        super().start(stream, label, total)
        with self._lock:
            self._tasks[stream] = self._progress.add_task(label, total=total, pages=0)

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
            task = self._progress.tasks[[t.id for t in self._progress.tasks].index(task_id)]
            self._progress.update(task_id, total=task.completed)
            self._progress.stop_task(task_id)

    def note(self, message: str) -> None:
        super().note(message)
        self._progress.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")

    def close(self) -> None:
        self._progress.stop()
