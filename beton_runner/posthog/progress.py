"""Progress of an ingest, as callbacks: the ``Reporter`` protocol and a counting reporter.

The CLI shows it (``beton_runner.cli.progress.RichReporter``); the library only reports."""

from __future__ import annotations

import threading
from typing import Protocol


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
