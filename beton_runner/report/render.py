"""ReportData -> one self-contained HTML file: the page (Jinja2), its CSS and JavaScript, the
figures as JSON and plotly.js itself, all inlined, so the file opens offline and can be mailed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import pandas as pd
from plotly.offline import get_plotlyjs
from plotly.utils import PlotlyJSONEncoder

from .. import __version__
from . import charts
from .data import PunchList, ReportData, TableRead
from .plays import render_play
from .tables import Table, format_cell, to_table

ASSETS = Path(__file__).resolve().parent / "assets"

# Columns shown per table, in order (others the table has are left out).
TOP_EVENT_COLUMNS = [
    "event_rank",
    "event_name",
    "category",
    "is_standard",
    "events",
    "share_of_events",
    "users",
    "accounts",
    "active_days",
    "first_seen",
    "last_seen",
]
TOP_USER_COLUMNS = [
    "activity_rank",
    "user_id",
    "email",
    "name",
    "job_title",
    "account_id",
    "events",
    "share_of_events",
    "distinct_events",
    "active_days",
    "first_seen",
    "last_seen",
]
TOP_ACCOUNT_COLUMNS = [
    "usage_rank",
    "account_id",
    "name",
    "domain",
    "segment",
    "arr",
    "events",
    "share_of_account_events",
    "active_users",
    "distinct_events",
    "active_days",
    "last_seen",
]
HEALTH_FACTS = [  # (column, label, kind)
    ("events", "events", "int"),
    ("events_in_window", "events in the window", "int"),
    ("first_event_at", "first event", "datetime"),
    ("last_event_at", "last event", "datetime"),
    ("persons", "persons", "int"),
    ("mapped_distinct_ids", "distinct ids mapped to persons", "int"),
    ("accounts", "accounts", "int"),
    ("event_users", "users with events", "int"),
    ("share_linked_to_person", "events linked to a person", "share"),
    ("share_linked_to_account", "events linked to an account", "share"),
    ("unknown_event_names", "event names not in the library", "int"),
    ("events_after_as_of", "events after as_of", "int"),
    ("dropped_null_key_rows", "input rows dropped: null uuid, event, distinct id or timestamp", "int"),
    ("dropped_duplicate_rows", "input rows dropped: repeated uuid", "int"),
]


def _script_safe_json(value) -> str:
    """JSON that cannot end a <script> element or open a comment inside one."""
    text = json.dumps(value, cls=PlotlyJSONEncoder, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _script_safe_js(code: str) -> str:
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)


def _health_facts(health: pd.Series | None) -> list[dict]:
    if health is None:
        return []
    facts = []
    for column, label, kind in HEALTH_FACTS:
        if column in health.index:
            cell = format_cell(kind, health[column])
            facts.append({"key": column, "label": label, "text": cell.text or "n/a", "raw": cell.raw or ""})
    return facts


def _frame(read: TableRead | None) -> pd.DataFrame | None:
    return read.frame if read is not None else None


def _table(key: str, read: TableRead | None, columns: list[str] | None = None, **kwargs) -> Table | None:
    if read is None:
        return None
    table = to_table(
        key, read.frame, total_rows=read.total_rows, columns=columns, caption=f"{read.schema}.{read.table}", **kwargs
    )
    table.payload_json = jinja2.utils.markupsafe.Markup(_script_safe_json(table.rows_payload()))
    return table


def _stamp(value) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")


def _punch_list_view(punch_list: PunchList, plays_links: dict[str, str]) -> dict:
    rule = punch_list.rule
    frame = punch_list.frame
    link_columns = None
    if rule.level == "account" and plays_links and "account_id" in frame.columns:
        hrefs = {i: plays_links[str(a)] for i, a in enumerate(frame["account_id"]) if str(a) in plays_links}
        link_columns = {"sales play": hrefs}
    changes = punch_list.changes
    markers = None
    entity = "user_id" if rule.level == "user" else "account_id"
    if changes is not None and entity in frame.columns:  # findings that entered at this run
        markers = {"new": {i for i, e in enumerate(frame[entity].astype(str)) if e in changes.entered}}
    sparks = None
    if punch_list.activity is not None and entity in frame.columns:  # the window's daily matching events
        counts = punch_list.activity.counts
        sparks = {"activity": {i: counts[e] for i, e in enumerate(frame[entity].astype(str)) if e in counts}}
    columns = [c for c in frame.columns if rule.shows(c)]
    table = _table(
        f"pl-{rule.key}", punch_list.table, columns, link_columns=link_columns, markers=markers, sparks=sparks
    )
    try:
        rule_text = rule.path.read_text(encoding="utf-8")
    except OSError:
        rule_text = None
    summary = punch_list.summary
    return {
        "key": rule.key,
        "name": rule.name,
        "level": rule.level,
        "model": rule.model_name,
        "description": rule.document.get("description"),
        "window_days": rule.document.get("time_window_days"),
        "summary": summary,
        "figure_id": f"score-{rule.key}",
        "table": table,
        "sql": punch_list.sql,
        "sql_note": punch_list.sql_note,
        "rule_text": rule_text,
        "rule_file": rule.path.name,
        "built": punch_list.table is not None,
        "changes": (
            {
                "entered": changes.entered_count,
                "exited": changes.exited_count,
                "previous_as_of": _stamp(changes.previous_as_of),
            }
            if changes is not None
            else None
        ),
    }


def _trends_view(data: ReportData, add_figure) -> dict | None:
    """The Trends section: None when the history is not built (no section); with one run, only
    its as_of (a note says trends appear after the next run)."""
    if data.trends is None:
        return None
    frame = data.trends.frame
    if data.trend_runs < 2:
        return {"runs": data.trend_runs, "as_of": _stamp(frame["as_of"].max()) if len(frame) else None}
    names = {p.rule.key: p.rule.name for p in data.punch_lists}
    shown = frame.rename(columns={"as_of": "run_at"})
    columns = ["rule_name", "level", "run_at", "run_number", "findings", "entered", "exited", "stayed"]
    return {
        "runs": data.trend_runs,
        "as_of": _stamp(frame["as_of"].max()),
        "figure_id": add_figure("rule-trends", charts.rule_trends(frame, names)),
        "table": _table("trends", TableRead(data.trends.schema, data.trends.table, shown, len(shown)), columns),
    }


BACKTEST_COLUMNS = [
    "rule_name",
    "backtest_as_of",
    "eligible",
    "flagged",
    "flagged_converted",
    "precision",
    "not_flagged",
    "not_flagged_converted",
    "base_rate",
    "lift",
    "recall",
    "median_lead_days",
    "horizon_complete",
    "conversion_events",
    "within_days",
]


def _backtest_view(data: ReportData, add_figure) -> dict | None:
    """The Backtest section: None (no section) until `beton backtest` kept a result."""
    if data.backtests is None or data.backtests.frame.empty:
        return None
    frame = data.backtests.frame
    same = frame[["conversion_events", "within_days"]].drop_duplicates()
    return {
        "rules": int(frame["rule_key"].nunique()),
        # one conversion set and horizon for every rule, or None (each row says its own)
        "events": str(same.iloc[0, 0]).replace(",", " or ") if len(same) == 1 else None,
        "within_days": int(same.iloc[0, 1]) if len(same) == 1 else None,
        "figure_id": add_figure("backtest-lift", charts.backtest_lift(frame)),
        # as_of is hidden in tables (a punch list's is one value); here it is the row's point
        "table": _table(
            "backtest",
            TableRead(
                data.backtests.schema,
                data.backtests.table,
                frame.rename(columns={"as_of": "backtest_as_of"}),
                data.backtests.total_rows,
            ),
            BACKTEST_COLUMNS,
        ),
    }


def render(data: ReportData) -> str:
    """The report's HTML (the plays inside it: it links to no file)."""
    explore = data.explore
    health_read = explore.get("health")
    health = health_read.frame.iloc[0] if health_read is not None and len(health_read.frame) else None

    # a play is shown inside the page (#play-N); the accounts and punch lists link to it there
    play_ids = {path: f"play-{n}" for n, path in enumerate(data.plays.files, start=1)}
    plays_links = {account: f"#{play_ids[path]}" for account, path in data.plays.by_account.items()}
    figures: dict[str, dict] = {}

    def add_figure(figure_id: str, figure: dict | None) -> str | None:
        if figure is None:
            return None
        figures[figure_id] = figure
        return figure_id

    health_chart = add_figure("health-shares", charts.health_shares(health))
    daily = _frame(explore.get("daily"))
    activity_charts = {
        "events_per_day": add_figure("events-per-day", charts.events_per_day(daily, _frame(explore.get("volume")))),
        "active_per_day": add_figure("active-per-day", charts.active_per_day(daily)),
        "top_events": add_figure(
            "top-events-chart",
            charts.ranked_bars(_frame(explore.get("top_events")), "event_name", "events", color_column="is_standard"),
        ),
        "top_users": add_figure(
            "top-users-chart",
            charts.ranked_bars(_frame(explore.get("top_users")), "email", "events", fallback_label="user_id"),
        ),
        "top_accounts": add_figure(
            "top-accounts-chart",
            charts.ranked_bars(_frame(explore.get("top_accounts")), "name", "events", fallback_label="account_id"),
        ),
    }

    punch_lists = [_punch_list_view(p, plays_links) for p in data.punch_lists]
    for view, punch_list in zip(punch_lists, data.punch_lists):
        is_user = punch_list.rule.level == "user"
        view["figure_id"] = add_figure(
            view["figure_id"],
            charts.score_breakdown(
                punch_list.frame, "email" if is_user else "name", "user_id" if is_user else "account_id"
            ),
        )

    trends = _trends_view(data, add_figure)
    backtest = _backtest_view(data, add_figure)

    accounts_links = None
    if data.accounts is not None and plays_links and "account_id" in data.accounts.frame.columns:
        accounts_links = {
            "sales play": {
                i: plays_links[str(a)] for i, a in enumerate(data.accounts.frame["account_id"]) if str(a) in plays_links
            }
        }
    accounts_frame = data.accounts.frame if data.accounts is not None else pd.DataFrame()
    plays_list = []
    names = {}
    if data.accounts is not None and {"account_id", "name"}.issubset(accounts_frame.columns):
        names = dict(zip(accounts_frame["account_id"].astype(str), accounts_frame["name"]))
    by_file = {path: account for account, path in data.plays.by_account.items()}
    for path in data.plays.files:
        account = by_file.get(path)
        plays_list.append(
            {
                "id": play_ids[path],
                "file": path.name,
                "account_id": account,
                "account_name": names.get(account) if account else None,
                "html": jinja2.utils.markupsafe.Markup(render_play(data.plays.texts.get(path, ""))),
            }
        )

    window_days = int(health["window_days"]) if health is not None and "window_days" in health.index else None
    context = {
        "version": __version__,
        "project_dir": str(data.project.dir),
        "target": data.project.target,
        "as_of": data.as_of.strftime("%Y-%m-%d %H:%M:%S") if data.as_of is not None else None,
        "generated_at": data.generated_at.strftime("%Y-%m-%d %H:%M:%S"),
        "window_days": window_days,
        "window_start": (
            pd.Timestamp(health["window_start_date"]).strftime("%Y-%m-%d")
            if health is not None and "window_start_date" in health.index
            else None
        ),
        "notes": data.notes,
        "health_facts": _health_facts(health),
        "health_chart": health_chart,
        "unknown_events": _table("unknown-events", explore.get("unknown_events")),
        "activity_charts": activity_charts,
        "top_events": _table("top-events", explore.get("top_events"), TOP_EVENT_COLUMNS),
        "top_users": _table("top-users", explore.get("top_users"), TOP_USER_COLUMNS),
        "top_accounts": _table("top-accounts", explore.get("top_accounts"), TOP_ACCOUNT_COLUMNS),
        "accounts": _table("accounts", data.accounts, link_columns=accounts_links),
        "users": _table("users", data.users),
        "punch_lists": punch_lists,
        "trends": trends,
        "backtest": backtest,
        "plays": plays_list,
        "plays_folder": str(data.plays.folder),
        "max_rows": data.max_rows,
        # the chart's box keeps the figure's height when the window resizes (responsive charts fill their box)
        "chart_heights": {key: int(figure["layout"].get("height", 320)) for key, figure in figures.items()},
    }
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ASSETS)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    template = env.get_template("report.html.j2")
    return template.render(
        **context,
        css=jinja2.utils.markupsafe.Markup((ASSETS / "report.css").read_text(encoding="utf-8")),
        report_js=jinja2.utils.markupsafe.Markup(_script_safe_js((ASSETS / "report.js").read_text(encoding="utf-8"))),
        plotly_js=jinja2.utils.markupsafe.Markup(_script_safe_js(get_plotlyjs())),
        figures_json=jinja2.utils.markupsafe.Markup(_script_safe_json(figures)),
    )
