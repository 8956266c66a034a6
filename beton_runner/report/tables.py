"""DataFrames -> the report's tables: a column kind per column (how it is shown, sorted and
filtered), and per cell the text shown and the raw value sorting and filtering use."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd

HIDDEN = {"as_of", "computed_at", "properties"}
LABELS = {
    "event_count": "events",
    "distinct_events": "distinct events",
    "active_days": "active days",
    "days_since_last_event": "days since last event",
    "last_seen": "last seen",
    "first_seen": "first seen",
    "active_users": "active users",
    "account_events": "account events",
    "user_id": "user id",
    "account_id": "account id",
    "event_name": "event",
    "is_standard": "in library",
    "share_of_events": "share of events",
    "share_of_account_events": "share of events",
    "events_30d": "events 30d",
    "active_users_30d": "active users 30d",
    "active_days_30d": "active days 30d",
    "distinct_events_30d": "distinct events 30d",
    "rules_matched": "rules matched",
    "best_score": "best score",
    "account_findings": "findings",
    "owner_email": "owner",
    "job_title": "job title",
    "is_person": "person",
    "activity_rank": "rank",
    "usage_rank": "rank",
    "event_rank": "rank",
    "arr": "ARR",
    "new_rules": "new rules",
    "run_at": "run (as_of)",
    "backtest_as_of": "as_of",
    "run_number": "run",
    "rule_name": "rule",
}
NUMERIC_KINDS = {"int", "year", "float", "score", "share", "money"}


@dataclass
class Column:
    name: str
    label: str
    kind: str  # int year float score share money datetime date bool text link marker spark

    @property
    def sort_type(self) -> str:
        if self.kind in NUMERIC_KINDS or self.kind in ("bool", "spark"):
            return "num"
        return "date" if self.kind in ("date", "datetime") else "text"


@dataclass
class Cell:
    text: str
    raw: str | None = None  # data-v: what sorting and filtering compare (None: the text)
    href: str | None = None


@dataclass
class Table:
    key: str
    columns: list[Column]
    rows: list[list[Cell]]
    total_rows: int
    caption: str = ""
    payload_json: str = ""  # rows_payload() as script-safe JSON, set by the renderer

    @property
    def truncated(self) -> bool:
        return len(self.rows) < self.total_rows

    def rows_payload(self) -> list:
        """The rows as the page's script reads them: per cell the text, or [text, raw] when
        sorting and filtering use another value, or [text, raw, href] for a link."""
        out = []
        for row in self.rows:
            cells = []
            for cell in row:
                if cell.href:
                    cells.append([cell.text, cell.raw if cell.raw is not None else cell.text, cell.href])
                elif cell.raw is None or cell.raw == cell.text:
                    cells.append(cell.text)
                else:
                    cells.append([cell.text, cell.raw])
            out.append(cells)
        return out


def _is_null(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def column_kind(name: str, series: pd.Series) -> str:
    values = series.dropna()
    if name in ("score", "best_score"):
        return "score"
    if name.startswith("share_"):
        return "share"
    if name == "arr" or name.endswith("_arr"):
        return "money"
    if pd.api.types.is_bool_dtype(series) or (
        name.startswith("is_") and len(values) and set(values.unique()).issubset({0, 1})  # (True == 1)
    ):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(series):
        if name.endswith("_date") or (
            len(values) and (values.dt.normalize() == values).all() and "seen" not in name and not name.endswith("_at")
        ):
            return "date"
        return "datetime"
    if len(values) and all(isinstance(v, dt.datetime) for v in values.head(50)):
        return "datetime"
    if len(values) and all(isinstance(v, dt.date) for v in values.head(50)):
        return "date"
    if pd.api.types.is_integer_dtype(series):
        return "year" if name == "year" or name.endswith("_year") else "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    return "text"


def format_cell(kind: str, value) -> Cell:
    if _is_null(value):
        return Cell("", "")
    if kind == "int":
        number = int(value)
        return Cell(f"{number:,}", str(number))
    if kind == "year":
        return Cell(str(int(value)), str(int(value)))
    if kind in ("float", "money"):
        number = float(value)
        if not math.isfinite(number):
            return Cell(str(number), "")
        text = f"{number:,.0f}" if number == int(number) or kind == "money" else f"{number:,.2f}"
        return Cell(text, repr(number))
    if kind == "score":
        number = float(value)
        return Cell(f"{number:.2f}", repr(number))
    if kind == "share":
        number = float(value)
        return Cell(f"{number * 100:.1f}%", repr(number))
    if kind == "bool":
        truth = bool(value)
        return Cell("yes" if truth else "no", "1" if truth else "0")
    if kind == "datetime":
        stamp = pd.Timestamp(value)
        return Cell(stamp.strftime("%Y-%m-%d %H:%M"), stamp.strftime("%Y-%m-%d %H:%M:%S"))
    if kind == "date":
        text = pd.Timestamp(value).strftime("%Y-%m-%d")
        return Cell(text, text)
    return Cell(str(value))


def to_table(
    key: str,
    frame: pd.DataFrame,
    *,
    total_rows: int | None = None,
    caption: str = "",
    columns: list[str] | None = None,
    links: dict[str, dict[int, str]] | None = None,
    link_columns: dict[str, str] | None = None,
    markers: dict[str, set[int]] | None = None,
    sparks: dict[str, dict[int, list[int]]] | None = None,
) -> Table:
    """A report table from a frame. ``links``: column -> {row position -> href} turns cells into
    links; ``link_columns``: extra columns (label -> {row position: href}) are added as "open" links;
    ``markers``: columns put first (label -> row positions) whose cell shows the label in those
    rows and nothing in the others (e.g. "new"); ``sparks``: columns put after the markers (label ->
    {row position: counts}) whose cell is a sparkline of the counts (the text: the counts, space
    separated; sorted and filtered by their sum)."""
    names = [c for c in (columns or list(frame.columns)) if c in frame.columns and c not in HIDDEN]
    cols = [Column(name, LABELS.get(name, name.replace("_", " ")), column_kind(name, frame[name])) for name in names]
    markers = markers or {}
    sparks = sparks or {}
    cols = (
        [Column(label.replace(" ", "_"), label, "marker") for label in markers]
        + [Column(label.replace(" ", "_"), label, "spark") for label in sparks]
        + cols
    )
    lead = len(markers) + len(sparks)
    links = links or {}
    rows: list[list[Cell]] = []
    for position, record in enumerate(frame[names].itertuples(index=False, name=None)):
        cells = [Cell(label if position in marked else "") for label, marked in markers.items()]
        for counts in sparks.values():
            values = counts.get(position)
            cells.append(Cell(" ".join(str(int(v)) for v in values), str(int(sum(values)))) if values else Cell("", ""))
        cells += [format_cell(col.kind, value) for col, value in zip(cols[lead:], record)]
        for index, col in enumerate(cols):
            href = links.get(col.name, {}).get(position)
            if href:
                cells[index].href = href
        rows.append(cells)
    for label, hrefs in (link_columns or {}).items():
        cols.append(Column(label.replace(" ", "_"), label, "link"))
        for position, row in enumerate(rows):
            href = hrefs.get(position)
            row.append(Cell("open" if href else "", "1" if href else "0", href))
    return Table(key, cols, rows, len(frame) if total_rows is None else total_rows, caption)
