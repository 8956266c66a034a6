"""A tiny factory for :class:`Change` records in delivery tests (shared by the destination tests;
keep it small and additive)."""

from __future__ import annotations

from datetime import datetime
from itertools import count
from typing import Any

from beton_runner.deliver.base import Change

AS_OF = datetime(2026, 10, 1, 12, 0, 0)
PREVIOUS_AS_OF = datetime(2026, 9, 24, 12, 0, 0)
_ids = count(1)


def make_change(**overrides: Any) -> Change:
    """An 'entered' change of one user on ``pql_power_users`` at AS_OF; override any field.
    ``change_id`` defaults to a fresh "chg-N"; ``entity`` to the state that change implies."""
    values: dict[str, Any] = {
        "change_id": f"chg-{next(_ids)}",
        "as_of": AS_OF,
        "previous_as_of": PREVIOUS_AS_OF,
        "rule_key": "pql_power_users",
        "rule_name": "Power users",
        "level": "user",
        "entity_id": "user-1",
        "change": "entered",
        "score": 87.5,
        "previous_score": None,
        "rank": 1,
        "previous_rank": None,
        "first_entered_at": AS_OF,
        "days_on_list": 0,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "domain": "example.com",
        "account_id": "acct-1",
        "metrics": {"event_count": 42, "active_days": 9},
    }
    values.update(overrides)
    if "entity" not in overrides:
        on_list = values["change"] != "exited"
        values["entity"] = {
            "best_score": values["score"] if on_list else None,
            "rules": [values["rule_key"]] if on_list else [],
            "entered_at": values["first_entered_at"] if on_list else None,
        }
    return Change(**values)
