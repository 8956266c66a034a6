"""An independent pandas implementation of docs/rules.md: the tests' source of expected values.

Written from the document alone (not from the dbt models or macros), as plainly as possible,
so that it can be checked by reading it next to the document. Entry points:

* ``punch_list(rule, events, persons, person_distinct_id, accounts, as_of)``: one rule's
  punch list, with the columns of ``beton_inspections.insp_<rule>`` (docs/architecture.md);
* ``load_mock(seeds_dir)``: the mock seed CSVs as DataFrames.

Input frames have the input data model's columns; ``properties`` are JSON text; timestamps
are naive UTC datetimes or parseable strings.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "ACCOUNT_COLUMNS",
    "USER_COLUMNS",
    "entities_with_events",
    "filter_holds",
    "load_mock",
    "property_text",
    "punch_list",
    "resolve_users",
    "staged_events",
]

# The score breakdown after as_of: one score_signal_<name> per signal goes before score_fit.
BREAKDOWN_COLUMNS = ["score_event_count", "score_active_days", "score_recency", "score_fit", "why"]
USER_COLUMNS = [
    "rank",
    "score",
    "tier",
    "grade",
    "user_id",
    "email",
    "name",
    "event_count",
    "distinct_events",
    "active_days",
    "days_since_last_event",
    "last_seen",
    "as_of",
    *BREAKDOWN_COLUMNS,
]
ACCOUNT_COLUMNS = [
    "rank",
    "score",
    "tier",
    "grade",
    "account_id",
    "name",
    "domain",
    "segment",
    "arr",
    "event_count",
    "active_users",
    "account_events",
    "distinct_events",
    "active_days",
    "days_since_last_event",
    "last_seen",
    "as_of",
    *BREAKDOWN_COLUMNS,
]

LINK_PROPERTY = "company_domain"
LINK_COLUMN = "domain"

# ---------------------------------------------------------------------------------------------
# Property values
# ---------------------------------------------------------------------------------------------


class _JsonNumber(str):
    """A JSON number kept as its canonical text (docs/rules.md, "Property values")."""


def number_text(json_number: str) -> str:
    """The canonical text of a JSON number (docs/rules.md): an integer keeps its digits (within
    64 bits); otherwise the shortest decimal that reads back as the same 64-bit float, without
    a trailing ".0", in plain notation when 1e-6 <= |x| < 1e21, else ``<d>[.<ddd>]e<exp>``."""
    if re.fullmatch(r"-?(0|[1-9][0-9]*)", json_number) and -(2**63) <= int(json_number) < 2**64:
        return str(int(json_number))
    x = float(json_number)
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    if math.isinf(x):
        return json_number
    _sign, digit_tuple, exponent = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k, n = len(digits), exponent + len(digits)  # x = 0.<digits> * 10^n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + str(n - 1)
    return ("-" if x < 0 else "") + text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: Any) -> dict:
    """Parse a properties JSON object; anything else (empty, invalid, not an object) is {}."""
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        obj = json.loads(
            text,
            parse_int=lambda t: _JsonNumber(number_text(t)),
            parse_float=lambda t: _JsonNumber(number_text(t)),
            parse_constant=_reject_constant,
        )
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _valid_json(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False
    return True


def property_text(properties: Any, key: str) -> str | None:
    """The property ``key`` read as text; None when it is missing or JSON null (not set).

    A string gives its content, a number its JSON text, a boolean ``true``/``false``, and an
    object or array its compact JSON text."""
    obj = _loads(properties)
    if key not in obj or obj[key] is None:
        return None
    value = obj[key]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # includes _JsonNumber, which is its JSON text
        return str(value)
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> Any:
    """A parsed JSON value with its kept-as-text numbers turned back into numbers."""
    if isinstance(value, _JsonNumber):
        return json.loads(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def _as_number(text: str) -> float | None:
    """The number a text spells (JSON number syntax, the whole text), or None."""
    return float(text) if _NUMBER.fullmatch(text) else None


def _equals(text: str, value: Any) -> bool:
    """``eq`` on a set property: numbers numerically, booleans as true/false, strings exactly."""
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, (int, float)):
        number = _as_number(text)
        return number is not None and number == float(value)
    return text == str(value)


def _operator_holds(op: str, arg: Any, text: str | None) -> bool:
    is_set = text is not None
    if op == "eq":
        return is_set and _equals(text, arg)
    if op == "neq":
        return not is_set or not _equals(text, arg)
    if op == "in":
        return is_set and any(_equals(text, v) for v in arg)
    if op == "not_in":
        return not is_set or not any(_equals(text, v) for v in arg)
    if op == "contains":
        return is_set and str(arg) in text
    if op == "regex":
        return is_set and re.search(str(arg), text) is not None
    if op in ("gt", "gte", "lt", "lte"):
        number = _as_number(text) if is_set else None
        if number is None:
            return False
        bound = float(arg)
        return {"gt": number > bound, "gte": number >= bound, "lt": number < bound, "lte": number <= bound}[op]
    if op == "is_set":
        return is_set == bool(arg)
    if op == "is_not_set":
        return (not is_set) == bool(arg)
    raise ValueError(f"unknown property filter operator {op!r}")


def filter_holds(spec: Any, text: str | None) -> bool:
    """One ``event_property_filters`` entry (a bare value or an operator object)."""
    if isinstance(spec, dict):
        return all(_operator_holds(op, arg, text) for op, arg in spec.items())
    if isinstance(spec, list):
        raise ValueError("a bare list is not a property filter; use {in: [...]}")
    return _operator_holds("eq", spec, text)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _blank_to_none(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and value == "":
        return None
    return value


def resolve_users(events: pd.DataFrame, person_distinct_id: pd.DataFrame) -> pd.Series:
    """Each event's user id: the smallest person id its distinct id maps to, else itself."""
    mapping: dict[str, str] = {}
    for person_id, distinct_id in zip(person_distinct_id["person_id"], person_distinct_id["distinct_id"], strict=True):
        if _blank_to_none(person_id) is None or _blank_to_none(distinct_id) is None:
            continue
        person_id, distinct_id = str(person_id), str(distinct_id)
        if distinct_id not in mapping or person_id < mapping[distinct_id]:
            mapping[distinct_id] = person_id
    return events["distinct_id"].map(lambda d: mapping.get(str(d), str(d))).astype(object)


