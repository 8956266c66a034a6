"""What an ingest stream is and what it needs from a warehouse: the contract between the
exporter (:mod:`beton_runner.posthog.ingest`) and the destinations
(:mod:`beton_runner.posthog.destination` for DuckDB,
:mod:`beton_runner.posthog.clickhouse_destination` for ClickHouse). Both sides import this
module and never each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

STATE_TABLE = "posthog_sync_state"

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("uuid", "event", "distinct_id", "timestamp", "properties", "person_id"),
    "persons": ("id", "created_at", "properties", "is_identified"),
    "person_distinct_id": ("person_id", "distinct_id"),
    "accounts": ("account_id", "name", "domain", "arr", "segment", "owner_email", "properties"),
}


@dataclass
class StreamState:
    """How far a stream got. For events: every event with ``timestamp >= window_start`` that
    PostHog received (``created_at``) up to ``cursor_ts`` -- up to ``cursor_uuid`` at
    ``cursor_ts`` -- is stored; ``complete`` means the run that wrote it reached its end, so
    ``cursor_ts`` is that run's upper bound. ``cursor_column`` names what ``cursor_ts`` is a
    time of: ``created_at``; a state saved by an older version (``None``: the event
    ``timestamp``) is not a usable cursor, and the next run re-reads the whole window.

    The ``accounts`` stream's state records where the last ingest took accounts from:
    ``account_group_index`` is the PostHog group type index whose keys are the account ids
    (events carry them as property ``$group_<index>``), ``None`` when accounts came from a
    property. ``beton run`` reads it (macro ``beton.account_group_index``) to link events to
    accounts the same way."""

    stream: str
    window_start: datetime | None = None
    cursor_ts: datetime | None = None
    cursor_uuid: str | None = None
    complete: bool = False
    cursor_column: str | None = None
    account_group_index: int | None = None


class Destination(Protocol):
    name: str

    def describe(self) -> str: ...

    def open(self, source_key: str) -> None:
        """Create the schema and tables if missing; refuse a warehouse filled from another
        PostHog project (``ConfigError``)."""

    def get_state(self, stream: str) -> StreamState | None: ...

    def save_state(self, state: StreamState) -> None: ...

    def write_events(self, rows: Sequence[Sequence[Any]], state: StreamState) -> int:
        """Insert events not stored yet (by uuid), then save ``state``; never the state without
        the events. Returns the number of events inserted. ``rows`` come in
        ``(created_at, uuid)`` order, as queried, so their timestamps may lie anywhere in the
        window (look for stored duplicates with :func:`time_spans`)."""

    def start_snapshot(self, table: str) -> None: ...

    def write_snapshot(self, table: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def finish_snapshot(self, table: str) -> int:
        """Replace ``table`` by the staged rows (atomically); returns its row count."""

    def merge_snapshot(self, table: str, remove: Sequence[str] = ()) -> int:
        """Merge the staged rows into ``table`` (atomically): they replace the stored rows with
        the same key, stored rows keyed in ``remove`` go, the other stored rows stay. For
        exports of changed rows only (PostHog's persons batch export); returns the row count."""

    def discard_snapshot(self, table: str) -> None:
        """Drop the staged rows of an unfinished snapshot; ``table`` stays as it was."""

    def accounts_from_property(self, prop: str) -> int:
        """Rebuild ``accounts`` from the distinct values of ``prop`` on persons and events."""

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...


def parse_timestamp(value: Any) -> datetime:
    """A PostHog timestamp (ISO string, with or without offset) as naive UTC."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip().replace(" ", "T", 1)
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def time_spans(
    stamps: Sequence[datetime], max_spans: int = 64, gap: timedelta = timedelta(hours=1)
) -> list[tuple[datetime, datetime]]:
    """The page's event timestamps as a few ``(first, last)`` ranges that cover all of them.

    A uuid PostHog stores again is the same event at the same timestamp, so a page's stored
    duplicates can only sit at its own timestamps. A page read in order of arrival mixes
    recent events with a few that arrived days late: one ``[min, max]`` range would make
    every duplicate check scan days of stored events. Split where neighbouring timestamps are
    more than ``gap`` apart (at most ``max_spans`` ranges, split at the widest gaps), so each
    check reads along the warehouse's sort key only around the page's own timestamps."""
    ordered = sorted(set(stamps))
    if not ordered:
        return []
    gaps = sorted(
        ((ordered[i + 1] - ordered[i], i) for i in range(len(ordered) - 1) if ordered[i + 1] - ordered[i] > gap),
        reverse=True,
    )[: max(0, max_spans - 1)]
    spans, start = [], 0
    for _, i in sorted(gaps, key=lambda g: g[1]):
        spans.append((ordered[start], ordered[i]))
        start = i + 1
    spans.append((ordered[start], ordered[-1]))
    return spans
