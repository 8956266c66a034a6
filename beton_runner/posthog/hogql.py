"""The HogQL statements the exporter sends, and the literals inside them.

Every page is read by a keyset cursor that PostHog compares on its side: events by
``(timestamp, uuid)``, persons by ``id``, distinct ids by ``distinct_id``, groups by ``key``.
Never OFFSET (PostHog rejects it for personal API keys), and never an ISO ``T...Z``
timestamp literal (it fails with ``type_mismatch``): timestamps are written as
``toDateTime64('YYYY-MM-DD HH:MM:SS.ffffff', 6, 'UTC')``.
"""

from __future__ import annotations

from datetime import datetime, timezone

EVENT_COLUMNS = ("uuid", "event", "distinct_id", "timestamp", "properties", "person_id")
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


def events_page(
    start: datetime,
    end: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> str:
    """Events in ``[start, end)`` strictly after the ``(timestamp, uuid)`` cursor."""
    where = [f"timestamp >= {timestamp(start)}", f"timestamp < {timestamp(end)}"]
    if after is not None:
        ts, last_uuid = after
        # The first condition lets PostHog prune by its sort key; the tuple is the cursor.
        where.append(f"timestamp >= {timestamp(ts)}")
        where.append(f"(timestamp, uuid) > ({timestamp(ts)}, {uuid(last_uuid)})")
    return (
        f"select {', '.join(EVENT_COLUMNS)} from events where {' and '.join(where)} "
        f"order by timestamp, uuid limit {int(limit)}"
    )


def events_count(start: datetime, end: datetime) -> str:
    return (
        f"select count() from events where timestamp >= {timestamp(start)} "
        f"and timestamp < {timestamp(end)}"
    )


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
    return (
        f"select {', '.join(GROUP_COLUMNS)} from groups where {' and '.join(where)} "
        f"order by key limit {int(limit)}"
    )