@dataclass(frozen=True)
class AccountLink:
    """How events link to accounts (docs/schema-mapping.md): with ``group_index`` set, the
    event property ``$group_<index>`` equals the account id exactly (and, with ``fallback``,
    events without it use the property link); else ``property`` equals the accounts column
    ``column``, both trimmed and lowercased."""

    property: str = LINK_PROPERTY
    column: str = LINK_COLUMN
    group_index: int | None = None
    fallback: bool = False


def _accounts_by_key(accounts: pd.DataFrame, link: AccountLink) -> dict[str, str]:
    """The account a link value names (trimmed, lowercased): of several, the smallest id."""
    by_key: dict[str, str] = {}
    pairs = zip(accounts["account_id"], accounts[link.column], strict=True)
    for account_id, key in sorted(pairs, key=lambda pair: str(pair[0])):
        key = _blank_to_none(key)
        if key is not None:
            by_key.setdefault(str(key).strip().lower(), str(account_id))
    return by_key


def _link_accounts(events: pd.DataFrame, accounts: pd.DataFrame, link: AccountLink = AccountLink()) -> pd.Series:
    """Each event's account id (None when it links to no account)."""
    by_key = _accounts_by_key(accounts, link)
    ids = {str(a) for a in accounts["account_id"] if _blank_to_none(a) is not None}

    def by_property(properties: Any) -> str | None:
        text = property_text(properties, link.property)
        return None if text is None else by_key.get(text.strip().lower())

    def account_of(properties: Any) -> str | None:
        if link.group_index is None:
            return by_property(properties)
        key = _blank_to_none(property_text(properties, f"$group_{link.group_index}"))
        if key is not None:
            return key if key in ids else None
        return by_property(properties) if link.fallback else None

    return events["properties"].map(account_of).astype(object)


