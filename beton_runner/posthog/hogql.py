"""The HogQL statements the exporter sends, and the literals inside them.

Every page is read by a keyset cursor that PostHog compares on its side: events by
``(created_at, uuid)`` -- ``created_at`` is when PostHog received the event, so an event that
arrives days after its ``timestamp`` still sorts after the cursor of the last run --, persons
by ``id``, distinct ids by ``distinct_id``, groups by ``key``.
Never OFFSET (PostHog rejects it for personal API keys), and never an ISO ``T...Z``
timestamp literal (it fails with ``type_mismatch``): timestamps are written as
``toDateTime64('YYYY-MM-DD HH:MM:SS.ffffff', 6, 'UTC')``.
"""

from __future__ import annotations

from datetime import datetime, timezone

# created_at (when PostHog received the event) comes last: it is the paging cursor, not a
# column of the warehouse's events table.
EVENT_COLUMNS = (
    "uuid",
    "event",
    "distinct_id",
    "timestamp",
    "properties",
    "person_id",
    "created_at",
)
CURSOR_COLUMN = "created_at"
MAX_GROUP_TYPES = 5  # PostHog's events carry $group_0 .. $group_4
PERSON_COLUMNS = ("id", "created_at", "properties", "is_identified")
DISTINCT_ID_COLUMNS = ("distinct_id", "person_id")
GROUP_COLUMNS = ("key", "created_at", "properties")

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\0": "\\0",
    "\a": "\\a",
    "\v": "\\v",
}


def string(value: str) -> str:
    """A HogQL string literal."""
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in value) + "'"


def timestamp(value: datetime) -> str:
    """A HogQL DateTime64 literal in UTC with microseconds (naive values are taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return f"toDateTime64({string(value.strftime('%Y-%m-%d %H:%M:%S.%f'))}, 6, 'UTC')"


def uuid(value: str) -> str:
    return f"toUUID({string(value)})"


def _events_where(window_start: datetime, received_from: datetime | None, received_before: datetime) -> list[str]:
    """Events of the window (by ``timestamp``) that PostHog received in ``[from, before)``.

    No upper bound on ``timestamp``: an event stamped in the future (a device with a wrong
    clock) is PostHog's data too, and once the cursor has passed its ``created_at`` no later
    run would see it. ``received_from`` is None on a first run: every received event."""
    where = [
        f"timestamp >= {timestamp(window_start)}",
        f"created_at < {timestamp(received_before)}",
    ]
    if received_from is not None:
        where.append(f"created_at >= {timestamp(received_from)}")
    return where


def group_column(group_type_index: int) -> str:
    """``$group_<index>``: the events column (and property) holding the event's group key of
    that group type ('' when the event has none)."""
    index = int(group_type_index)
    if not 0 <= index < MAX_GROUP_TYPES:
        raise ValueError(f"a PostHog group type index is 0..{MAX_GROUP_TYPES - 1}, not {index}")
    return f"$group_{index}"


def event_columns(group_type_index: int | None = None) -> tuple[str, ...]:
    """The events query's columns: :data:`EVENT_COLUMNS`, then the group key column of the
    account group type when accounts come from one."""
    if group_type_index is None:
        return EVENT_COLUMNS
    return (*EVENT_COLUMNS, group_column(group_type_index))


def events_page(
    window_start: datetime,
    received_from: datetime | None,
    received_before: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
    group_type_index: int | None = None,
) -> str:
    """Events of the window received in ``[received_from, received_before)``, strictly after
    the ``(created_at, uuid)`` cursor, in that order (with ``$group_<group_type_index>``
    after :data:`EVENT_COLUMNS` when given)."""
    where = _events_where(window_start, received_from, received_before)
    if after is not None:
        received, last_uuid = after
        # The first condition is a plain range PostHog can prune with; the tuple is the cursor.
        where.append(f"created_at >= {timestamp(received)}")
        where.append(f"(created_at, uuid) > ({timestamp(received)}, {uuid(last_uuid)})")
    return (
        f"select {', '.join(event_columns(group_type_index))} from events where {' and '.join(where)} "
        f"order by created_at, uuid limit {int(limit)}"
    )


def events_count(window_start: datetime, received_from: datetime | None, received_before: datetime) -> str:
    where = _events_where(window_start, received_from, received_before)
    return f"select count() from events where {' and '.join(where)}"


def persons_page(after: str | None, limit: int) -> str:
    where = f" where id > {uuid(after)}" if after is not None else ""
    return f"select {', '.join(PERSON_COLUMNS)} from persons{where} order by id limit {int(limit)}"


def distinct_ids_page(after: str | None, limit: int) -> str:
    where = f" where distinct_id > {string(after)}" if after is not None else ""
    return (
        f"select {', '.join(DISTINCT_ID_COLUMNS)} from person_distinct_ids{where} "
        f"order by distinct_id limit {int(limit)}"
    )


def groups_page(group_type_index: int, after: str | None, limit: int) -> str:
    where = [f"index = {int(group_type_index)}"]
    if after is not None:
        where.append(f"key > {string(after)}")
    return f"select {', '.join(GROUP_COLUMNS)} from groups where {' and '.join(where)} order by key limit {int(limit)}"
