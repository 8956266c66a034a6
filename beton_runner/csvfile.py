"""The one CSV writer: every CSV the product writes (punch lists, exports) is written here.

The files open correctly in spreadsheets and read back unchanged with pandas or the csv module:

- UTF-8 **with a byte-order mark** (Excel otherwise reads UTF-8 as the local code page and
  mangles names like "Ramírez"); ``pd.read_csv(path, encoding="utf-8-sig")`` strips it;
- RFC 4180 quoting (a value with a comma, a quote or a line break is quoted, quotes doubled)
  and CRLF record ends;
- timestamps as ``YYYY-MM-DD HH:MM:SS`` (with fractions of a second only when there are some);
- empty cells for nulls, and whole numbers without a trailing ``.0`` (a nullable integer column,
  such as ARR with a missing value, reaches pandas as floats: ``84000``, not ``84000.0``);
  other floats in their shortest exact form (``repr``), so scores round-trip bit for bit;
- **formula injection neutralised** (default): a *text* cell (a ``str`` value, in a column of
  text) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
  ``'``, so a spreadsheet shows it instead of running it as a formula (``=HYPERLINK(...)`` in a
  CRM field would otherwise run on the rep's machine). Left as they are: numbers of numeric
  columns (``-0.5`` is data: they are never text cells), timestamps, booleans, and a text cell
  that is a plain number in full (``-0.5``, ``+44``, ``-1e3``), which a spreadsheet reads as a
  number, not a formula. ``raw=True`` (``--raw-csv`` on the CLI) writes every value as it is,
  for a program that reads the file rather than a person;
- checked for secrets before writing (:mod:`beton_runner.secrets`): a CSV that would hold the
  value of a secret environment variable is not written;
- written to a temporary file and renamed, so a failed write never leaves half a file.

``write_csv_stream`` writes the same text to an open binary stream (``--format csv`` on
stdout, for a pipe or a program): the same quoting, neutralisation (unless ``raw``) and secret
check, UTF-8 without the byte-order mark (a program reading a pipe does not expect one).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from .errors import OutputError
from .secrets import check_text

ENCODING = "utf-8-sig"
# What a spreadsheet treats as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A text that is a number in full: a spreadsheet reads it as that number, never as a formula.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: object) -> object:
    """``'`` + the text when a spreadsheet would run it as a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _float_text(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    number = float(value)  # type: ignore[arg-type]
    if math.isfinite(number) and number == int(number) and abs(number) < 2**53:
        return str(int(number))
    return repr(number)


def _timestamp_text(series: pd.Series) -> pd.Series:
    fractional = series.dropna().dt.microsecond.ne(0).any() if series.notna().any() else False
    pattern = "%Y-%m-%d %H:%M:%S.%f" if fractional else "%Y-%m-%d %H:%M:%S"
    return series.dt.strftime(pattern).fillna("")


def _prepared(frame: pd.DataFrame, raw: bool = False) -> pd.DataFrame:
    out = frame.copy()
    for name in out.columns:
        series = out[name]
        if not raw and (series.dtype == object or isinstance(series.dtype, pd.StringDtype)):
            out[name] = series.map(neutralise, na_action="ignore")
        elif pd.api.types.is_float_dtype(series):
            out[name] = series.map(_float_text).astype(object)
        elif pd.api.types.is_datetime64_any_dtype(series):
            if getattr(series.dt, "tz", None) is not None:
                series = series.dt.tz_convert("UTC").dt.tz_localize(None)
            out[name] = _timestamp_text(series)
    return out


def csv_text(frame: pd.DataFrame, *, raw: bool = False) -> str:
    """The CSV text of ``frame`` (without the byte-order mark), as ``write_csv`` writes it."""
    return _prepared(frame, raw).to_csv(None, index=False, lineterminator="\r\n", na_rep="")


def write_csv(frame: pd.DataFrame, path: Path, *, raw: bool = False) -> Path:
    """Write ``frame`` as a CSV file at ``path`` (see the module doc); returns the path.
    ``raw=True`` writes text cells as they are (no formula neutralisation).

    Raises ``OutputError`` naming the file when it cannot be written, and
    ``SecretInOutputError`` (nothing written) when it would hold a secret's value."""
    path = Path(path)
    text = csv_text(frame, raw=raw)
    check_text(text, path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(text.encode(ENCODING))
        tmp.replace(path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(path, exc)}; choose another path") from None
    finally:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
    return path


def write_csv_stream(frame: pd.DataFrame, stream: BinaryIO, *, raw: bool = False, name: str = "<stdout>") -> None:
    """Write ``frame`` as CSV text (see the module doc) to ``stream``, UTF-8 without a byte-order
    mark. ``name`` says where it goes in a ``SecretInOutputError`` (nothing written then)."""
    text = csv_text(frame, raw=raw)
    check_text(text, Path(name))
    stream.write(text.encode("utf-8"))
    stream.flush()


def _reason(path: Path, exc: OSError) -> str:
    for parent in path.parents:
        if parent.exists():
            return f"{parent} is a file, not a folder" if not parent.is_dir() else (exc.strerror or str(exc))
    return exc.strerror or str(exc)