def staged_events(events: pd.DataFrame) -> pd.DataFrame:
    """The events rules see (docs/rules.md, "Events"): rows with a missing uuid, event,
    distinct_id or timestamp dropped; of rows sharing a uuid, the first by (timestamp, event,
    distinct_id, properties text — '{}' when not valid JSON —, person_id — '' when missing)."""
    ev = events.copy()
    for column in ("uuid", "event", "distinct_id", "timestamp"):
        ev = ev[ev[column].map(lambda v: not (v is None or (not isinstance(v, str) and pd.isna(v)))).astype(bool)]
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    order = pd.DataFrame(
        {
            "uuid": ev["uuid"].astype(str),
            "timestamp": ev["timestamp"],
            "event": ev["event"].astype(str),
            "distinct_id": ev["distinct_id"].astype(str),
            "properties": ev["properties"].map(lambda t: t if _valid_json(t) else "{}"),
            "person_id": (ev["person_id"] if "person_id" in ev else pd.Series(None, index=ev.index, dtype=object)).map(
                lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
            ),
        },
        index=ev.index,
    )
    rows = sorted(
        order.itertuples(), key=lambda r: (r.uuid, r.timestamp, r.event, r.distinct_id, r.properties, r.person_id)
    )
    kept, seen = [], set()
    for r in rows:
        if r.uuid not in seen:
            seen.add(r.uuid)
            kept.append(r.Index)
    return ev.loc[sorted(kept)]


def _prepared(
    events: pd.DataFrame,
    person_distinct_id: pd.DataFrame,
    accounts: pd.DataFrame,
    link: AccountLink = AccountLink(),
) -> pd.DataFrame:
    ev = staged_events(events)
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    ev["user_id"] = resolve_users(ev, person_distinct_id)
    ev["account_id"] = _link_accounts(ev, accounts, link)
    ev["day"] = ev["timestamp"].dt.date
    return ev


def _in_window(ev: pd.DataFrame, as_of: datetime, days: int) -> pd.DataFrame:
    first_excluded = pd.Timestamp(as_of).date() - pd.Timedelta(days=days)
    keep = (ev["day"] > first_excluded) & (ev["timestamp"] <= pd.Timestamp(as_of))
    return ev[keep]


# ---------------------------------------------------------------------------------------------
# Fit, tiers, grade (docs/rules.md, "Fit", "Tiers", "Grade")
# ---------------------------------------------------------------------------------------------

ACCOUNT_TEXT = ("account_id", "name", "domain", "segment", "owner_email")
ACCOUNT_NUMBER = ("arr",)
ENRICHMENT_TEXT = {
    "enrichment_provider": "provider",
    "enriched_industry": "industry",
    "employee_band": "employee_band",
    "revenue_band": "revenue_band",
    "hq_country": "hq_country",
    "funding_stage": "funding_stage",
}
ENRICHMENT_NUMBER = {
    "enriched_employees": "employees",
    "annual_revenue": "annual_revenue",
    "founded_year": "founded_year",
}


def user_accounts(
    events: pd.DataFrame,
    persons: pd.DataFrame,
    person_distinct_id: pd.DataFrame,
    accounts: pd.DataFrame,
    link: AccountLink = AccountLink(),
) -> dict[str, str]:
    """Each user's account (docs/schema-mapping.md, "Account link"): the one the person's link
    property names (property link, or group link with fallback), else the account most of the
    user's events (all of them, any time) link to, ties to the smallest account id."""
    by_key = _accounts_by_key(accounts, link)
    ev = _prepared(events, person_distinct_id, accounts, link)
    counts: dict[str, dict[str, int]] = {}
    for user_id, account_id in zip(ev["user_id"], ev["account_id"], strict=True):
        if account_id is not None and not (isinstance(account_id, float) and math.isnan(account_id)):
            counts.setdefault(str(user_id), {}).setdefault(str(account_id), 0)
            counts[str(user_id)][str(account_id)] += 1
    out = {u: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for u, c in counts.items()}
    if link.group_index is None or link.fallback:
        for person_id, properties in zip(persons["id"], persons["properties"], strict=True):
            key = property_text(properties, link.property)
            if key is not None and key.strip().lower() in by_key:
                out[str(person_id)] = by_key[key.strip().lower()]
    return out


