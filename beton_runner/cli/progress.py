"""Progress displays: the dbt build bar and the PostHog ingest's per-stream lines.

The library reports progress through plain callbacks (dbt's JSON events, the ingest's
``Reporter`` protocol); only this module turns them into rich output. When nobody watches a
terminal (a pipe, a log file, CI: ``console.is_interactive()``), a live bar would show nothing
until the end, so ``PlainTicker`` prints a plain line every few seconds instead
(``dbt build: 120/245 nodes, 0:00:11``; ``BETON_PROGRESS_INTERVAL`` seconds, default 5).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

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

from ..errors import ConfigError
from ..posthog.progress import NullReporter
from .console import err_console, esc, is_interactive

DEFAULT_INTERVAL = 5.0


def progress_interval() -> float:
    """Seconds between plain progress lines: ``BETON_PROGRESS_INTERVAL``, default 5."""
    raw = os.environ.get("BETON_PROGRESS_INTERVAL", "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"BETON_PROGRESS_INTERVAL={raw!r} is not a number of seconds above 0, e.g. 5")
    return value


def _plain_line(line: str) -> None:
    err_console.print(Text(line), highlight=False, soft_wrap=True)


class PlainTicker:
    """Progress for logs: ``<label>: <status>, <elapsed>`` at most every ``interval`` seconds.

    ``status()`` says where the work is (e.g. ``120/245 nodes``). ``tick()`` prints a line when
    ``interval`` has passed since the last one; call it on every progress event and from a
    heartbeat (``running``), so a long step still shows the time passing. ``clock`` and
    ``write`` are for tests."""

    def __init__(
        self,
        label: str,
        status: Callable[[], str],
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        write: Callable[[str], None] = _plain_line,
    ):
        self.label = label
        self.status = status
        self.interval = progress_interval() if interval is None else interval
        self.clock = clock
        self.write = write
        self.started = self.last = clock()
        self._lock = threading.Lock()

    def line(self, suffix: str = "") -> str:
        elapsed = timedelta(seconds=int(self.clock() - self.started))
        return f"{self.label}: {self.status()}, {elapsed}{suffix}"

    def tick(self) -> None:
        with self._lock:
            now = self.clock()
            if now - self.last >= self.interval:
                self.last = now
                self.write(self.line())

    def done(self) -> None:
        with self._lock:
            self.write(self.line(" (done)"))

    def start(self, every: float = 0.5) -> None:
        """A heartbeat thread calling ``tick`` every ``every`` seconds, until ``stop``."""
        self._stop = threading.Event()
        stop = self._stop

        def beat() -> None:
            while not stop.wait(every):
                self.tick()

        self._thread = threading.Thread(target=beat, name="beton-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if getattr(self, "_thread", None) is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    @contextmanager
    def running(self) -> Iterator[PlainTicker]:
        """The heartbeat (``start``) while the block runs."""
        self.start()
        try:
            yield self
        finally:
            self.stop()


def _dbt_event_counts(event: dict) -> tuple[int, int, str] | None:
    """(index, total, node name) of a dbt node result event, else None."""
    data = event.get("data", {})
    name = event.get("info", {}).get("name", "")
    if name.endswith("Result") and "total" in data and "index" in data:
        return data["index"], data["total"], (data.get("node_info") or {}).get("node_name", "")
    return None


@contextmanager
def _plain_dbt_progress(label: str) -> Iterator[Callable[[dict], None]]:
    state = {"index": 0, "total": None}

    def status() -> str:
        if state["total"] is None:
            return "starting"
        return f"{state['index']}/{state['total']} nodes"

    ticker = PlainTicker(label, status)

    def on_event(event: dict) -> None:
        counts = _dbt_event_counts(event)
        if counts is not None:
            state["index"], state["total"] = counts[0], counts[1]
            ticker.tick()

    with ticker.running():
        yield on_event
    if state["total"] is not None:  # the run is over: every node is done (see dbt_progress)
        state["index"] = state["total"]
    ticker.done()


@contextmanager
def dbt_progress(label: str, *, quiet: bool = False) -> Iterator[Callable[[dict], None]]:
    """A bar over dbt's nodes, fed by dbt's JSON log events (yields the callback); plain lines
    every few seconds when nobody watches a terminal."""
    if not is_interactive():
        with _plain_dbt_progress(label) as on_event:
            yield on_event
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[node]}"),
    ]
    with Progress(*columns, console=err_console, transient=quiet) as progress:
        task = progress.add_task(esc(label), total=None, node="")

        def on_event(event: dict) -> None:
            counts = _dbt_event_counts(event)
            if counts is not None:
                progress.update(task, total=counts[1], completed=counts[0], node=esc(counts[2]))

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


def ingest_reporter() -> NullReporter:
    """The ingest's progress: live lines per stream in a terminal, plain lines otherwise."""
    return RichReporter() if is_interactive() else PlainReporter()


class PlainReporter(NullReporter):
    """The ingest's progress for logs: every few seconds one line with every stream's rows and
    pages so far (``ingest: events 12,000 rows/6 pages; persons 300 rows/1 page (done), 0:00:08``),
    and a line when a stream ends."""

    def __init__(
        self,
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        write: Callable[[str], None] = _plain_line,
    ) -> None:
        super().__init__()
        self._labels: dict[str, str] = {}
        self._done: set[str] = set()
        self._ticker = PlainTicker("ingest", self._status, interval=interval, clock=clock, write=write)
        self._ticker.start()

    def _describe(self, stream: str) -> str:
        pages = self.pages.get(stream, 0)
        done = " (done)" if stream in self._done else ""
        return (
            f"{self._labels[stream]} {self.rows.get(stream, 0):,} rows/{pages:,} page{'s' if pages != 1 else ''}{done}"
        )

    def _status(self) -> str:
        return "; ".join(self._describe(s) for s in list(self._labels)) or "starting"

    def start(self, stream: str, label: str, total: int | None = None) -> None:
        super().start(stream, label, total)
        self._labels[stream] = label

    def page(self, stream: str, rows: int) -> None:
        super().page(stream, rows)
        self._ticker.tick()

    def finish(self, stream: str) -> None:
        if stream in self._labels:
            self._done.add(stream)
            self._ticker.write(f"ingest: {self._describe(stream)}")

    def note(self, message: str) -> None:
        super().note(message)
        self._ticker.write(f"{time.strftime('%H:%M:%S')} {message}")

    def close(self) -> None:
        self._ticker.stop()


class RichReporter(NullReporter):
    """The ingest's progress on stderr, for a terminal: one live line per stream."""

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
