"""Reading punch lists out of the warehouse, filtering, sorting and summarising them."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from .errors import ConfigError
from .project import Project
from .rules import Rule
from .warehouse import read_built_table

_WHERE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|=|>|<|~)\s*(.*?)\s*$")


@dataclass
class Summary:
    findings: int
    score_min: float | None
    score_median: float | None
    score_max: float | None


def read_punch_list(project: Project, rule: Rule) -> pd.DataFrame:
    """A rule's whole punch list, best rank first."""
    frame = read_built_table(project, "inspections", rule.model_name)
    return frame.sort_values("rank", kind="stable").reset_index(drop=True)


def summarise(frame: pd.DataFrame) -> Summary:
    if frame.empty:
        return Summary(0, None, None, None)
    scores = frame["score"].astype(float)
    return Summary(len(frame), float(scores.min()), float(scores.median()), float(scores.max()))


def apply_where(frame: pd.DataFrame, expressions: list[str]) -> pd.DataFrame:
    """Keep rows where every ``COLUMN OP VALUE`` holds (OP: = != > >= < <= and ~ for 'contains')."""
    for expression in expressions:
        match = _WHERE.match(expression)
        if not match:
            raise ConfigError(
                f"--where '{expression}' is not COLUMN OP VALUE (OP: = != > >= < <= ~), e.g. --where 'score>=5'"
            )
        column, op, raw = match.groups()
        if column not in frame.columns:
            raise ConfigError(f"--where '{expression}': no column '{column}'; columns: {', '.join(frame.columns)}")
        raw = raw.strip().strip("'\"")
        series = frame[column]
        if op == "~":
            mask = series.astype("string").str.contains(raw, case=False, regex=False).fillna(False)
        elif pd.api.types.is_numeric_dtype(series):
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(
                    f"--where '{expression}': column '{column}' is numeric but '{raw}' is not a number"
                ) from None
            mask = _compare(series.astype(float), op, value)
        elif pd.api.types.is_datetime64_any_dtype(series):
            try:
                value = pd.Timestamp(raw)
            except ValueError:
                raise ConfigError(f"--where '{expression}': '{raw}' is not a date or time") from None
            mask = _compare(series, op, value)
        else:
            mask = _compare(series.astype("string"), op, raw)
        frame = frame[mask.fillna(False).astype(bool)]
    return frame


def _compare(series: pd.Series, op: str, value):
    return {
        "=": series == value,
        "!=": series != value,
        ">": series > value,
        ">=": series >= value,
        "<": series < value,
        "<=": series <= value,
    }[op]


def sort_frame(frame: pd.DataFrame, column: str | None, descending: bool | None) -> pd.DataFrame:
    if not column:
        return frame
    if column not in frame.columns:
        raise ConfigError(f"--sort {column}: no such column; columns: {', '.join(frame.columns)}")
    ascending = (
        not descending
        if descending is not None
        else column in ("rank", "days_since_last_event", "name", "email", "user_id", "account_id", "domain")
    )
    return frame.sort_values(column, ascending=ascending, kind="stable", na_position="last")