def _value(value: Any) -> Any:
    value = _blank_to_none(value) if not isinstance(value, str) else value
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _attribute(field: str, level: str, person: Any, account: pd.Series | None, enriched: pd.Series | None):
    """(kind, value) of a fit attribute: kind 'text' (value: text or None) or 'number'."""
    if level == "user":
        if field.startswith("account."):
            return _attribute(field[len("account.") :], "account", None, account, enriched)
        key = field[len("properties.") :] if field.startswith("properties.") else field
        return "text", property_text(person, key)
    if field.startswith("properties."):
        return "text", None if account is None else property_text(account["properties"], field[len("properties.") :])
    if field in ACCOUNT_TEXT or field in ACCOUNT_NUMBER:
        value = None if account is None else _value(account[field])
        if field in ACCOUNT_NUMBER:
            return "number", None if value is None else float(value)
        return "text", None if value is None else str(value)
    if field in ENRICHMENT_TEXT or field in ENRICHMENT_NUMBER:
        column = ENRICHMENT_TEXT.get(field) or ENRICHMENT_NUMBER[field]
        value = None if enriched is None else _value(enriched[column])
        if field in ENRICHMENT_NUMBER:
            return "number", None if value is None else float(value)
        return "text", None if value is None else str(value)
    return "text", None if account is None else property_text(account["properties"], field)


def _number_holds(op: str, arg: Any, value: float | None) -> bool:
    if op in ("is_set", "is_not_set"):
        return (value is not None) == (op == "is_set")
    if op in ("neq", "not_in"):
        return not _number_holds({"neq": "eq", "not_in": "in"}[op], arg, value)
    if value is None:
        return False
    if op == "eq":
        return value == float(arg)
    if op == "in":
        return any(value == float(v) for v in arg)
    return {"gt": value > arg, "gte": value >= arg, "lt": value < arg, "lte": value <= arg}[op]


def fit_score(rule: dict, person: Any, account: pd.Series | None, enriched: pd.Series | None) -> float:
    """score_fit: the sum, in order, of the points of the fit items whose every condition holds."""
    total = 0.0
    for item in rule.get("fit") or []:
        met = True
        for field, spec in item["when"].items():
            kind, value = _attribute(field, rule["level"], person, account, enriched)
            ops = spec if isinstance(spec, dict) else {"eq": spec}
            if kind == "number":
                met = met and all(_number_holds(op, arg, value) for op, arg in ops.items())
            else:
                met = met and filter_holds(ops, value)
        total += float(item["points"]) if met else 0
    return total


def tiers_of(rule: dict, scores: list[float]) -> list[str | None]:
    """Each finding's tier (scores in punch-list order)."""
    spec = rule.get("tiers")
    if not spec:
        return [None] * len(scores)
    by = spec.get("by", "score")
    named = [(k, float(v)) for k, v in spec.items() if k not in ("by", "else")]
    named.sort(key=lambda t: -t[1] if by == "score" else t[1])
    out = []
    for score in scores:
        tier = spec.get("else")
        higher = sum(1 for other in scores if other > score)
        for name, value in named:
            if (score >= value) if by == "score" else (higher * 100 < len(scores) * value):
                tier = name
                break
        out.append(tier)
    return out


def grade_of(rule: dict, score: float, score_fit: float) -> str | None:
    grade = rule.get("grade")
    if not grade:
        return None

    def step(value: float, thresholds: list, labels: str) -> str:
        return next((labels[i] for i, t in enumerate(thresholds) if value >= t), labels[len(thresholds)])

    return step(score_fit, grade["fit"], "ABCDEF") + step(score - score_fit, grade["behaviour"], "123456")


# ---------------------------------------------------------------------------------------------
# The punch list
# ---------------------------------------------------------------------------------------------


