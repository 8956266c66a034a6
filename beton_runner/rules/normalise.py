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
    decay             {half_life_days: float} | None          the rule-level decay
    signals           [{name, event_names, property_filters,  in the rule's order; property_filters
                        window_days, min_count, weight,        as above; half_life_days the signal's
                        half_life_days, max_points, rollup}]   own, else the rule's, else None;
                                                               max_points float | None; rollup the
                                                               dbt model of its filtered rollup (the
                                                               rule's when the filter is the same),
                                                               None without property filters
    match             None | {all: [node]} | {any: [node]} | {not: node} | {signal: name}
                      | {threshold: name, value: whole number}
    fit               [{points: float, when: [attribute filter, ...]}]   [] = no fit; a filter is
                      {table, column, key, type, op, value/values} (``fit_attribute``): table
                      'account' | 'enrichment' | 'person', type 'text' | 'number' | 'json' (key:
                      the property key of a 'json' column), op and values as property_filters
    tiers             None | {by: 'score' | 'percentile', levels: [{name, value: float}], else}
                      levels best first (score: thresholds descending; percentile: ascending)
    grade             None | {fit: [float, ...], behaviour: [float, ...]}   thresholds descending
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 2
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

# Fit attributes (docs/rules.md, "Fit"): the account's own columns, the enrichment written by
# `beton enrich` (named as in dim_accounts_enriched: the staging column each reads), and any key
# of the account's or the person's ``properties``.
ACCOUNT_TEXT_COLUMNS = ("account_id", "name", "domain", "segment", "owner_email")
ACCOUNT_NUMBER_COLUMNS = ("arr",)
ENRICHMENT_TEXT_COLUMNS = {
    "enrichment_provider": "provider",
    "enriched_industry": "industry",
    "employee_band": "employee_band",
    "revenue_band": "revenue_band",
    "hq_country": "hq_country",
    "funding_stage": "funding_stage",
}
ENRICHMENT_NUMBER_COLUMNS = {
    "enriched_employees": "employees",
    "annual_revenue": "annual_revenue",
    "founded_year": "founded_year",
}
TEXT_ONLY_OPERATORS = ("contains", "regex")  # not on number attributes
TIER_KEYS = ("by", "else")
GRADE_LETTERS = "ABCDEF"


def fit_attribute(level: str, field: str) -> dict[str, Any]:
    """Where a fit condition's attribute is read from: {table, column, key, type}.

    Account rules: an account column, an enrichment field, ``properties.<key>`` or any other
    bare key (a key of the account's properties). User rules: ``account.<field>`` (the user's
    account, as above), ``properties.<key>`` or any other bare key (a key of the person's
    properties)."""
    if level == "user":
        if field.startswith("account."):
            return fit_attribute("account", field[len("account.") :])
        key = field[len("properties.") :] if field.startswith("properties.") else field
        return {"table": "person", "column": "properties", "key": key, "type": "json"}
    if field.startswith("properties."):
        return {"table": "account", "column": "properties", "key": field[len("properties.") :], "type": "json"}
    if field in ACCOUNT_TEXT_COLUMNS or field in ACCOUNT_NUMBER_COLUMNS:
        kind = "number" if field in ACCOUNT_NUMBER_COLUMNS else "text"
        return {"table": "account", "column": field, "key": None, "type": kind}
    if field in ENRICHMENT_TEXT_COLUMNS:
        return {"table": "enrichment", "column": ENRICHMENT_TEXT_COLUMNS[field], "key": None, "type": "text"}
    if field in ENRICHMENT_NUMBER_COLUMNS:
        return {"table": "enrichment", "column": ENRICHMENT_NUMBER_COLUMNS[field], "key": None, "type": "number"}
    return {"table": "account", "column": "properties", "key": field, "type": "json"}


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

    def shows(self, column: str) -> bool:
        """False for a punch-list column the rule leaves null throughout: ``tier`` without
        tiers, ``grade`` without a grade (the CLI and the report leave them out)."""
        return bool({"tier": self.normalised.get("tiers"), "grade": self.normalised.get("grade")}.get(column, True))

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

    @property
    def signal_names(self) -> list[str]:
        return [s["name"] for s in self.normalised["signals"]]

    def filtered_rollups(self) -> list[FilteredRollup]:
        """Every incremental filtered rollup this rule reads: its own (with property filters) and
        one per signal with property filters that are not the rule's own."""
        out = []
        if self.has_property_filters:
            out.append(FilteredRollup(self.filtered_table_name, None, _event_filter(self.normalised)))
        for signal in self.normalised["signals"]:
            if signal["rollup"] == f"beton_{filtered_table_name(self.key, signal['name'])}":
                table = filtered_table_name(self.key, signal["name"])
                out.append(FilteredRollup(table, signal["name"], _event_filter(signal)))
        return out


@dataclass(frozen=True)
class FilteredRollup:
    """One incremental daily rollup of the events passing a filter (a rule's or a signal's)."""

    table_name: str
    signal: str | None
    event_filter: dict[str, Any]  # {event_names, property_filters}

    @property
    def model_name(self) -> str:
        return f"beton_{self.table_name}"


def filtered_table_name(key: str, signal: str | None = None) -> str:
    """The table of a rule's (or one of its signals') filtered rollup."""
    return f"int_filtered_activity__{key}" + (f"__{signal}" if signal else "")


def _event_filter(spec: dict[str, Any]) -> dict[str, Any]:
    return {"event_names": spec["event_names"], "property_filters": spec["property_filters"]}


def normalise(key: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The form the dbt macros compile, from a document that passed validation.

    Thresholds become ints, weights floats with defaults filled in, and each property filter
    one entry per operator with typed values (so numbers compare numerically in SQL).
    """
    conditions = doc.get("conditions") or {}
    weights = {**DEFAULT_WEIGHTS, **(doc.get("scoring_weights") or {})}
    filters = _property_filters(conditions.get("event_property_filters"))
    event_names = list(conditions.get("event_names") or [])
    decay = doc.get("decay")
    rule_half_life = float(decay["half_life_days"]) if decay else None
    signals = []
    for name, spec in (doc.get("signals") or {}).items():
        signal_filters = _property_filters(spec.get("event_property_filters"))
        signal_names = list(spec.get("event_names") or [])
        if not signal_filters:
            rollup = None
        elif (signal_names, signal_filters) == (event_names, filters):
            rollup = f"beton_{filtered_table_name(key)}"
        else:
            rollup = f"beton_{filtered_table_name(key, name)}"
        half_life = spec.get("half_life_days")
        signals.append(
            {
                "name": name,
                "event_names": signal_names,
                "property_filters": signal_filters,
                "window_days": int(spec.get("window_days") or doc["time_window_days"]),
                "min_count": int(spec.get("min_count") or 1),
                "weight": float(spec["weight"]),
                "half_life_days": float(half_life) if half_life is not None else rule_half_life,
                "max_points": float(spec["max_points"]) if spec.get("max_points") is not None else None,
                "rollup": rollup,
            }
        )
    return {
        "format": FORMAT,
        "key": key,
        "name": doc["name"],
        "level": doc["level"],
        "time_window_days": int(doc["time_window_days"]),
        "event_names": event_names,
        "conditions": {c: int(conditions[c]) for c in THRESHOLD_CONDITIONS if conditions.get(c) is not None},
        "property_filters": filters,
        "weights": {
            "event_count": float(weights["event_count_weight"]),
            "active_days": float(weights["active_days_weight"]),
            "recency": float(weights["recency_weight"]),
        },
        "decay": {"half_life_days": rule_half_life} if decay else None,
        "signals": signals,
        "match": _match(doc["match"]) if doc.get("match") is not None else None,
        "fit": [
            {
                "points": float(item["points"]),
                "when": [{**fit_attribute(doc["level"], f.pop("key")), **f} for f in _property_filters(item["when"])],
            }
            for item in doc.get("fit") or []
        ],
        "tiers": _tiers(doc.get("tiers")),
        "grade": ({g: [float(v) for v in doc["grade"][g]] for g in ("fit", "behaviour")} if doc.get("grade") else None),
    }


def _property_filters(spec: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each event property filter as one entry per operator, with typed values."""
    filters = []
    for prop, value_spec in (spec or {}).items():
        ops = value_spec if isinstance(value_spec, dict) else {"eq": value_spec}
        for op, value in ops.items():
            entry: dict[str, Any] = {"key": prop, "op": op}
            if op in ("in", "not_in"):
                entry["values"] = [_typed(v) for v in value]
            elif op not in ("is_set", "is_not_set"):
                entry["value"] = _typed(value)
            filters.append(entry)
    return filters


def _match(node: Any) -> dict[str, Any]:
    """A match node in its normalised form (a bare signal name becomes {signal: name})."""
    if isinstance(node, str):
        return {"signal": node}
    ((op, value),) = node.items()
    if op in ("all", "any"):
        return {op: [_match(child) for child in value]}
    if op == "not":
        return {"not": _match(value)}
    if op == "signal":
        return {"signal": value}
    return {"threshold": op, "value": int(value)}


def _tiers(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """Tiers best first: score thresholds from the highest, percentiles from the smallest."""
    if not spec:
        return None
    by = spec.get("by", "score")
    levels = [{"name": str(k), "value": float(v)} for k, v in spec.items() if k not in TIER_KEYS]
    levels.sort(key=lambda t: -t["value"] if by == "score" else t["value"])
    return {"by": by, "levels": levels, "else": spec.get("else")}


def _typed(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean", "value": "true" if value else "false"}
    if isinstance(value, (int, float)):
        return {"type": "number", "value": float(value)}
    return {"type": "string", "value": str(value)}
