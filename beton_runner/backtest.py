"""`beton backtest`: replay one rule at past as_of dates and compare whom it flagged with who
converted afterwards (docs/backtest.md).

Cost: no dbt build per as_of. The rule's query (its punch list, the eligible population and the
conversions, macro ``beton.backtest_sql``) is compiled by dbt **once**, at a sentinel as_of far
from any data; every literal derived from that instant (the as_of itself, the window's first
day, the as_of date, the horizon's end) is then moved to each real as_of in Python, and the
SELECT runs through the one warehouse layer. The daily rollups already hold every day, so each
as_of costs one query, not a build. A literal the substitution does not recognise (a future
macro deriving something else from as_of) is an error, never a silently wrong backtest; the
tests compare the result with full builds at past as_of dates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pandas as pd

from .errors import BetonError, ConfigError, WarehouseError
from .project import Project
from .rules.compile import jinja_literal, require_generated, rule_sql
from .rules.normalise import Rule
from .warehouse import Column, EngineError, TableSpec, connect, require

# far from any real data (and inside ClickHouse's DateTime64 range; it is never executed)
SENTINEL = datetime(2101, 3, 4, 5, 6, 7, 80910)
# a literal within this many days of the sentinel is derived from it (windows and horizons are
# at most 3650 days)
_SPAN_DAYS = 3700
_LITERAL = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?")
_DURATION = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)
MAX_AS_OFS = 1000

LAYER = "backtest"
TABLE = "backtests"
COLUMNS = (
    Column("rule_key", "text", nullable=False),
    Column("rule_name", "text"),
    Column("level", "text"),
    Column("as_of", "timestamp", nullable=False),
    Column("conversion_events", "text"),
    Column("within_days", "int"),
    Column("eligible", "int"),
    Column("flagged", "int"),
    Column("flagged_converted", "int"),
    Column("not_flagged", "int"),
    Column("not_flagged_converted", "int"),
    Column("precision", "float"),
    Column("base_rate", "float"),
    Column("lift", "float"),
    Column("recall", "float"),
    Column("median_lead_days", "float"),
    Column("horizon_complete", "bool"),
    Column("computed_at", "timestamp"),
)
SPEC = TableSpec(TABLE, COLUMNS, key=("rule_key", "as_of"))


def parse_days(text: str, option: str) -> int:
    """``7d``, ``2w`` or ``7`` as whole days (at least 1, at most 3650)."""
    m = _DURATION.match(str(text)) or re.match(r"^\s*(\d+)\s*()$", str(text))
    if not m:
        raise ConfigError(f"{option} {text!r} is not a number of days; use e.g. {option} 7d (days) or 2w (weeks)")
    days = int(m.group(1)) * (7 if m.group(2).lower() == "w" else 1)
    if not 1 <= days <= 3650:
        raise ConfigError(f"{option} {text!r} is {days} day(s); use 1 to 3650 days")
    return days


def as_of_dates(start: datetime, end: datetime, every_days: int) -> list[datetime]:
    """``start``, ``start + every``, … up to ``end`` (inclusive)."""
    if end < start:
        raise ConfigError(f"--to ({end:%Y-%m-%d %H:%M:%S}) is before --from ({start:%Y-%m-%d %H:%M:%S}); swap them")
    count = (end - start) // timedelta(days=every_days) + 1
    if count > MAX_AS_OFS:
        raise ConfigError(f"--from/--to/--every give {count} as_of dates; at most {MAX_AS_OFS}: use a larger --every")
    return [start + timedelta(days=every_days * n) for n in range(count)]


def _instant_text(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M:%S.%f" if instant.microsecond else "%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Template:
    """The backtest query with its as_of-derived literals as slots: ``parts`` alternate text and
    slots; a slot is ``("date", days)`` (the as_of date + days) or ``("instant", delta)`` (the
    as_of instant + delta)."""

    parts: tuple

    def at(self, as_of: datetime) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part[0] == "date":
                out.append((as_of.date() + timedelta(days=part[1])).isoformat())
            else:
                out.append(_instant_text(as_of + part[1]))
        return "".join(out)


def template_of(sql: str, sentinel: datetime = SENTINEL) -> Template:
    """``sql`` compiled at ``sentinel``, with every literal derived from it as a slot. A date, or
    a midnight instant, is the sentinel's date moved by whole days; any other instant is the
    sentinel moved by a time delta."""
    parts: list = []
    last = 0
    for m in _LITERAL.finditer(sql):
        try:
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
        if abs((day - sentinel.date()).days) > _SPAN_DAYS:
            continue
        parts.append(sql[last : m.start()])
        if m.group(4) is None:
            parts.append(("date", (day - sentinel.date()).days))
        else:
            micro = int(((m.group(7) or "") + "000000")[:6])
            found = datetime(day.year, day.month, day.day, int(m.group(4)), int(m.group(5)), int(m.group(6)), micro)
            if found.time() == datetime.min.time():
                parts.append(("date", (day - sentinel.date()).days))
                parts.append(" 00:00:00")
            else:
                parts.append(("instant", found - sentinel))
        last = m.end()
    parts.append(sql[last:])
    left = "".join(p for p in parts if isinstance(p, str))
    if str(sentinel.year) in left:
        raise BetonError(
            "the backtest query uses as_of in a form `beton backtest` cannot move to other dates "
            f"(the year {sentinel.year} of its sentinel as_of is left in the SQL); this is a bug: "
            "please report it with the rule file"
        )
    return Template(tuple(parts))


_SPLIT = "-- beton backtest: the query of rule "


def query_body(rules: Sequence[Rule], events: Sequence[str], within_days: int) -> str:
    """The Jinja `dbt compile --inline` turns into the backtest queries of ``rules``, one after
    the other, each after a line naming its rule (one dbt invocation for every rule)."""
    parts = []
    for rule in rules:
        parts.append(
            f"{{% set rule = {jinja_literal(rule.normalised, expand=False)} %}}\n"
            f"{_SPLIT}{rule.key}\n"
            f"{{{{ beton.backtest_sql(rule, {jinja_literal(list(events), expand=False)}, {int(within_days)}) }}}}\n"
        )
    return "".join(parts)


def compile_templates(
    project: Project, rules: Sequence[Rule], events: Sequence[str], within_days: int, vars: dict | None = None
) -> dict[str, Template]:
    """Each rule's backtest query as a :class:`Template`, from one `dbt compile` (``vars``: dbt
    vars, as `beton run --vars` takes them)."""
    require_generated(project, rules)
    dbt_vars = {**(vars or {}), "beton_as_of": _instant_text(SENTINEL)}
    sql = rule_sql(project, rules[0], vars=dbt_vars, body=query_body(rules, events, within_days))
    pieces = sql.split(_SPLIT)[1:]
    out = {}
    for piece in pieces:
        key, _, text = piece.partition("\n")
        out[key.strip()] = template_of(text)
    missing = [r.key for r in rules if r.key not in out]
    if missing:
        raise BetonError(f"dbt compiled no backtest query for rule(s) {', '.join(missing)}; run `beton rules compile`")
    return out


@dataclass
class Backtest:
    rule: Rule
    events: list[str]
    within_days: int
    every_days: int
    rows: pd.DataFrame  # one row per as_of (the columns of SPEC)
    data_end: datetime | None  # the newest event the warehouse holds
    leads: list[float] = field(default_factory=list)  # every flagged converter's lead time, in days
    notes: list[str] = field(default_factory=list)
    # one row per as_of and eligible entity: as_of, entity_id, flagged, converted_at
    entities: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def total(self) -> dict:
        """Every as_of pooled: entity-snapshots (an entity flagged at three as_of dates counts three times)."""
        return summarise(self.rows[_COUNTS].sum().to_dict(), self.leads)


_COUNTS = ["eligible", "flagged", "flagged_converted", "not_flagged", "not_flagged_converted"]


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def summarise(counts: dict, leads: list[float] | None) -> dict:
    """Precision, base rate, lift, recall (and the median lead time of ``leads``) from counts."""
    c = {k: int(counts[k]) for k in _COUNTS}
    precision = _ratio(c["flagged_converted"], c["flagged"])
    base_rate = _ratio(c["not_flagged_converted"], c["not_flagged"])
    lift = precision / base_rate if precision is not None and base_rate else None
    converted = c["flagged_converted"] + c["not_flagged_converted"]
    out = {
        **c,
        "precision": precision,
        "base_rate": base_rate,
        "lift": lift,
        "recall": _ratio(c["flagged_converted"], converted),
    }
    if leads is not None:
        out["median_lead_days"] = float(pd.Series(leads).median()) if leads else None
    return out


def lift_note(row: dict) -> str | None:
    """Why a lift is n/a, in words (None when there is a lift)."""
    if row.get("lift") is not None and not pd.isna(row.get("lift")):
        return None
    if not row["flagged"]:
        return "n/a: none flagged"
    if not row["not_flagged"]:
        return "n/a: everyone eligible was flagged"
    if not row["not_flagged_converted"]:
        return f"n/a: 0 of {row['not_flagged']} not flagged converted"
    return "n/a"


def _utc_naive(value) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def run_backtests(
    project: Project,
    rules: Sequence[Rule],
    as_ofs: Sequence[datetime],
    events: Sequence[str],
    within_days: int,
    every_days: int,
    *,
    vars: dict | None = None,
) -> list[Backtest]:
    """Each rule at each as_of: counts, precision, base rate, lift, recall, median lead time."""
    hint = "run `beton run` first (a backtest reads the tables it builds)"
    with connect(project) as conn:  # before dbt runs: a missing warehouse is an error, not a new file
        require(conn, project, "intermediate", "int_events", hint)
        for rule in rules:
            require(conn, project, "inspections", rule.model_name, hint)
    templates = compile_templates(project, rules, events, within_days, vars)
    computed_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    results = []
    with connect(project) as conn:
        schema, name = project.relation("intermediate", "int_events")
        newest = conn.rows(f"select max(event_at) from {conn.table(schema, name)}")
        data_end = _utc_naive(newest[0][0]) if newest else None
        if data_end is not None and data_end.year < 1971:  # ClickHouse: max() over no rows
            data_end = None
        # a conversion event the warehouse has never seen is most likely a typo
        table = conn.table(schema, name)
        unseen = [
            e for e in events if not conn.rows(f"select count(*) from {table} where event_name = :e", {"e": e})[0][0]
        ]
        for rule in rules:
            results.append(
                _backtest(
                    conn, rule, templates[rule.key], as_ofs, events, within_days, every_days, data_end, computed_at
                )
            )
    for result in results if unseen else []:
        result.notes.insert(0, f"no event named {', '.join(map(repr, unseen))} in the warehouse: check --converted")
    return results


def _backtest(conn, rule, template, as_ofs, events, within_days, every_days, data_end, computed_at) -> Backtest:
    rows = []
    details = []
    all_leads: list[float] = []
    for as_of in as_ofs:
        try:
            frame = conn.query(template.at(as_of))
        except EngineError as exc:
            raise WarehouseError(
                f"the backtest query of rule {rule.key} at as_of {_instant_text(as_of)} failed on "
                f"{conn.describe()}: {exc.detail}; run `beton run` so the rule's tables are current"
            ) from None
        flagged = frame["flagged"].astype(int) == 1
        converted_at = [_utc_naive(v) for v in frame["converted_at"]]
        converted = pd.Series([v is not None for v in converted_at], index=frame.index, dtype=bool)
        leads = [(c - as_of).total_seconds() / 86400 for c, f in zip(converted_at, flagged) if f and c is not None]
        all_leads += leads
        details.append(
            pd.DataFrame(
                {
                    "as_of": as_of,
                    "entity_id": frame["entity_id"].astype(str),
                    "flagged": flagged,
                    "converted_at": converted_at,
                }
            )
        )
        counts = {
            "eligible": len(frame),
            "flagged": int(flagged.sum()),
            "flagged_converted": int((flagged & converted).sum()),
            "not_flagged": int((~flagged).sum()),
            "not_flagged_converted": int((~flagged & converted).sum()),
        }
        rows.append(
            {
                "rule_key": rule.key,
                "rule_name": rule.name,
                "level": rule.level,
                "as_of": as_of,
                "conversion_events": ",".join(events),
                "within_days": within_days,
                **summarise(counts, leads),
                "horizon_complete": data_end is not None and as_of + timedelta(days=within_days) <= data_end,
                "computed_at": computed_at,
            }
        )
    frame = pd.DataFrame(rows, columns=SPEC.column_names)
    result = Backtest(rule, list(events), within_days, every_days, frame, data_end, all_leads)
    result.entities = pd.concat(details, ignore_index=True)
    incomplete = int((~frame["horizon_complete"].astype(bool)).sum())
    if incomplete:
        end = f"{data_end:%Y-%m-%d %H:%M:%S}" if data_end else "none"
        result.notes.append(
            f"{incomplete} as_of date(s) have a horizon ({within_days} days) that ends after the newest event "
            f"in the warehouse ({end} UTC): conversions there may still come (horizon_complete = false; marked * in the table)"
        )
    return result


def store(project: Project, results: Sequence[Backtest]) -> str:
    """Keep backtests in the warehouse (``<schema>_backtest.backtests``): the latest backtest
    of each rule, one row per as_of, replacing that rule's earlier one. Returns the table's name."""
    schema, name = project.relation(LAYER, TABLE)
    keys = {r.rule.key for r in results}
    with connect(project, write=True) as conn:
        frames = [r.rows[SPEC.column_names] for r in results]
        if conn.exists(schema, name):
            earlier = conn.read_table(schema, name)
            frames.insert(0, earlier[~earlier["rule_key"].isin(keys)][SPEC.column_names])
        combined = pd.concat([f for f in frames if len(f)], ignore_index=True)
        combined = combined.astype(object).where(combined.notna(), None)
        conn.replace_tables(schema, {SPEC: combined})
    return f"{schema}.{name}"


def read_backtests(project: Project) -> pd.DataFrame | None:
    """Every rule's latest backtest (None when none was stored)."""
    schema, name = project.relation(LAYER, TABLE)
    with connect(project) as conn:
        if not conn.exists(schema, name):
            return None
        return conn.read_table(schema, name, order_by=["rule_key", "as_of"])