def punch_list(
    rule: dict,
    events: pd.DataFrame,
    persons: pd.DataFrame,
    person_distinct_id: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of: datetime | str,
    link: AccountLink = AccountLink(),
    enrichment: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The rule's findings at ``as_of``, ranked, with the ``insp_<rule>`` columns (events
    linked to accounts by ``link``; ``enrichment``: the account_enrichment rows `beton enrich`
    writes, none when absent)."""
    as_of = pd.Timestamp(as_of).to_pydatetime()
    level = rule["level"]
    if level not in ("user", "account"):
        raise ValueError(f"unknown level {level!r}")
    conditions = rule.get("conditions") or {}
    weights = {"event_count_weight": 1.0, "active_days_weight": 1.0, "recency_weight": 0.0}
    weights.update(rule.get("scoring_weights") or {})

    ev = _in_window(_prepared(events, person_distinct_id, accounts, link), as_of, int(rule["time_window_days"]))
    entity = "user_id" if level == "user" else "account_id"
    if level == "account":
        ev = ev[ev["account_id"].notna()]

    matching = _matching(ev, conditions.get("event_names"), conditions.get("event_property_filters"))
    as_of_day: date = as_of.date()
    decay = (rule.get("decay") or {}).get("half_life_days")
    signals = rule.get("signals") or {}

    def decayed(days: pd.Series, half_life: float) -> float:
        """docs/rules.md, "Decay": an event d days before the as_of date counts 0.5^(d / half_life)."""
        return float(sum(0.5 ** ((as_of_day - day).days / half_life) for day in days))

    signal_events = {}
    for name, spec in signals.items():
        window = int(spec.get("window_days") or rule["time_window_days"])
        in_window = _in_window(ev, as_of, window)
        signal_events[name] = _matching(in_window, spec.get("event_names"), spec.get("event_property_filters"))

    rows = []
    for entity_id, group in matching.groupby(entity, sort=True):
        last_seen = group["timestamp"].max()
        metrics = {
            entity: entity_id,
            "event_count": len(group),
            "distinct_events": group["event"].nunique(),
            "active_days": group["day"].nunique(),
            "last_seen": last_seen,
            "days_since_last_event": (as_of_day - last_seen.date()).days,
        }
        if level == "account":
            metrics["active_users"] = group["user_id"].nunique()
            metrics["account_events"] = int((ev["account_id"] == entity_id).sum())
        metrics["signals"] = {}
        for name, spec in signals.items():
            own = signal_events[name][signal_events[name][entity] == entity_id]
            half_life = spec.get("half_life_days", decay)
            count = len(own)
            points = float(spec["weight"]) * (decayed(own["day"], half_life) if half_life else count)
            if spec.get("max_points") is not None:
                points = max(min(points, float(spec["max_points"])), -float(spec["max_points"]))
            met = count >= int(spec.get("min_count") or 1)
            metrics["signals"][name] = {"count": count, "met": met, "points": points if met else 0.0}
        metrics["decayed_event_count"] = decayed(group["day"], decay) if decay else None
        rows.append(metrics)

    findings = [
        m
        for m in rows
        if all(_threshold_holds(m, name, value) for name, value in _thresholds(conditions))
        and (rule.get("match") is None or _match_holds(rule["match"], m))
    ]
    account_rows = {str(a): row for a, row in accounts.set_index(accounts["account_id"].astype(str)).iterrows()}
    enriched_rows = {} if enrichment is None else {str(r["account_id"]): r for _, r in enrichment.iterrows()}
    people = dict(zip(persons["id"].astype(str), persons["properties"], strict=True))
    their_account = (
        user_accounts(events, persons, person_distinct_id, accounts, link)
        if level == "user" and rule.get("fit")
        else {}
    )
    for m in findings:
        account_id = m[entity] if level == "account" else their_account.get(m["user_id"])
        count = m["decayed_event_count"] if decay else m["event_count"]
        m["score_event_count"] = float(weights["event_count_weight"]) * math.log(1 + count)
        m["score_active_days"] = float(weights["active_days_weight"]) * m["active_days"]
        m["score_recency"] = float(weights["recency_weight"]) * m["days_since_last_event"]
        m["score_fit"] = fit_score(
            rule, people.get(str(m[entity])), account_rows.get(account_id), enriched_rows.get(account_id)
        )
        score = m["score_event_count"] + m["score_active_days"] + m["score_recency"]
        for name in signals:
            m[f"score_signal_{name}"] = m["signals"][name]["points"]
            score += m[f"score_signal_{name}"]
        m["score"] = score + m["score_fit"]
        m["why"] = _why(rule, m)
    findings.sort(key=lambda m: (-m["score"], str(m[entity])))
    for rank, m in enumerate(findings, start=1):
        m["rank"] = rank
        m["as_of"] = pd.Timestamp(as_of)
        m["grade"] = grade_of(rule, m["score"], m["score_fit"])
    for m, tier in zip(findings, tiers_of(rule, [m["score"] for m in findings]), strict=True):
        m["tier"] = tier

    if level == "user":
        for m in findings:  # an unresolved distinct id has no person: no email, no name
            m["email"] = property_text(people.get(m["user_id"]), "email")
            m["name"] = property_text(people.get(m["user_id"]), "name")
        columns = list(USER_COLUMNS)
    else:
        info = accounts.set_index(accounts["account_id"].astype(str))
        for m in findings:
            row = info.loc[m["account_id"]]
            for col in ("name", "domain", "segment"):
                m[col] = _blank_to_none(row[col])
            arr = _blank_to_none(row["arr"])
            m["arr"] = None if arr is None else float(arr)
        columns = list(ACCOUNT_COLUMNS)
    at = columns.index("score_fit")
    columns[at:at] = [f"score_signal_{name}" for name in signals]

    out = pd.DataFrame(findings, columns=columns)
    int_columns = ["rank", "event_count", "distinct_events", "active_days", "days_since_last_event"]
    if level == "account":
        int_columns += ["active_users", "account_events"]
    floats = ["score", "score_event_count", "score_active_days", "score_recency", "score_fit"]
    floats += [f"score_signal_{name}" for name in signals]
    out = out.astype({c: "int64" for c in int_columns} | {c: "float64" for c in floats})
    out["last_seen"] = pd.to_datetime(out["last_seen"])
    out["as_of"] = pd.to_datetime(out["as_of"])
    if level == "account":
        out["arr"] = out["arr"].astype("float64")
    return out.reset_index(drop=True)


def _matching(ev: pd.DataFrame, names: list | None, filters: dict | None) -> pd.DataFrame:
    """docs/rules.md, "Matching events" (a rule's, or a signal's own event set)."""
    matching = ev
    if names:
        matching = matching[matching["event"].isin(names)]
    for key, spec in (filters or {}).items():

        def holds(properties: Any, key: str = key, spec: Any = spec) -> bool:
            return filter_holds(spec, property_text(properties, key))

        matching = matching[matching["properties"].map(holds).astype(bool)]
    return matching


# docs/rules.md, "Conditions": threshold -> (metric, holds when).
_THRESHOLDS = {
    "min_event_count": ("event_count", lambda v, n: v >= n),
    "min_distinct_events": ("distinct_events", lambda v, n: v >= n),
    "min_active_days": ("active_days", lambda v, n: v >= n),
    "max_days_since_last_event": ("days_since_last_event", lambda v, n: v <= n),
    "min_days_since_last_event": ("days_since_last_event", lambda v, n: v >= n),
    "min_active_users": ("active_users", lambda v, n: v >= n),
    "min_account_events": ("account_events", lambda v, n: v >= n),
}


def _thresholds(conditions: dict) -> list[tuple[str, int]]:
    """The thresholds a rule's conditions set, in the order of the Conditions table."""
    return [(name, int(conditions[name])) for name in _THRESHOLDS if conditions.get(name) is not None]


