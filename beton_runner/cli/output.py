"""Machine-readable output (``--format json`` and ``--format csv``): the rows alone on stdout.

JSON is one document (``json.loads`` reads it whole): a list of objects for row outputs;
timestamps in ISO 8601 (UTC, with ``Z``: the warehouse keeps naive UTC instants), NaN, NaT,
None and infinities as ``null``. CSV goes through the one CSV writer
(``csvfile.write_csv_stream``), with its formula neutralisation unless ``--raw-csv``. Both are
checked for secrets like every file the product writes (stdout is often redirected to one).
Anything else a command says in these formats goes to stderr.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import click
import numpy as np
import pandas as pd

from ..csvfile import write_csv_stream
from ..secrets import check_text

STDOUT = "<stdout>"


def json_value(value: object) -> object:
    """``value`` as a JSON-ready Python value (see the module doc)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating, Decimal)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime):  # pd.Timestamp too
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return json_value(pd.Timestamp(value))
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_value(v) for v in value]
    return str(value)


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as JSON-ready objects, in order."""
    return [{str(k): json_value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def emit_json(document: object) -> None:
    """``document`` as one JSON document on stdout (checked for secrets first)."""
    text = json.dumps(json_value(document), ensure_ascii=False, indent=2, allow_nan=False)
    check_text(text, Path(STDOUT))
    click.echo(text)


def emit_csv(frame: pd.DataFrame, *, raw: bool = False) -> None:
    """``frame`` as CSV on stdout, through the one CSV writer."""
    write_csv_stream(frame, click.get_binary_stream("stdout"), raw=raw, name=STDOUT)


def emit_rows(frame: pd.DataFrame, output_format: str, *, raw_csv: bool = False) -> None:
    """``--format json`` or ``csv``: the rows of ``frame`` on stdout."""
    if output_format == "json":
        emit_json(records(frame))
    elif output_format == "csv":
        emit_csv(frame, raw=raw_csv)
    else:  # a bug: the table format is printed by the command itself
        raise ValueError(f"not a machine-readable format: {output_format}")
