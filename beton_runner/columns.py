"""The punch-list columns, defined once.

Everything that names a punch-list or findings column reads this table: the generated
properties files (descriptions and tests), the inspection macro's final select and the findings
model (through the macro file `beton rules compile` generates from it,
macros/inspection/punch_list_columns.sql), the CLI's and the report's display, and
docs/architecture.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

LEVELS = ("user", "account")


@dataclass(frozen=True)
class Column:
    """One column of a rule's punch list (``insp_<rule>``).

    ``levels``: the rule levels whose punch list has it. ``kind``: how to show it (``id``,
    ``text``, ``number``, ``count``, ``timestamp``). ``header``: the CLI/report heading.
    ``shown``: the levels whose CLI table shows it. ``tests``: the dbt data tests on it.
    ``source``: where the inspection macro's final select takes it from (``rank``: the row's
    position; ``entity``: the user or account id; ``attribute``: the users/accounts table;
    ``metric``: the rule's measured metrics; ``as_of``: the evaluation instant; ``tier`` and
    ``grade``: macros/inspection/tiers.sql).
    ``sql_type``: the type insp_findings casts it to (``bigint``, ``double``, ``string``), or
    ``None`` to keep its own (timestamps).
    """

    name: str
    description: str
    levels: tuple[str, ...]
    kind: str
    header: str
    shown: tuple[str, ...] = LEVELS
    tests: tuple[str, ...] = ()
    source: str = "metric"
    sql_type: str | None = "bigint"


SIGNAL_TERM_PREFIX = "score_signal_"
_SCORE = "The sum of the score_* terms: event_count_weight·ln(1+event_count) + active_days_weight·active_days + recency_weight·days_since_last_event."

# In table order. A column with both levels keeps its place in each level's table.
PUNCH_LIST_COLUMNS: tuple[Column, ...] = (
    Column(
        "rank",
        "Position in the punch list: 1 is the highest score; ties broken by entity id.",
        LEVELS,
        "count",
        "rank",
        tests=("unique", "not_null"),
        source="rank",
    ),
    Column("score", _SCORE, LEVELS, "number", "score", tests=("not_null",), sql_type="double"),
    Column(
        "tier",
        'The rule\'s tier the finding reaches (docs/rules.md, "Tiers"); null when the rule has no tiers.',
        LEVELS,
        "text",
        "tier",
        source="tier",
        sql_type="string",
    ),
    Column(
        "grade",
        'Fit letter and behaviour number, e.g. A1 (docs/rules.md, "Grade"); null when the rule has no grade.',
        LEVELS,
        "text",
        "grade",
        source="grade",
        sql_type="string",
    ),
    Column(
        "user_id",
        "The person id (or, for a distinct id with no person, the distinct id).",
        ("user",),
        "id",
        "user id",
        tests=("unique", "not_null"),
        source="entity",
        sql_type="string",
    ),
    Column("email", "The person's email property.", ("user",), "text", "email", source="attribute", sql_type="string"),
    Column(
        "account_id",
        "The account id.",
        ("account",),
        "id",
        "account id",
        tests=("unique", "not_null"),
        source="entity",
        sql_type="string",
    ),
    Column(
        "name",
        "The person's name property, or the account's name.",
        LEVELS,
        "text",
        "name",
        source="attribute",
        sql_type="string",
    ),
    Column("domain", "The account's domain.", ("account",), "text", "domain", source="attribute", sql_type="string"),
    Column("segment", "The account's segment.", ("account",), "text", "segment", source="attribute", sql_type="string"),
    Column(
        "arr",
        "The account's annual recurring revenue.",
        ("account",),
        "number",
        "arr",
        source="attribute",
        sql_type="double",
    ),
    Column("event_count", "Matching events in the window.", LEVELS, "count", "events", tests=("not_null",)),
    Column("active_users", "Distinct users among the matching events.", ("account",), "count", "users"),
    Column(
        "account_events",
        "All of the account's events in the window, matching or not.",
        ("account",),
        "count",
        "acct events",
        shown=(),
    ),
    Column("distinct_events", "Distinct matching event names.", LEVELS, "count", "distinct", shown=("user",)),
    Column(
        "active_days", "Distinct UTC dates with a matching event.", LEVELS, "count", "active days", tests=("not_null",)
    ),
    Column(
        "days_since_last_event",
        "UTC calendar days from the last matching event to as_of.",
        LEVELS,
        "count",
        "days since",
        tests=("not_null",),
    ),
    Column(
        "last_seen",
        "Timestamp (UTC) of the last matching event.",
        LEVELS,
        "timestamp",
        "last seen",
        tests=("not_null",),
        sql_type=None,
    ),
    Column(
        "as_of",
        "The instant (UTC) the rule was evaluated at.",
        LEVELS,
        "timestamp",
        "as of",
        shown=(),
        tests=("not_null",),
        source="as_of",
        sql_type=None,
    ),
    # The score breakdown (docs/rules.md, "Score breakdown and why"): the terms sum to score.
    Column(
        "score_event_count",
        "Score term: event_count_weight·ln(1 + event_count), the count decayed when the rule has decay.",
        LEVELS,
        "number",
        "events pts",
        shown=(),
        sql_type="double",
    ),
    Column(
        "score_active_days",
        "Score term: active_days_weight·active_days.",
        LEVELS,
        "number",
        "days pts",
        shown=(),
        sql_type="double",
    ),
    Column(
        "score_recency",
        "Score term: recency_weight·days_since_last_event.",
        LEVELS,
        "number",
        "recency pts",
        shown=(),
        sql_type="double",
    ),
    # A placeholder: one column score_signal_<name> per signal of the rule, in the rule's order.
    Column(
        SIGNAL_TERM_PREFIX + "<signal>",
        "Score term of signal <signal>: weight·(decayed) count, capped at max_points; 0 when not met.",
        LEVELS,
        "number",
        "<signal> pts",
        shown=(),
        source="signals",
        sql_type="double",
    ),
    Column(
        "score_fit",
        "The fit term of the score: the points of the rule's fit conditions the entity meets (0 without fit).",
        LEVELS,
        "number",
        "fit pts",
        shown=(),
        sql_type="double",
    ),
    Column(
        "why",
        "JSON text: every threshold and signal of the rule with the entity's value and whether it is met.",
        LEVELS,
        "text",
        "why",
        shown=(),
        sql_type="string",
    ),
)


@dataclass(frozen=True)
class FindingsColumn:
    """One column of the unified findings table (``insp_findings``).

    ``source``: ``finding`` (built from the rule and the entity, written out in
    macros/inspection/findings.sql) or ``punch_list`` (the punch-list column of that name, cast
    to its ``sql_type``; null for a rule whose level has no such column). ``tests``: dbt data
    tests, as the properties file writes them.
    """

    name: str
    description: str
    source: str = "finding"
    tests: tuple = ()
    sql_type: str = "string"  # of a `finding` column (computed_at: a timestamp, whatever this says)


# In table order: the finding's identity, then every punch-list column the findings keep, then
# when it was computed.
FINDINGS_COLUMNS: tuple[FindingsColumn, ...] = (
    FindingsColumn("finding_id", "`<rule_key>:<entity_id>`, unique.", tests=("unique", "not_null")),
    FindingsColumn("rule_key", "The rule's key (its file stem in rules/).", tests=("not_null",)),
    FindingsColumn("rule_name", "The rule's name."),
    FindingsColumn(
        "level",
        "user or account.",
        tests=("not_null", {"accepted_values": {"arguments": {"values": ["user", "account"]}}}),
    ),
    FindingsColumn("entity_id", "The user id or account id the finding is about.", tests=("not_null",)),
    FindingsColumn("entity_name", "The user's email or the account's name."),
    FindingsColumn("account_id", "The account (for user findings, the user's account)."),
    FindingsColumn("rank", "Position in the rule's punch list (1 = highest score).", "punch_list"),
    FindingsColumn("score", "The rule's score for the entity.", "punch_list"),
    FindingsColumn("tier", "The finding's tier; null when the rule has no tiers.", "punch_list"),
    FindingsColumn(
        "grade", "Fit letter and behaviour number (e.g. A1); null when the rule has no grade.", "punch_list"
    ),
    FindingsColumn("event_count", "Matching events in the window.", "punch_list"),
    FindingsColumn("distinct_events", "Distinct matching event names.", "punch_list"),
    FindingsColumn("active_days", "Distinct UTC dates with a matching event.", "punch_list"),
    FindingsColumn("active_users", "Account findings only, distinct users among the matching events.", "punch_list"),
    FindingsColumn("account_events", "Account findings only, all of the account's events in the window.", "punch_list"),
    FindingsColumn("days_since_last_event", "UTC calendar days from the last matching event to as_of.", "punch_list"),
    FindingsColumn("last_seen", "The last matching event (UTC).", "punch_list"),
    FindingsColumn("as_of", '{{ doc("as_of") }}', "punch_list"),
    FindingsColumn("score_event_count", "Score term of the event count.", "punch_list"),
    FindingsColumn("score_active_days", "Score term of the active days.", "punch_list"),
    FindingsColumn("score_recency", "Score term of the days since the last event.", "punch_list"),
    FindingsColumn("score_signals", "The sum of the rule's signal terms (0 without signals).", sql_type="double"),
    FindingsColumn("score_fit", "Score term of the rule's fit (0 when it has none).", "punch_list"),
    FindingsColumn("why", "JSON text: the thresholds and signals with their values (docs/rules.md).", "punch_list"),
    FindingsColumn("computed_at", "When the dbt invocation that built the table started (UTC)."),
)


def columns_for(level: str, signals: list[str] | None = None) -> list[Column]:
    """The punch-list columns of a rule at ``level``, in table order. With ``signals`` (the
    rule's signal names) the placeholder of the signal terms becomes one column per signal;
    without, it stays (the generated macro expands it per rule)."""
    if level not in LEVELS:
        raise ValueError(f"unknown rule level {level!r}; expected one of {', '.join(LEVELS)}")
    out = []
    for c in PUNCH_LIST_COLUMNS:
        if level not in c.levels:
            continue
        if c.source == "signals" and signals is not None:
            out += [signal_column(name) for name in signals]
        else:
            out.append(c)
    return out


# The fixed score terms of the breakdown (punch lists and insp_findings), as people read them:
# the report's chart legend and the plays' "Why:" lines.
SCORE_TERM_LABELS = {
    "score_event_count": "event count",
    "score_active_days": "active days",
    "score_recency": "recency",
    "score_signals": "signals",
    "score_fit": "fit",
}


def signal_column(name: str) -> Column:
    """The score-term column of the signal ``name``."""
    return Column(
        SIGNAL_TERM_PREFIX + name,
        f"Score term of signal {name}: weight·(decayed) count, capped at max_points; 0 when not met.",
        LEVELS,
        "number",
        f"{name} pts",
        shown=(),
        sql_type="double",
    )


def column(name: str) -> Column | None:
    """The punch-list column called ``name``, if there is one."""
    return next((c for c in PUNCH_LIST_COLUMNS if c.name == name), None)


def shown_for(level: str) -> list[Column]:
    """The columns the CLI shows by default for a punch list at ``level``."""
    return [c for c in columns_for(level) if level in c.shown]


# Enforced dbt model contracts: each output table's column types, as each engine's SQL gives
# them. DuckDB reads the name as a type (any alias works); dbt-clickhouse compares the text with
# the column's ClickHouse type exactly, so that one is written as ClickHouse spells it (counts
# and row numbers are unsigned there, outer-joined columns Nullable).
CONTRACT_TYPES: dict[str, tuple[str, str]] = {  # kind -> (duckdb, clickhouse)
    "string": ("varchar", "String"),
    "nullable_string": ("varchar", "Nullable(String)"),
    "bigint": ("bigint", "Int64"),
    "nullable_bigint": ("bigint", "Nullable(Int64)"),
    "ubigint": ("bigint", "UInt64"),
    "double": ("double", "Float64"),
    "nullable_double": ("double", "Nullable(Float64)"),
    "timestamp": ("timestamp", "DateTime64(6, 'UTC')"),
    "nullable_timestamp": ("timestamp", "Nullable(DateTime64(6, 'UTC'))"),
    "boolean": ("boolean", "UInt8"),
}

PUNCH_LIST_CONTRACT: dict[str, str] = {
    "rank": "ubigint",
    "score": "double",
    "tier": "nullable_string",
    "grade": "nullable_string",
    "user_id": "string",
    "email": "nullable_string",
    "account_id": "nullable_string",
    "name": "nullable_string",
    "domain": "nullable_string",
    "segment": "nullable_string",
    "arr": "nullable_double",
    "event_count": "bigint",
    "active_users": "ubigint",
    "account_events": "bigint",
    "distinct_events": "bigint",
    "active_days": "bigint",
    "days_since_last_event": "bigint",
    "last_seen": "timestamp",
    "as_of": "timestamp",
    "score_event_count": "double",
    "score_active_days": "double",
    "score_recency": "double",
    "score_fit": "double",
    "why": "string",
}

FINDINGS_CONTRACT: dict[str, str] = {
    "finding_id": "string",
    "rule_key": "string",
    "rule_name": "string",
    "level": "string",
    "entity_id": "string",
    "entity_name": "nullable_string",
    "account_id": "nullable_string",
    "rank": "bigint",
    "score": "double",
    "tier": "nullable_string",
    "grade": "nullable_string",
    "event_count": "bigint",
    "distinct_events": "bigint",
    "active_days": "bigint",
    "active_users": "nullable_bigint",
    "account_events": "nullable_bigint",
    "days_since_last_event": "bigint",
    "last_seen": "timestamp",
    "as_of": "timestamp",
    "score_event_count": "double",
    "score_active_days": "double",
    "score_recency": "double",
    "score_signals": "double",
    "score_fit": "double",
    "why": "string",
    "computed_at": "timestamp",
}


def contract_data_type(kind: str) -> str:
    """A contract column's ``data_type``: dbt renders it per target (the yml context has
    ``target``, not macros), ClickHouse's exact type there, DuckDB's elsewhere."""
    duckdb, clickhouse = CONTRACT_TYPES[kind]
    return f'{{{{ {json.dumps(clickhouse)} if target.type == "clickhouse" else {json.dumps(duckdb)} }}}}'