def _threshold_holds(metrics: dict, name: str, value: int) -> bool:
    metric, holds = _THRESHOLDS[name]
    return holds(metrics[metric], value)


def _match_holds(node: Any, metrics: dict) -> bool:
    """docs/rules.md, "Nested logic: match"."""
    if isinstance(node, str):
        return metrics["signals"][node]["met"]
    ((op, value),) = node.items()
    if op == "all":
        return all(_match_holds(child, metrics) for child in value)
    if op == "any":
        return any(_match_holds(child, metrics) for child in value)
    if op == "not":
        return not _match_holds(value, metrics)
    if op == "signal":
        return metrics["signals"][value]["met"]
    return _threshold_holds(metrics, op, int(value))


def _match_thresholds(node: Any) -> list[tuple[str, int]]:
    """The threshold nodes of a match tree, depth first, in the order written."""
    if isinstance(node, str):
        return []
    ((op, value),) = node.items()
    if op in ("all", "any"):
        return [pair for child in value for pair in _match_thresholds(child)]
    if op == "not":
        return _match_thresholds(value)
    if op == "signal":
        return []
    return [(op, int(value))]


def _why(rule: dict, metrics: dict) -> str:
    """docs/rules.md, "Score breakdown and why": JSON text without spaces."""
    pairs = _thresholds(rule.get("conditions") or {})
    for pair in _match_thresholds(rule["match"]) if rule.get("match") is not None else []:
        if pair not in pairs:
            pairs.append(pair)
    why = {
        "conditions": [
            {
                "condition": name,
                "threshold": value,
                "value": int(metrics[_THRESHOLDS[name][0]]),
                "met": _threshold_holds(metrics, name, value),
            }
            for name, value in pairs
        ],
        "signals": [
            {
                "signal": name,
                "count": metrics["signals"][name]["count"],
                "min_count": int(spec.get("min_count") or 1),
                "met": metrics["signals"][name]["met"],
            }
            for name, spec in (rule.get("signals") or {}).items()
        ],
    }
    return json.dumps(why, separators=(",", ":"))


