"""The delivery outbox, in the warehouse (schema ``<prefix>_delivery``): what each destination
is to receive, and what it acknowledged. Append-only, so it works the same on DuckDB and on
ClickHouse (no updates, no transactions needed):

- ``outbox``: one row per (destination, change), written when the change is enqueued, with the
  change as JSON exactly as it will be sent (a resend after a crash sends the same thing).
- ``outbox_results``: one row per (destination, change) the destination acknowledged —
  ``delivered``, or ``rejected`` with its reason — appended right after the answer.
- ``outbox_cursors``: when a destination was first seen, the run (as_of) it starts from: a new
  destination gets the latest run's changes, not the whole history.

Pending = in ``outbox`` without a result. A change is never marked delivered before the
destination said so; a run killed between the answer and the append sends that batch again,
with the same idempotency keys (webhook) or as the same upserts (HubSpot, Salesforce).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime

import pandas as pd

from beton_runner.deliver.base import Change
from beton_runner.deliver.config import DestinationConfig
from beton_runner.project import Project
from beton_runner.warehouse import connect
from beton_runner.warehouse.base import Column, TableSpec, plain

LAYER = "delivery"
METRICS = ("event_count", "active_days", "active_users", "days_since_last_event", "last_seen")

OUTBOX = TableSpec(
    "outbox",
    (
        Column("destination", "text", nullable=False),
        Column("change_id", "text", nullable=False),
        Column("as_of", "timestamp", nullable=False),
        Column("rule_key", "text", nullable=False),
        Column("entity_id", "text", nullable=False),
        Column("change", "text", nullable=False),
        Column("payload", "text", nullable=False),
        Column("enqueued_at", "timestamp", nullable=False),
        Column("enqueue_run", "text", nullable=False),
    ),
    key=("destination", "change_id"),
)
RESULTS = TableSpec(
    "outbox_results",
    (
        Column("destination", "text", nullable=False),
        Column("change_id", "text", nullable=False),
        Column("status", "text", nullable=False),
        Column("reason", "text"),
        Column("recorded_at", "timestamp", nullable=False),
        Column("deliver_run", "text", nullable=False),
    ),
    key=("destination", "change_id"),
)
CURSORS = TableSpec(
    "outbox_cursors",
    (
        Column("destination", "text", nullable=False),
        Column("since_as_of", "timestamp", nullable=False),
        Column("created_at", "timestamp", nullable=False),
    ),
    key=("destination",),
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --- changes -> Change records ------------------------------------------------------------------


def latest_input(changes: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The changes on the input the latest run read (a warehouse switched from the mock data to a
    real source delivers nothing about the mock data)."""
    if runs.empty or changes.empty:
        return changes.iloc[0:0]
    latest = runs.sort_values(["computed_at", "as_of"]).iloc[-1]["input_fingerprint"]
    return changes[changes["input_fingerprint"] == latest]


def to_changes(frame: pd.DataFrame, config: DestinationConfig) -> list[Change]:
    """Change records for one destination: its rules and change kinds, with each entity's state
    over the destination's rules at the change's run (best score, rules it is on, since when)."""
    if frame.empty:
        return []
    mine = frame[frame["rule_key"].map(config.takes_rule)]
    on_list = mine[mine["change"] != "exited"]
    state: dict[tuple, dict] = {}
    for (as_of, level, entity_id), group in on_list.groupby(["as_of", "level", "entity_id"], sort=False):
        state[(as_of, level, entity_id)] = {
            "best_score": float(group["score"].max()),
            "rules": sorted(group["rule_key"]),
            "entered_at": plain(group["first_entered_at"].min()),
        }
    empty = {"best_score": None, "rules": [], "entered_at": None}
    wanted = mine[mine["change"].isin(config.changes)]
    out = []
    for r in wanted.to_dict("records"):
        r = {k: plain(v) for k, v in r.items()}
        metrics = {m: r.get(m) for m in METRICS if r.get(m) is not None}
        out.append(
            Change(
                change_id=r["change_id"],
                as_of=r["as_of"],
                previous_as_of=r["previous_as_of"],
                rule_key=r["rule_key"],
                rule_name=r["rule_name"] or r["rule_key"],
                level=r["level"],
                entity_id=str(r["entity_id"]),
                change=r["change"],
                score=r["score"],
                previous_score=r["previous_score"],
                rank=None if r["rank"] is None else int(r["rank"]),
                previous_rank=None if r["previous_rank"] is None else int(r["previous_rank"]),
                first_entered_at=r["first_entered_at"],
                days_on_list=None if r["days_on_list"] is None else int(r["days_on_list"]),
                name=r.get("name"),
                email=r.get("email"),
                domain=r.get("domain"),
                account_id=r.get("account_id"),
                metrics=metrics,
                entity=dict(state.get((pd.Timestamp(r["as_of"]), r["level"], r["entity_id"]), empty)),
            )
        )
    return out


def _encode(change: Change) -> str:
    def default(value):
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    return json.dumps(asdict(change), default=default, sort_keys=True, ensure_ascii=False)


