"""`beton report`: one self-contained HTML file (works offline, no CDN) that leads with who to
call: every punch list with its summary, score distribution, findings (a sparkline of each
finding's daily matching events) and SQL, the sales plays rendered inside, the trends, then the
data health, the activity charts and top lists, and a data explorer over accounts and users.

``build_report(project, out_path)`` reads the warehouse (``data.collect``), renders
(``render.render``) and writes the file atomically, unless it would hold the value of a secret
environment variable (:mod:`beton_runner.secrets`: then nothing is written)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..project import Project
from ..secrets import check_text
from .data import DEFAULT_MAX_ROWS, ReportData, collect
from .render import render


@dataclass
class ReportResult:
    path: Path
    size_bytes: int
    data: ReportData


def build_report(
    project: Project,
    out_path: Path,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    plays_dir: Path | None = None,
    compile_missing_sql: bool = True,
) -> ReportResult:
    out_path = Path(out_path).expanduser().resolve()
    if out_path.exists() and out_path.is_dir():
        raise ConfigError(f"--out {out_path} is a folder; give a file name, e.g. {out_path / 'report.html'}")
    data = collect(project, max_rows=max_rows, plays_dir=plays_dir, compile_missing_sql=compile_missing_sql)
    html = render(data)
    check_text(html, out_path)  # a report that would show a secret's value is not written
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(out_path.name + ".tmp")
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(out_path)
    except OSError as exc:
        raise ConfigError(f"cannot write the report to {out_path}: {exc.strerror}; pass another --out") from None
    return ReportResult(out_path, out_path.stat().st_size, data)


__all__ = ["DEFAULT_MAX_ROWS", "ReportResult", "build_report"]