def entities_with_events(
    events: pd.DataFrame,
    person_distinct_id: pd.DataFrame,
    accounts: pd.DataFrame,
    level: str,
    as_of: datetime | str | None = None,
) -> set[str]:
    """Every user (or linked account) with at least one event (up to ``as_of`` if given)."""
    ev = _prepared(events, person_distinct_id, accounts)
    if as_of is not None:
        ev = ev[ev["timestamp"] <= pd.Timestamp(as_of)]
    column = "user_id" if level == "user" else "account_id"
    return {str(v) for v in ev[column].dropna().unique()}


# ---------------------------------------------------------------------------------------------
# Backtest (docs/backtest.md)
# ---------------------------------------------------------------------------------------------


def backtest(
    rule: dict,
    events: pd.DataFrame,
    persons: pd.DataFrame,
    person_distinct_id: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of: datetime | str,
    conversion_events: list[str],
    within_days: int,
) -> pd.DataFrame:
    """One row per entity of the rule's eligible population at ``as_of`` (any event in the
    rule's window; accounts: any linked event): ``entity_id``, ``flagged`` (on the oracle's punch
    list at as_of), ``converted_at`` (its first conversion event with as_of < timestamp <= as_of
    + within_days, else None), sorted by entity_id."""
    as_of = pd.Timestamp(as_of).to_pydatetime()
    entity = "user_id" if rule["level"] == "user" else "account_id"
    ev = _prepared(events, person_distinct_id, accounts)
    ev = ev[ev[entity].notna()]
    eligible = sorted({str(v) for v in _in_window(ev, as_of, int(rule["time_window_days"]))[entity]})
    flagged = set(punch_list(rule, events, persons, person_distinct_id, accounts, as_of)[entity].astype(str))
    horizon_end = pd.Timestamp(as_of) + pd.Timedelta(days=within_days)
    after = ev[
        ev["event"].isin(conversion_events) & (ev["timestamp"] > pd.Timestamp(as_of)) & (ev["timestamp"] <= horizon_end)
    ]
    first = after.groupby(entity)["timestamp"].min()
    return pd.DataFrame(
        {
            "entity_id": eligible,
            "flagged": [e in flagged for e in eligible],
            "converted_at": [first.get(e) for e in eligible],
        }
    )


# ---------------------------------------------------------------------------------------------
# Mock seeds
# ---------------------------------------------------------------------------------------------


def load_mock(seeds_dir: Path | str) -> dict[str, pd.DataFrame]:
    """The mock seeds as DataFrames: events, persons, person_distinct_id, accounts,
    standard_events. Text stays text (an empty cell is None), timestamps are datetimes and
    ``arr`` is a float (NaN when unknown)."""
    seeds_dir = Path(seeds_dir)

    def read(rel: str) -> pd.DataFrame:
        df = pd.read_csv(seeds_dir / rel, dtype=str, keep_default_na=False, encoding="utf-8")
        return df.astype(object).map(_blank_to_none)

    events = read("mock/beton_mock_events.csv")
    events["timestamp"] = pd.to_datetime(events["timestamp"], format="%Y-%m-%d %H:%M:%S")
    persons = read("mock/beton_mock_persons.csv")
    persons["created_at"] = pd.to_datetime(persons["created_at"], format="%Y-%m-%d %H:%M:%S")
    persons["is_identified"] = persons["is_identified"].map({"true": True, "false": False})
    accounts = read("mock/beton_mock_accounts.csv")
    accounts["arr"] = pd.to_numeric(accounts["arr"]).astype("float64")
    return {
        "events": events,
        "persons": persons,
        "person_distinct_id": read("mock/beton_mock_person_distinct_id.csv"),
        "accounts": accounts,
        "standard_events": read("reference/beton_standard_events.csv"),
    }
