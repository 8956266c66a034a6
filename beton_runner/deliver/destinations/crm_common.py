"""What the CRM destinations (HubSpot, Salesforce) share: one record per entity, built from the
entity's latest change, and the settings keys every destination accepts.

A CRM keeps *state*, not events: a company or a person carries "best score", "rules matched",
"entered at" and "last change" properties that are overwritten on every delivery. So several
changes of one entity in one ``beton deliver`` collapse into one record carrying the state at the
latest ``as_of`` (the changes arrive ordered by ``as_of``), and the acknowledgement of that record
acknowledges every one of those changes. An upsert of the same state twice leaves the same record,
which is what makes a resend after a crash safe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from beton_runner.deliver.base import Change
from beton_runner.deliver.destinations.common import common_schema  # noqa: F401 (re-exported)

# The fields of Change.entity (plus last_change) every CRM destination maps onto its own names.
ENTITY_FIELDS = ("best_score", "rules", "entered_at", "last_change")


def iso_datetime(value: Any) -> str | None:
    """An ISO 8601 instant in UTC ("2026-10-01T12:00:00Z"), a date as is, None for nothing.
    Naive datetimes are UTC (the warehouse stores UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.replace(microsecond=0).isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def number(value: Any) -> float | int | None:
    """A score as a JSON number (integers stay integers), None for nothing or NaN."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    return int(f) if f.is_integer() else round(f, 6)


@dataclass
class EntityState:
    """One CRM record to upsert: the entity's key (domain or email), its state at the latest
    ``as_of`` among its changes, and every change it acknowledges."""

    key: str
    level: str
    latest: Change
    changes: list[Change] = field(default_factory=list)

    @property
    def change_ids(self) -> list[str]:
        return [c.change_id for c in self.changes]

    def values(self) -> dict[str, Any]:
        """Our four fields: best_score (number or None), rules ("a;b" or ""), entered_at (ISO or
        None), last_change ("entered pql_x 2026-10-01")."""
        entity = self.latest.entity or {}
        rules = entity.get("rules") or []
        if isinstance(rules, str):
            rules = [r for r in rules.split(";") if r]
        latest_as_of = self.latest.as_of
        # every change of the latest run, e.g. "entered pql_a, exited pql_b 2026-10-01"
        at_latest = sorted({f"{c.change} {c.rule_key}" for c in self.changes if c.as_of == latest_as_of})
        when = latest_as_of.date().isoformat() if isinstance(latest_as_of, datetime) else str(latest_as_of)
        return {
            "best_score": number(entity.get("best_score")),
            "rules": ";".join(sorted(str(r) for r in rules)),
            "entered_at": iso_datetime(entity.get("entered_at")),
            "last_change": f"{', '.join(at_latest)} {when}",
        }

    def name(self) -> str | None:
        return self.latest.name


def normalise_email(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value or None


def normalise_domain(value: str | None) -> str | None:
    """ "https://www.Acme.com/" -> "acme.com" (what a CRM stores as a company domain)."""
    value = (value or "").strip().lower()
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    value = value.split("/", 1)[0]
    if value.startswith("www."):
        value = value[4:]
    return value or None


def group_by_entity(
    changes: Sequence[Change], key_of: Callable[[Change], str | None]
) -> tuple[list[EntityState], list[Change]]:
    """Collapse changes into one state per key, in key order (deterministic); changes whose key is
    missing are returned apart (they cannot be upserted). Changes sharing a key (two entities with
    one domain) merge: the latest ``as_of`` wins, ties broken by entity_id."""
    states: dict[str, EntityState] = {}
    missing: list[Change] = []
    for change in changes:
        key = key_of(change)
        if not key:
            missing.append(change)
            continue
        state = states.get(key)
        if state is None:
            states[key] = EntityState(key=key, level=change.level, latest=change, changes=[change])
            continue
        state.changes.append(change)
        if (change.as_of, change.entity_id) >= (state.latest.as_of, state.latest.entity_id):
            state.latest = change
    return [states[k] for k in sorted(states)], missing


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def env_value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None
