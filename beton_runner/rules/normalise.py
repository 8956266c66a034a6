"""The rule's contract, stated once: what a valid rule file becomes before dbt sees it.

Validation (``validate.py``: the JSON Schema ``rule.schema.json`` plus the checks a schema cannot
express) decides whether a file is a rule; ``normalise`` turns a valid document into the one
form the dbt macros compile (macros/inspection/inspection.sql). The macros trust this form:
they check its ``format`` number once and never re-validate it, so a change to the shape below
bumps ``FORMAT`` (and the number ``beton.inspection_model`` accepts).

The normalised form, in this key order (the generated model shows it one key per line)::

    format            FORMAT
    key               the file stem, e.g. 'pql_power_users' (names the model insp_<key>)
    name              the rule's name
    level             'user' | 'account'
    time_window_days  whole days >= 1
    event_names       [name, ...]        any of; [] = every event
    conditions        {threshold: whole number}   only the thresholds set, in THRESHOLD_CONDITIONS
                                                   order; account-only ones only on account rules
    property_filters  [{key, op, value: {type, value}}       eq neq contains regex gt gte lt lte
                       | {key, op, values: [{type, value}]}   in not_in
                       | {key, op}]                           is_set is_not_set
                      type: 'string' | 'number' | 'boolean' (booleans as the text 'true'/'false')
    weights           {event_count, active_days, recency}   floats, defaults filled in
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 1
LEVELS = ("user", "account")
ACCOUNT_ONLY_CONDITIONS = ("min_active_users", "min_account_events")
FILTER_OPERATORS = (
    "eq",
    "neq",
    "in",
    "not_in",
    "contains",
    "regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_set",
    "is_not_set",
)
THRESHOLD_CONDITIONS = (
    "min_event_count",
    "min_distinct_events",
    "min_active_days",
    "max_days_since_last_event",
    "min_days_since_last_event",
    "min_active_users",
    "min_account_events",
)
DEFAULT_WEIGHTS = {"event_count_weight": 1.0, "active_days_weight": 1.0, "recency_weight": 0.0}


@dataclass
class Rule:
    """A valid rule: its key, source file, the document as written, and its normalised form."""

    key: str
    path: Path
    document: dict[str, Any]
    normalised: dict[str, Any]

    @property
    def name(self) -> str:
        return self.document["name"]

    @property
    def level(self) -> str:
        return self.document["level"]

    @property
    def window_days(self) -> int:
        return self.normalised["time_window_days"]

    @property
    def model_name(self) -> str:
        return f"insp_{self.key}"

    @property
    def has_property_filters(self) -> bool:
        return bool(self.normalised["property_filters"])

    @property
    def filtered_table_name(self) -> str:
        """The table of the incremental daily rollup of this rule's filtered events (rules with
        property filters), in the intermediate schema."""
        return f"int_filtered_activity__{self.key}"

    @property
    def filtered_model_name(self) -> str:
        """The dbt model of that rollup: the table name in Beton's model namespace (``beton_``),
        so it never meets a host project's models (docs/dbt-package.md)."""
        return f"beton_{self.filtered_table_name}"


def normalise(key: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The form the dbt macros compile, from a document that passed validation.

    Thresholds become ints, weights floats with defaults filled in, and each property filter
    one entry per operator with typed values (so numbers compare numerically in SQL).
    """
    conditions = doc.get("conditions") or {}
    weights = {**DEFAULT_WEIGHTS, **(doc.get("scoring_weights") or {})}
    filters = []
    for prop, spec in (conditions.get("event_property_filters") or {}).items():
        ops = spec if isinstance(spec, dict) else {"eq": spec}
        for op, value in ops.items():
            entry: dict[str, Any] = {"key": prop, "op": op}
            if op in ("in", "not_in"):
                entry["values"] = [_typed(v) for v in value]
            elif op not in ("is_set", "is_not_set"):
                entry["value"] = _typed(value)
            filters.append(entry)
    return {
        "format": FORMAT,
        "key": key,
        "name": doc["name"],
        "level": doc["level"],
        "time_window_days": int(doc["time_window_days"]),
        "event_names": list(conditions.get("event_names") or []),
        "conditions": {c: int(conditions[c]) for c in THRESHOLD_CONDITIONS if conditions.get(c) is not None},
        "property_filters": filters,
        "weights": {
            "event_count": float(weights["event_count_weight"]),
            "active_days": float(weights["active_days_weight"]),
            "recency": float(weights["recency_weight"]),
        },
    }


def _typed(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean", "value": "true" if value else "false"}
    if isinstance(value, (int, float)):
        return {"type": "number", "value": float(value)}
    return {"type": "string", "value": str(value)}
