"""The punch-list columns, defined once.

Everything that names a punch-list or findings column reads this table: the generated
properties file (descriptions and tests), the macros' final select (through the generated
rule model), the findings model, the CLI's and the report's display, and docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("user", "account")


@dataclass(frozen=True)
class Column:
    """One column of a rule's punch list (``insp_<rule>``).

    ``levels``: the rule levels whose punch list has it. ``kind``: how to show it (``id``,
    ``text``, ``number``, ``count``, ``timestamp``). ``header``: the CLI/report heading.
    ``shown``: the levels whose CLI table shows it. ``tests``: the dbt data tests on it.
    """

    name: str
    description: str
    levels: tuple[str, ...]
    kind: str
    header: str
    shown: tuple[str, ...] = LEVELS
    tests: tuple[str, ...] = ()


_SCORE = (
    "event_count_weight·ln(1+event_count) + active_days_weight·active_days "
    "+ recency_weight·days_since_last_event."
)

# In table order. A column with both levels keeps its place in each level's table.
PUNCH_LIST_COLUMNS: tuple[Column, ...] = (
    Column("rank", "Position in the punch list: 1 is the highest score; ties broken by entity id.",
           LEVELS, "count", "rank", tests=("unique", "not_null")),
    Column("score", _SCORE, LEVELS, "number", "score", tests=("not_null",)),
    Column("user_id", "The person id (or, for a distinct id with no person, the distinct id).",
           ("user",), "id", "user id", tests=("unique", "not_null")),
    Column("email", "The person's email property.", ("user",), "text", "email"),
    Column("account_id", "The account id.", ("account",), "id", "account id", tests=("unique", "not_null")),
    Column("name", "The person's name property, or the account's name.", LEVELS, "text", "name"),
    Column("domain", "The account's domain.", ("account",), "text", "domain"),
    Column("segment", "The account's segment.", ("account",), "text", "segment"),
    Column("arr", "The account's annual recurring revenue.", ("account",), "number", "arr"),
    Column("event_count", "Matching events in the window.", LEVELS, "count", "events", tests=("not_null",)),
    Column("active_users", "Distinct users among the matching events.", ("account",), "count", "users"),
    Column("account_events", "All of the account's events in the window, matching or not.", ("account",),
           "count", "acct events", shown=()),
    Column("distinct_events", "Distinct matching event names.", LEVELS, "count", "distinct", shown=("user",)),
    Column("active_days", "Distinct UTC dates with a matching event.", LEVELS, "count", "active days",
           tests=("not_null",)),
    Column("days_since_last_event", "UTC calendar days from the last matching event to as_of.", LEVELS,
           "count", "days since", tests=("not_null",)),
    Column("last_seen", "Timestamp (UTC) of the last matching event.", LEVELS, "timestamp", "last seen",
           tests=("not_null",)),
    Column("as_of", "The instant (UTC) the rule was evaluated at.", LEVELS, "timestamp", "as of", shown=(),
           tests=("not_null",)),
)


def columns_for(level: str) -> list[Column]:
    """The punch-list columns of a rule at ``level``, in table order."""
    if level not in LEVELS:
        raise ValueError(f"unknown rule level {level!r}; expected one of {', '.join(LEVELS)}")
    return [c for c in PUNCH_LIST_COLUMNS if level in c.levels]


def column(name: str) -> Column | None:
    """The punch-list column called ``name``, if there is one."""
    return next((c for c in PUNCH_LIST_COLUMNS if c.name == name), None)


def shown_for(level: str) -> list[Column]:
    """The columns the CLI shows by default for a punch list at ``level``."""
    return [c for c in columns_for(level) if level in c.shown]
