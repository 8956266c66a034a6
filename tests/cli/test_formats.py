"""Machine-readable output (issue #16 part 3): `--format json|csv` on punch-list, rules list,
rules check, changes and plays; `rules check --format github`; the pre-commit hook; plain
progress lines when stderr is not a terminal.

Every command runs as a user runs it (a real process whose stdout is a pipe); expected rows come
from the warehouse tables read with duckdb and the rule files read with yaml, not from beton."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from beton_runner.cli.output import json_value
from beton_runner.cli.progress import PlainReporter, PlainTicker
from beton_runner.cli.rules import escape_data, escape_property
from conftest import MOCK_AS_OF, REPO, copy_project, read_table, rule_documents

BIN = Path(sys.executable).parent


def beton(*args: str, project: Path = REPO, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "beton_runner.cli", "--project-dir", str(project), *args],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=300,
        cwd=cwd,
    )


def ok_json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # the whole of stdout is the one document


def csv_rows(result: subprocess.CompletedProcess) -> list[dict]:
    assert result.returncode == 0, result.stderr
    assert not result.stdout.startswith("\ufeff")  # a pipe gets no byte-order mark
    return list(csv.DictReader(io.StringIO(result.stdout, newline="")))


def instant(text: str | None) -> pd.Timestamp | None:
    """An ISO 8601 instant of the JSON output (UTC, with Z) as the naive UTC the warehouse keeps."""
    if text is None:
        return None
    assert text.endswith("Z"), text
    return pd.Timestamp(datetime.fromisoformat(text[:-1]))


@pytest.fixture(scope="module")
def db(mock_two_runs, tmp_path_factory) -> Path:
    """A copy of the two-run DuckDB file (the commands only read, but a copy costs nothing)."""
    path = tmp_path_factory.mktemp("formats") / "two_runs.duckdb"
    shutil.copy(mock_two_runs, path)
    return path


# --- punch-list ------------------------------------------------------------------------------


def test_punch_list_json_csv_and_table_carry_the_warehouse_rows(db):
    expected = read_table(db, "beton_inspections", "insp_pql_power_users").sort_values("rank", kind="stable")
    assert len(expected) >= 2 and set(expected["as_of"]) == {pd.Timestamp(MOCK_AS_OF)}

    rows = ok_json(beton("punch-list", "pql_power_users", "--duckdb", str(db), "--format", "json"))
    assert [r["user_id"] for r in rows] == expected["user_id"].tolist()
    assert set(rows[0]) == set(expected.columns)  # every column of the table, nothing else
    for row, (_, want) in zip(rows, expected.iterrows()):
        assert row["score"] == pytest.approx(want["score"], rel=1e-12)
        assert row["rank"] == want["rank"] and row["event_count"] == want["event_count"]
        assert instant(row["last_seen"]) == want["last_seen"] and instant(row["as_of"]) == want["as_of"]
        assert row["name"] == (None if pd.isna(want["name"]) else want["name"])

    table = beton("punch-list", "pql_power_users", "--duckdb", str(db))
    assert table.returncode == 0, table.stderr
    positions = [table.stdout.index(user) for user in expected["user_id"]]
    assert positions == sorted(positions)  # the table shows the same rows in the same order

    filtered = expected[expected["active_days"] >= 20].sort_values("event_count", kind="stable").head(2)
    got = csv_rows(
        beton(
            "punch-list",
            "pql_power_users",
            "--duckdb",
            str(db),
            "--where",
            "active_days>=20",
            "--sort",
            "event_count",
            "--asc",
            "--limit",
            "2",
            "--format",
            "csv",
        )
    )
    assert [r["user_id"] for r in got] == filtered["user_id"].tolist()
    assert [float(r["score"]) for r in got] == filtered["score"].tolist()  # shortest exact form
    assert [r["last_seen"] for r in got] == filtered["last_seen"].dt.strftime("%Y-%m-%d %H:%M:%S").tolist()


def test_a_long_punch_list_shows_a_screenful_as_a_table_and_every_row_as_csv(db, tmp_path):
    """A table lays out the top TABLE_ROWS rows and says how to see the rest; csv and --csv keep
    every row (a punch list of thousands took rich seconds to print)."""
    from beton_runner.cli.punch_list import TABLE_ROWS

    path = tmp_path / "long.duckdb"
    shutil.copy(db, path)
    con = duckdb.connect(str(path))
    base = con.execute("select count(*) from beton_inspections.insp_pql_power_users").fetchone()[0]
    con.execute(
        "insert into beton_inspections.insp_pql_power_users select * exclude (n) replace "
        "(rank + 1000 * copy.n as rank, user_id || '-copy-' || copy.n as user_id, score - copy.n as score) "
        "from beton_inspections.insp_pql_power_users, range(1, 40) as copy(n)"
    )
    con.close()
    total = base * 40
    assert total > TABLE_ROWS
    expected = read_table(path, "beton_inspections", "insp_pql_power_users").sort_values("rank")["user_id"]

    table = beton("punch-list", "pql_power_users", "--duckdb", str(path))
    assert table.returncode == 0, table.stderr
    shown = [user for user in expected if re.search(rf"\b{re.escape(user)}\b", table.stdout)]
    assert shown == expected.head(TABLE_ROWS).tolist()
    assert f"findings: {total}" in table.stdout and f"(showing {TABLE_ROWS})" in table.stdout
    assert f"the top {TABLE_ROWS} of {total:,}: --limit N for more" in table.stdout

    everything = csv_rows(beton("punch-list", "pql_power_users", "--duckdb", str(path), "--format", "csv"))
    assert [r["user_id"] for r in everything] == expected.tolist()
    more = beton("punch-list", "pql_power_users", "--duckdb", str(path), "--limit", str(TABLE_ROWS + 5))
    assert "--limit N for more" not in more.stdout and f"findings: {TABLE_ROWS + 5} " in more.stdout


def test_an_error_in_json_mode_is_one_error_line_on_stderr_and_nothing_on_stdout(db):
    result = beton("punch-list", "no_such_rule", "--duckdb", str(db), "--format", "json")
    assert result.returncode == 1 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: no rule called 'no_such_rule'"), result.stderr


# --- changes ---------------------------------------------------------------------------------


def test_changes_json_and_csv_are_insp_finding_changes(db):
    table = read_table(db, "beton_inspections", "insp_finding_changes")
    latest = table[(table["as_of"] == table["as_of"].max()) & table["change"].isin(["entered", "exited"])]
    assert len(latest) > 0 and len(table) > len(latest)

    rows = ok_json(beton("changes", "--duckdb", str(db), "--format", "json"))
    key = lambda r: (r["rule_key"], r["entity_id"], r["change"])  # noqa: E731
    assert sorted(key(r) for r in rows) == sorted(key(r) for r in latest.to_dict("records"))
    assert "input_fingerprint" not in rows[0]
    by_key = {key(r): r for r in latest.to_dict("records")}
    for row in rows:
        want = by_key[key(row)]
        assert instant(row["as_of"]) == want["as_of"] and instant(row["previous_as_of"]) == want["previous_as_of"]
        assert (row["score"] is None) == pd.isna(want["score"])  # an exit has no score: null, not NaN
        if row["score"] is not None:
            assert row["score"] == pytest.approx(want["score"], rel=1e-12)

    everything = csv_rows(beton("changes", "--duckdb", str(db), "--since", "2000-01-01", "--stayed", "--format", "csv"))
    assert sorted(key(r) for r in everything) == sorted(key(r) for r in table.to_dict("records"))

    shown = beton("changes", "--duckdb", str(db))
    assert shown.returncode == 0, shown.stderr
    entered, exited = (int((latest["change"] == k).sum()) for k in ("entered", "exited"))
    assert f"{entered} entered, {exited} exited" in shown.stdout  # the table's rows, counted


# --- rules list / rules check ----------------------------------------------------------------


def test_rules_list_json_and_csv_are_the_rule_files():
    documents = rule_documents()
    rows = ok_json(beton("rules", "list", "--format", "json"))
    assert {r["key"]: (r["name"], r["level"], r["time_window_days"]) for r in rows} == {
        k: (d["name"], d["level"], d["time_window_days"]) for k, d in documents.items()
    }
    assert all(r["file"] == f"rules/{r['key']}.yml" and r["model"] == f"insp_{r['key']}" for r in rows)
    listed = csv_rows(beton("rules", "list", "--format", "csv"))
    assert [r["key"] for r in listed] == [r["key"] for r in rows]
    assert [int(r["time_window_days"]) for r in listed] == [r["time_window_days"] for r in rows]


def test_rules_check_json_on_the_shipped_rules():
    result = beton("rules", "check", "--format", "json")
    assert ok_json(result) == {"ok": True, "rules": len(rule_documents()), "problems": [], "warnings": []}


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    """A project in a subfolder of a git checkout, with a wrong level, a file name that cannot
    name a model (a comma in it) and an event name outside the standard library (a warning)."""
    repo = tmp_path_factory.mktemp("checkout")
    (repo / ".git").mkdir()
    project = copy_project(repo / "analytics")
    power = project / "rules" / "pql_power_users.yml"
    power.write_text(power.read_text().replace("level: user", "level: usr"))
    pricing = (project / "rules" / "pql_pricing_intent.yml").read_text()
    (project / "rules" / "bad,name.yml").write_text(pricing.replace('name: "', 'name: "Copy of ', 1))
    intent = project / "rules" / "pql_high_intent_trial_users.yml"
    intent.write_text(intent.read_text().replace("signed_up", "signed_upp", 1))
    return project


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if line.startswith(text))


def test_rules_check_github_annotations_for_a_broken_rule_file(broken):
    result = beton("rules", "check", "--format", "github", project=broken)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors and errors[0].startswith("error: 2 problem(s) in 2 rule file(s)")
    lines = result.stdout.splitlines()
    level_line = _line_of(broken / "rules" / "pql_power_users.yml", "level:")
    event_line = _line_of(broken / "rules" / "pql_high_intent_trial_users.yml", "  event_names:")
    assert len(lines) == 3, result.stdout
    # file and title are properties (',' and ':' escaped); the message is data (kept as is)
    assert lines[0].startswith(
        "::error file=analytics/rules/bad%2Cname.yml,title=beton rules check::file name 'bad,name.yml' cannot name "
        "a model: use lowercase letters"
    )
    assert lines[1].startswith(
        f"::error file=analytics/rules/pql_power_users.yml,line={level_line},title=beton rules check::"
        "level: must be one of user, account, not the text 'usr'"
    )
    assert (
        lines[2].startswith("::warning file=analytics/rules/pql_high_intent_trial_users.yml,line=")
        and "title=beton rules check::conditions.event_names[0]: 'signed_upp' is not in the standard" in lines[2]
    )
    assert int(lines[2].split("line=")[1].split(",")[0]) >= event_line


def test_rules_check_json_and_csv_for_a_broken_rule_file(broken):
    result = beton("rules", "check", "--format", "json", project=broken)
    assert result.returncode == 1 and "error: 2 problem(s)" in result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["rules"] == len(rule_documents()) - 1
    level_line = _line_of(broken / "rules" / "pql_power_users.yml", "level:")
    assert {"file": "rules/pql_power_users.yml", "line": level_line, "field": "level"}.items() <= next(
        p for p in document["problems"] if p["field"] == "level"
    ).items()
    assert [p["file"] for p in document["problems"]] == ["rules/bad,name.yml", "rules/pql_power_users.yml"]
    assert document["problems"][0]["line"] is None and document["problems"][0]["field"] is None
    assert [w["field"] for w in document["warnings"]] == ["conditions.event_names[0]"]

    rows = list(csv.DictReader(io.StringIO(beton("rules", "check", "--format", "csv", project=broken).stdout)))
    assert [(r["severity"], r["file"], r["line"]) for r in rows] == [
        ("error", "rules/bad,name.yml", ""),
        ("error", "rules/pql_power_users.yml", str(level_line)),
        ("warning", "rules/pql_high_intent_trial_users.yml", str(document["warnings"][0]["line"])),
    ]


def test_github_escaping_follows_the_runner_toolkit():
    assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert escape_property("rules/a,b:c%.yml\n") == "rules/a%2Cb%3Ac%25.yml%0A"


# --- the pre-commit hook ---------------------------------------------------------------------


def test_pre_commit_hook_definition_parses_and_its_entry_runs(broken):
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "beton-rules-check"]
    assert (hook["language"], hook["entry"], hook["pass_filenames"]) == ("python", "beton rules check", False)
    files = re.compile(hook["files"])
    assert files.search("rules/pql_power_users.yml") and files.search("rules/x.yaml")
    assert not files.search("models/inspections/rules/insp_x.sql") and not files.search("docs/rules.md")

    # pre-commit runs the entry in the repository's root, with the package installed on PATH
    command = shlex.split(hook["entry"])
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("BETON_PROJECT_DIR", None)
    fine = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert fine.returncode == 0 and "rule(s) valid" in fine.stdout, fine.stderr
    failing = subprocess.run(command, cwd=broken, env=env, capture_output=True, text=True, timeout=300)
    assert failing.returncode == 1 and "rules/pql_power_users.yml" in failing.stderr


# --- plays -----------------------------------------------------------------------------------


def test_plays_json_and_csv_are_the_accounts_and_files_written(db, tmp_path):
    out = tmp_path / "plays"
    rows = ok_json(beton("plays", "--duckdb", str(db), "--out", str(out), "--format", "json"))
    findings = read_table(db, "beton_inspections", "insp_findings")
    assert {r["account_id"] for r in rows} == set(findings["account_id"].dropna())
    for row in rows:
        assert Path(row["file"]).read_text(encoding="utf-8") == row["markdown"]
        assert isinstance(row["plays"], list) and len(row["plays"]) == len(row["play_titles"])
    table = beton("plays", "--duckdb", str(db), "--out", str(out))
    assert table.returncode == 0, table.stderr
    assert all(r["domain"] in table.stdout for r in rows if r["domain"])
    listed = csv_rows(beton("plays", "--duckdb", str(db), "--out", str(out), "--format", "csv"))
    assert [r["account_id"] for r in listed] == [r["account_id"] for r in rows]
    assert [r["plays"] for r in listed] == ["; ".join(r["plays"]) for r in rows]
    assert "markdown" not in listed[0]


# --- values and progress ---------------------------------------------------------------------


def test_json_values():
    assert json_value(float("nan")) is None and json_value(pd.NaT) is None and json_value(pd.NA) is None
    assert json_value(float("inf")) is None
    assert json_value(pd.Timestamp("2026-10-01 12:00:00.250")) == "2026-10-01T12:00:00.250000Z"
    aware = datetime(2026, 10, 1, 14, 0, tzinfo=timezone(pd.Timedelta(hours=2)))
    assert json_value(aware) == "2026-10-01T12:00:00Z"


def test_plain_ticker_prints_a_line_every_interval_with_a_fake_clock():
    now = [100.0]
    lines: list[str] = []
    done = {"n": 0}
    ticker = PlainTicker(
        "dbt build", lambda: f"{done['n']}/245 nodes", interval=5, clock=lambda: now[0], write=lines.append
    )
    for step in range(1, 13):  # an event every second
        now[0] += 1
        done["n"] = step * 10
        ticker.tick()
    ticker.done()
    assert lines == [
        "dbt build: 50/245 nodes, 0:00:05",
        "dbt build: 100/245 nodes, 0:00:10",
        "dbt build: 120/245 nodes, 0:00:12 (done)",
    ]


def test_the_ingest_outside_a_terminal_prints_every_stream_every_interval():
    now = [0.0]
    lines: list[str] = []
    reporter = PlainReporter(interval=5, clock=lambda: now[0], write=lines.append)
    try:
        reporter.start("events", "events")
        for _ in range(6):  # a 1,000-row page every 2 s
            now[0] += 2
            reporter.page("events", 1000)
        reporter.start("persons", "persons")
        reporter.page("persons", 300)
        reporter.finish("persons")
    finally:
        reporter.close()
    assert lines == [
        "ingest: events 3,000 rows/3 pages, 0:00:06",
        "ingest: events 6,000 rows/6 pages, 0:00:12",  # 5 s after the line before
        "ingest: persons 300 rows/1 page (done)",
    ]


def test_beton_run_outside_a_terminal_prints_plain_progress_lines(mock_two_runs):
    err = (mock_two_runs.parent / "run2.err").read_text(encoding="utf-8")
    progress = [line for line in err.splitlines() if line.startswith("dbt build:")]
    pattern = re.compile(r"dbt build: (starting|(\d+)/(\d+) nodes), (\d+):(\d\d):(\d\d)( \(done\))?")
    assert progress and all(pattern.fullmatch(line) for line in progress), err
    final = pattern.fullmatch(progress[-1])
    assert final.group(7) and final.group(2) == final.group(3)  # ends at every node done
    elapsed = int(final.group(4)) * 3600 + int(final.group(5)) * 60 + int(final.group(6))
    assert len(progress) - 1 >= elapsed // 5 - 1  # a line every 5 s (the default) while it ran
    assert "━" not in err  # no bar drawn into a log