def _decode(payload: str) -> Change:
    data = json.loads(payload)
    for key in ("as_of", "previous_as_of", "first_entered_at"):
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    entity = data.get("entity") or {}
    if entity.get("entered_at"):
        entity["entered_at"] = datetime.fromisoformat(entity["entered_at"])
    return Change(**data)


# --- the outbox ---------------------------------------------------------------------------------


class Outbox:
    """The outbox tables of one project's warehouse. Each method opens and closes its own
    connection, so nothing holds the DuckDB file while batches are in flight."""

    def __init__(self, project: Project):
        self.project = project
        self.schema = project.relation(LAYER, "")[0]
        self.run_id = uuid.uuid4().hex

    def ensure(self) -> None:
        with connect(self.project, write=True) as conn:
            conn.ensure_schema(self.schema)
            for spec in (OUTBOX, RESULTS, CURSORS):
                conn.create_table(self.schema, spec)

    def _exists(self) -> bool:
        with connect(self.project) as conn:
            return conn.exists(self.schema, OUTBOX.name)

    def _enqueued_and_cursor(self, destination: str) -> tuple[set[str], datetime | None]:
        """(change ids enqueued for the destination, its cursor)."""
        if not self._exists():
            return set(), None
        with connect(self.project) as conn:
            s = conn.quote(self.schema)
            enqueued = {
                r[0] for r in conn.rows(f"select change_id from {s}.outbox where destination = :d", {"d": destination})
            }
            cursor = conn.rows(
                f"select min(since_as_of) from {s}.outbox_cursors where destination = :d", {"d": destination}
            )
        since = plain(cursor[0][0]) if cursor else None
        if isinstance(since, datetime) and since.year < 1971:  # ClickHouse: min() over no rows
            since = None
        return enqueued, since

    def new_changes(
        self, config: DestinationConfig, changes: list[Change], latest_as_of: datetime | None
    ) -> tuple[list[Change], datetime | None]:
        """The changes not enqueued yet for this destination, from its cursor on (a destination
        seen for the first time starts at the latest run); and the cursor to record, if new."""
        enqueued, since = self._enqueued_and_cursor(config.name)
        new_cursor = None
        if since is None:
            since = new_cursor = latest_as_of
        if since is None:
            return [], None
        fresh = [c for c in changes if c.change_id not in enqueued and c.as_of >= since]
        return fresh, new_cursor

    def enqueue(self, config: DestinationConfig, fresh: list[Change], new_cursor: datetime | None) -> int:
        """Append the fresh changes (and the cursor of a new destination), all or nothing."""
        now = _now()
        with connect(self.project, write=True) as conn:
            if new_cursor is not None:
                conn.append_rows(
                    self.schema,
                    CURSORS.name,
                    pd.DataFrame([{"destination": config.name, "since_as_of": new_cursor, "created_at": now}]),
                )
            if fresh:
                rows = pd.DataFrame(
                    [
                        {
                            "destination": config.name,
                            "change_id": c.change_id,
                            "as_of": c.as_of,
                            "rule_key": c.rule_key,
                            "entity_id": c.entity_id,
                            "change": c.change,
                            "payload": _encode(c),
                            "enqueued_at": now,
                            "enqueue_run": self.run_id,
                        }
                        for c in fresh
                    ],
                    columns=OUTBOX.column_names,
                )
                conn.append_rows(self.schema, OUTBOX.name, rows)
        return len(fresh)

    def pending(self, destination: str) -> list[Change]:
        """The destination's changes without a result, in run order (then rule, change, rank)."""
        if not self._exists():
            return []
        with connect(self.project) as conn:
            s = conn.quote(self.schema)
            rows = conn.rows(
                f"select payload from {s}.outbox as o where o.destination = :d and o.change_id not in "
                f"(select change_id from {s}.outbox_results where destination = :d) "
                "order by o.as_of, o.rule_key, o.change, o.entity_id",
                {"d": destination},
            )
        changes = [_decode(r[0]) for r in rows]
        order = {"entered": 0, "exited": 1, "stayed": 2}
        return sorted(
            changes,
            key=lambda c: (c.as_of, c.rule_key, order.get(c.change, 9), c.rank or c.previous_rank or 0, c.entity_id),
        )

    def record(self, destination: str, delivered: Iterable[str], rejected: dict[str, str]) -> None:
        """Append the destination's answer for these changes, all or nothing."""
        now = _now()
        rows = [
            {"destination": destination, "change_id": cid, "status": "delivered", "reason": None} for cid in delivered
        ] + [
            {"destination": destination, "change_id": cid, "status": "rejected", "reason": reason}
            for cid, reason in rejected.items()
        ]
        if not rows:
            return
        frame = pd.DataFrame(rows)
        frame["recorded_at"] = now
        frame["deliver_run"] = self.run_id
        with connect(self.project, write=True) as conn:
            conn.append_rows(self.schema, RESULTS.name, frame[RESULTS.column_names])
