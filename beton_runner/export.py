"""`beton export`: everything a rep or a BI tool wants, as files in one folder.

::

    <out>/accounts_enriched.csv      beton_marts.dim_accounts_enriched, by account_id
    <out>/users_enriched.csv         beton_marts.dim_users_enriched, by user_id
    <out>/punch_lists/<rule>.csv     one per rule, by rank
    <out>/plays/index.md             the plays, one Markdown file per account (default: the
    <out>/plays/<domain>.md          accounts on a punch list; --all: every account)

CSV files are written by the one CSV writer (:mod:`beton_runner.csvfile`: UTF-8 with a BOM
for spreadsheets, RFC 4180 quoting, CRLF, empty cells for nulls). Values are written as they
are: a cell that starts with ``=`` is not rewritten to defuse spreadsheet formulas (that would
change the data); open untrusted CRM data with care. The command is ``beton_runner.cli.export``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from typing import Callable

from .csvfile import write_csv
from .enrich.store import Store
from .errors import BetonError
from .project import Project

MARTS = {"accounts_enriched.csv": ("dim_accounts_enriched", "account_id"),
         "users_enriched.csv": ("dim_users_enriched", "user_id")}
# Environment variables whose values must never appear in an export.
SECRET_VARIABLES = ("BETON_LLM_API_KEY", "CLICKHOUSE_PASSWORD", "POSTHOG_PERSONAL_API_KEY", "POSTHOG_API_KEY")
SECRET_PREFIXES = ("DBT_ENV_SECRET_",)


class ExportError(BetonError):
    """The export could not be written (or would have contained a secret)."""


@dataclass
class ExportSummary:
    out_dir: Path
    accounts: int = 0
    users: int = 0
    punch_lists: dict[str, int] = field(default_factory=dict)
    plays: list = field(default_factory=list)  # PlayDocument
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a user should know (e.g. a punch list not built yet)


def _secret_values() -> list[str]:
    values = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    values += [v for k, v in os.environ.items() if k.startswith(SECRET_PREFIXES)]
    return [v for v in values if v and len(v) >= 6]


def _assert_no_secrets(paths: list[Path]) -> None:
    secrets = _secret_values()
    if not secrets:
        return
    for path in paths:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        if any(secret in text for secret in secrets):
            for p in paths:
                p.unlink(missing_ok=True)
            raise ExportError(f"{path.name} would contain the value of a secret environment variable; "
                              "nothing was exported. Check where that value entered the warehouse.")


def _rule_keys(project: Project) -> list[str]:
    from .rules import load_rules

    return [rule.key for rule in load_rules(project.rules_dir)]


def export_all(project: Project, out_dir: Path, *, engine: str = "deterministic", all_accounts: bool = False,
               with_plays: bool = True, warn_fn: Callable[[str], None] | None = None) -> ExportSummary:
    """Write every export file into ``out_dir`` (see the module doc). ``warn_fn`` hears what a
    user should know as it happens (it is also collected in ``summary.notes``)."""
    from .plays.engine import generate_plays, write_play_files

    summary = ExportSummary(out_dir)

    def warn(message: str) -> None:
        summary.notes.append(message)
        if warn_fn is not None:
            warn_fn(message)

    with Store(project) as store:
        for file_name, (table, key) in MARTS.items():
            store.require("marts", table, "run `beton run` (or `beton demo`) to build the enriched marts")
            frame = store.read("marts", table, order_by=key)
            summary.files.append(write_csv(frame, out_dir / file_name))
            if key == "account_id":
                summary.accounts = len(frame)
            else:
                summary.users = len(frame)
        for rule_key in _rule_keys(project):
            model = f"insp_{rule_key}"
            if not store.exists("inspections", model):
                warn(f"punch list {model} is not built yet; run `beton run` to include it")
                continue
            frame = store.read("inspections", model, order_by="rank")
            summary.punch_lists[rule_key] = len(frame)
            summary.files.append(write_csv(frame, out_dir / "punch_lists" / f"{rule_key}.csv"))
    if with_plays:
        summary.plays = generate_plays(project, all_accounts=all_accounts, engine=engine, warn=warn)
        summary.files += write_play_files(summary.plays, out_dir / "plays")
    _assert_no_secrets(summary.files)
    return summary
