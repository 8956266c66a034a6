"""Export a PostHog project into the warehouse: incremental, loss-free, flat in memory.

Four streams run side by side (PostHog allows 3 concurrent queries per project; the client
enforces that cap): events, persons, person distinct ids and, when the project uses a
company-like group type, groups. Fetcher threads page through the query API by keyset cursor
and hand pages to one writer (the calling thread) through a small bounded queue, so at most a
few pages are in memory whatever the size of the export.

Events are incremental by the time PostHog *received* them (``created_at``), not the time
they happened (``timestamp``): an event a mobile app sends days late has an old timestamp but
a new ``created_at``, so the next run picks it up. The warehouse keeps a high-water mark
``(created_at, uuid)`` per PostHog project; a run re-reads ``overlap`` (default one hour)
before it, for events PostHog had received but not yet made queryable (its ingestion lag),
and the destination drops every event whose ``uuid`` is already stored. Each page is stored
before (DuckDB: together with) the new mark, so a run killed at any point resumes where it
stopped, without losing or repeating an event.
Persons, distinct ids and accounts are refreshed as whole snapshots swapped in atomically.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from beton_runner.errors import BetonError, IngestError, WarehouseError
from beton_runner.posthog import hogql
from beton_runner.posthog.accounts import (
    DEFAULT_ACCOUNT_PROPERTY,
    AccountSource,
    group_to_account,
    pick_group_type,
    with_group_key,
)
from beton_runner.posthog.client import (
    PostHogAccessError,
    PostHogClient,
    PostHogUnavailableError,
)
from beton_runner.posthog.progress import NullReporter, Reporter
from beton_runner.posthog.stream import Destination, StreamState, parse_timestamp
from beton_runner.warehouse.base import EngineError

MAX_PAGE_ROWS = 50_000  # PostHog silently caps a query's LIMIT at this many rows
MIN_DAYS, MAX_DAYS = 1, 90


@dataclass(frozen=True)
class IngestOptions:
    days: int = 30
    max_events: int | None = None
    page_size: int = MAX_PAGE_ROWS
    overlap: timedelta = timedelta(hours=1)
    account_property: str = DEFAULT_ACCOUNT_PROPERTY
    group_type: str | None = None
    now: datetime | None = None  # the run's upper bound (UTC); defaults to the current time
    queue_pages: int = 1


@dataclass
class IngestResult:
    window_start: datetime  # events with a timestamp from here on are loaded
    window_end: datetime  # this run's upper bound on when PostHog received an event
    read_from: datetime | None  # received from here on (None: every received event)
    events_fetched: int = 0
    events_new: int = 0
    event_pages: int = 0
    complete: bool = False
    stopped_at_max: bool = False
    high_water: datetime | None = None
    account_source: AccountSource | None = None
    counts: dict[str, int] = field(default_factory=dict)
    snapshots: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.events_fetched / self.seconds if self.seconds else 0.0


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _ordered(columns: list[str], rows: list[list[Any]], expected: Sequence[str]) -> list[list[Any]]:
    """Rows in the ``expected`` column order, whatever order PostHog answered in."""
    if not columns or [c.lower() for c in columns] == list(expected):
        return rows
    lookup = {c.lower(): i for i, c in enumerate(columns)}
    missing = [c for c in expected if c not in lookup]
    if missing:
        raise PostHogUnavailableError("bad_response", f"PostHog's answer lacks the column(s) {', '.join(missing)}.")
    idx = [lookup[c] for c in expected]
    return [[row[i] for i in idx] for row in rows]


@dataclass
class _Item:
    kind: str  # "events" | "snapshot" | "done" | "error"
    stream: str
    rows: list[list[Any]] | None = None
    state: StreamState | None = None
    error: BaseException | None = None


class _Run:
    def __init__(self, client: PostHogClient, options: IngestOptions):
        self.client = client
        self.options = options
        self.queue: queue.Queue[_Item] = queue.Queue(maxsize=max(1, options.queue_pages))
        self.stop = threading.Event()  # fetchers stop asking for more pages
        self.abandon = threading.Event()  # the writer is gone; drop whatever is pending

    def put(self, item: _Item) -> None:
        while not self.abandon.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def spawn(self, stream: str, target: Callable[[], None]) -> threading.Thread:
        def body() -> None:
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - handed to the writer thread
                self.put(_Item("error", stream, error=exc))

        thread = threading.Thread(target=body, name=f"posthog-{stream}", daemon=True)
        thread.start()
        return thread

    def pages(
        self,
        stream: str,
        columns: Sequence[str],
        build: Callable[[Any, int], str],
        cursor_of: Callable[[list[Any]], Any],
        limit: int | None = None,
    ) -> Iterator[list[list[Any]]]:
        """Keyset paging: ask for the next page after the last row's key until a page is empty.

        A short page does not end the loop: PostHog may cap a page below what was asked."""
        cursor = None
        fetched = 0
        while not self.stop.is_set():
            size = self.options.page_size if limit is None else min(self.options.page_size, limit - fetched)
            if size <= 0:
                return
            answer = self.client.query(build(cursor, size), name=f"beton-inspector {stream} export")
            rows = _ordered(answer.columns, answer.results, columns)
            if not rows:
                return
            fetched += len(rows)
            last = cursor_of(rows[-1])
            if last == cursor:  # the same page again: stop rather than loop forever
                raise PostHogUnavailableError(
                    "bad_response",
                    f"PostHog answered the {stream} page after {cursor!r} with that same row "
                    "again, so paging cannot move on. This is probably a bug; please report it.",
                )
            cursor = last
            yield rows


def _events_window(
    dest: Destination, options: IngestOptions, now: datetime
) -> tuple[datetime, datetime, datetime | None, datetime]:
    """(window start to record, first timestamp to read, first receive time to read, end).

    With a usable mark (saved on the ``created_at`` cursor, for a window at least as long as
    this one) the run reads what PostHog received since the mark minus ``overlap``; otherwise
    every event of the window, whenever received."""
    wanted_start = now - timedelta(days=options.days)
    state = dest.get_state("events")
    if (
        state is not None
        and state.cursor_column == hogql.CURSOR_COLUMN
        and state.window_start is not None
        and state.cursor_ts is not None
        and state.window_start <= wanted_start
    ):
        read_from = min(state.cursor_ts - options.overlap, now)
        return state.window_start, wanted_start, read_from, now
    return wanted_start, wanted_start, None, now


def resolve_account_source(client: PostHogClient, options: IngestOptions, notes: list[str]) -> AccountSource:
    try:
        types = client.group_types()
    except PostHogAccessError as exc:
        if exc.kind != "missing_scope":
            raise
        notes.append(
            "The API key cannot read group types (scope group:read is missing), so accounts come "
            f"from the '{options.account_property}' property instead."
        )
        return AccountSource("property", property=options.account_property)
    chosen = pick_group_type(types, options.group_type)
    if chosen is None:
        if options.group_type:
            names = ", ".join(sorted(str(t.get("group_type")) for t in types)) or "none"
            raise IngestError(f"PostHog project has no group type named '{options.group_type}' (it has: {names}).")
        return AccountSource("property", property=options.account_property)
    return AccountSource(
        "group",
        str(chosen["group_type"]),
        int(chosen["group_type_index"]),
        options.account_property,
    )


def run_ingest(
    client: PostHogClient,
    destination: Destination,
    options: IngestOptions = IngestOptions(),
    reporter: Reporter | None = None,
) -> IngestResult:
    """Export events, persons, distinct ids and accounts into ``destination`` (already open)."""
    if not MIN_DAYS <= options.days <= MAX_DAYS:
        raise IngestError(f"--days must be between {MIN_DAYS} and {MAX_DAYS}, not {options.days}.")
    if options.max_events is not None and options.max_events < 1:
        raise IngestError("--max-events must be at least 1.")
    reporter = reporter or NullReporter()
    started = time.monotonic()
    now = options.now or _utc_now()
    window_start, events_from, read_from, end = _events_window(destination, options, now)
    result = IngestResult(window_start=events_from, window_end=end, read_from=read_from)
    account_source = resolve_account_source(client, options, result.notes)
    result.account_source = account_source
    for note in result.notes:
        reporter.note(note)

    run = _Run(client, options)

    # -- fetchers ---------------------------------------------------------------------------
    def events() -> None:
        try:
            count = client.query(
                hogql.events_count(events_from, read_from, end),
                name="beton-inspector events count",
            )
            total = int(count.results[0][0])
            if options.max_events is not None:
                total = min(total, options.max_events)
            reporter.set_total("events", total)
        except PostHogUnavailableError:
            pass  # the count only sizes the progress bar
        except (IndexError, TypeError, ValueError):
            pass

        # Accounts from a group type: each event's key of that type comes along ($group_N)
        # and is kept as the property $group_N, which links the event to its account.
        group_index = account_source.group_type_index if account_source.kind == "group" else None
        columns = hogql.event_columns(group_index)

        def build(cursor: Any, size: int) -> str:
            return hogql.events_page(events_from, read_from, end, cursor, size, group_index)

        received = hogql.EVENT_COLUMNS.index(hogql.CURSOR_COLUMN)
        properties = hogql.EVENT_COLUMNS.index("properties")

        def cursor_of(row: list[Any]) -> tuple[datetime, str]:
            return parse_timestamp(row[received]), str(row[0])

        def with_group(rows: list[list[Any]]) -> list[list[Any]]:
            if group_index is None:
                return rows
            column = hogql.group_column(group_index)
            width = len(hogql.EVENT_COLUMNS)
            out = []
            for row in rows:
                kept = list(row[:width])
                kept[properties] = with_group_key(kept[properties], column, row[width])
                out.append(kept)
            return out

        last = None
        fetched = 0
        for page in run.pages("events", columns, build, cursor_of, options.max_events):
            rows = with_group(page)
            last = cursor_of(rows[-1])
            fetched += len(rows)
            state = StreamState(
                "events",
                window_start,
                last[0],
                last[1],
                complete=False,
                cursor_column=hogql.CURSOR_COLUMN,
            )
            run.put(_Item("events", "events", rows=rows, state=state))
        if run.stop.is_set():
            return run.put(_Item("done", "events"))
        if options.max_events is not None and fetched >= options.max_events:
            return run.put(_Item("done", "events", state=None))
        final = StreamState("events", window_start, end, None, complete=True, cursor_column=hogql.CURSOR_COLUMN)
        run.put(_Item("done", "events", state=final))

    def snapshot(
        stream: str,
        table: str,
        columns: Sequence[str],
        build: Callable[[Any, int], str],
        transform: Callable[[list[list[Any]]], list[list[Any]]] | None = None,
    ) -> Callable[[], None]:
        def body() -> None:
            for rows in run.pages(stream, columns, build, lambda row: str(row[0])):
                run.put(
                    _Item(
                        "snapshot",
                        stream,
                        rows=transform(rows) if transform else rows,
                        state=StreamState(table),
                    )
                )
            run.put(
                _Item(
                    "done",
                    stream,
                    state=None if run.stop.is_set() else StreamState(table, complete=True),
                )
            )

        return body

    streams: dict[str, tuple[str, Callable[[], None]]] = {
        "events": ("events", events),
        "persons": (
            "persons",
            snapshot("persons", "persons", hogql.PERSON_COLUMNS, hogql.persons_page),
        ),
        "distinct_ids": (
            "person distinct ids",
            snapshot(
                "distinct_ids",
                "person_distinct_id",
                hogql.DISTINCT_ID_COLUMNS,
                hogql.distinct_ids_page,
            ),
        ),
    }
    if account_source.kind == "group":
        index = account_source.group_type_index

        def to_accounts(rows: list[list[Any]]) -> list[list[Any]]:
            return [group_to_account(row[0], row[2]) for row in rows]

        streams["accounts"] = (
            f"accounts ({account_source.group_type})",
            snapshot(
                "accounts",
                "accounts",
                hogql.GROUP_COLUMNS,
                lambda cursor, size: hogql.groups_page(index, cursor, size),
                to_accounts,
            ),
        )

    # -- writer (this thread) -------------------------------------------------------------------
    snapshot_tables = {
        "persons": "persons",
        "distinct_ids": "person_distinct_id",
        "accounts": "accounts",
    }
    for stream in streams:
        if stream != "events":
            destination.start_snapshot(snapshot_tables[stream])
    for stream, (label, _) in streams.items():
        reporter.start(stream, label)
    threads = [run.spawn(stream, target) for stream, (_, target) in streams.items()]

    pending = set(streams)
    first_error: BaseException | None = None
    failed_streams: set[str] = set()
    try:
        while pending:
            item = run.queue.get()
            if item.kind == "error":
                pending.discard(item.stream)
                failed_streams.add(item.stream)
                first_error = first_error or item.error
                run.stop.set()
                continue
            if item.kind == "events":
                result.events_new += destination.write_events(item.rows, item.state)
                result.events_fetched += len(item.rows)
                result.event_pages += 1
                result.high_water = item.state.cursor_ts
                reporter.page("events", len(item.rows))
            elif item.kind == "snapshot":
                if item.stream not in failed_streams:
                    destination.write_snapshot(item.state.stream, item.rows)
                reporter.page(item.stream, len(item.rows))
            elif item.kind == "done":
                pending.discard(item.stream)
                reporter.finish(item.stream)
                if item.stream == "events":
                    if item.state is not None:
                        destination.save_state(item.state)
                        result.complete = True
                        result.high_water = item.state.cursor_ts
                    elif not run.stop.is_set():
                        result.stopped_at_max = True
                elif item.state is not None and item.state.complete:
                    result.snapshots[item.stream] = destination.finish_snapshot(snapshot_tables[item.stream])
                    if item.stream == "accounts":
                        _record_account_source(destination, account_source)
    except BaseException as exc:
        run.stop.set()
        run.abandon.set()
        if isinstance(exc, BetonError) and not isinstance(exc, EngineError):
            raise
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        detail = exc.detail if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
        raise WarehouseError(
            f"Writing to {destination.describe()} failed: {detail}. What was "
            "committed before stays; run the ingest again to continue."
        ) from exc
    finally:
        run.stop.set()
        run.abandon.set()
        for thread in threads:
            thread.join(timeout=5)
        for stream in streams:
            if stream != "events" and stream not in result.snapshots:
                try:
                    destination.discard_snapshot(snapshot_tables[stream])
                except Exception:  # noqa: BLE001 - cleanup only; the next run replaces it
                    pass
        result.requests, result.retries = client.requests, client.retries
        result.seconds = time.monotonic() - started

    if first_error is not None:
        raise _with_progress(first_error, result)

    if account_source.kind == "property":
        result.snapshots["accounts"] = destination.accounts_from_property(account_source.property)
        _record_account_source(destination, account_source)
    result.counts = destination.counts()
    result.seconds = time.monotonic() - started
    return result


def _record_account_source(destination: Destination, source: AccountSource) -> None:
    """Saved once the accounts are in: ``beton run`` links events the way they were loaded
    (the ``$group_<index>`` property for a group type, else the configured property link)."""
    destination.save_state(StreamState("accounts", complete=True, account_group_index=source.group_type_index))


def _with_progress(error: BaseException, result: IngestResult) -> BaseException:
    """The error, re-raised with what was loaded before it (same class, same kind)."""
    if not isinstance(error, BetonError):
        return IngestError(f"The PostHog export failed unexpectedly: {type(error).__name__}: {error}")
    if result.event_pages == 0 and not result.snapshots:
        return error
    loaded = f"{result.events_new:,} new events"
    if result.high_water is not None:
        loaded += f" (all received by PostHog up to {result.high_water:%Y-%m-%d %H:%M:%S} UTC)"
    if result.snapshots:
        loaded += ", refreshed " + ", ".join(sorted(result.snapshots))
    message = (
        f"{error}\nLoaded before the failure and kept: {loaded}. Run `beton ingest posthog` "
        "again to continue from there."
    )
    if isinstance(error, PostHogUnavailableError):
        new: BaseException = PostHogUnavailableError(error.kind, message, error.status)
    elif isinstance(error, PostHogAccessError):
        new = PostHogAccessError(error.kind, message, error.status, error.scope)
    elif type(error) in (BetonError, IngestError, WarehouseError):
        new = type(error)(message)
    else:
        new = error
    return new
