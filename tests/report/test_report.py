"""`beton report` without a browser: the file is self-contained, shows every punch list with the
SQL its model compiled to and the rule file, links the sales plays, falls back to the plain
marts, keeps tables to --max-rows while summaries stay over every finding, and the command
prints what it wrote or one clean error. With a findings history of two runs, the findings new
since the last run are marked and counted and the trends per rule per run are the oracle's; with
one run a note says trends come next; without a history nothing of it shows. (What the page
does in a browser: test_report_browser.py.)"""

from __future__ import annotations

import html
import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import click
import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from test_history import oracle_changes

from beton_runner.cli.report import report_command
from beton_runner.project import Project
from beton_runner.report import build_report, charts
from beton_runner.report.sql import manifest_sql
from conftest import HISTORY_T1, MOCK_AS_OF, REPO, read_table, rule_documents
from oracle import _prepared, load_mock, punch_list

RULES = rule_documents()


HOSTILE = "<script>window.__pwned=1</script>"
PLAY_001 = f"""# Sales plays: Acme Analytics

## Why this account

- Seen on {HOSTILE} (a value from the CRM)
- **Expansion** ready

| rule | score |
|---|---:|
| PQA | 1.50 |
"""


def make_plays(folder: Path) -> Path:
    """Play files as `beton plays` names them: by account id, by domain, an index, one for no account."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "acc_001.md").write_text(PLAY_001, encoding="utf-8")
    (folder / "lumenlabs.ai.md").write_text("# Lumen Labs\n", encoding="utf-8")
    (folder / "index.md").write_text("# Plays\n", encoding="utf-8")
    (folder / "someone-else.md").write_text("# ?\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def report(mock_build, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    plays = make_plays(tmp / "output" / "plays")
    result = build_report(mock_build, tmp / "output" / "report.html", plays_dir=plays)
    return result, result.path.read_text(encoding="utf-8")


def shown_sql(page: str, key: str) -> str:
    return html.unescape(re.search(rf'<code id="sql-{key}">(.*?)</code>', page, re.S).group(1))


def rows_of(page: str, table: str) -> list[list]:
    """A table's rows as the page carries them (JSON; per cell text, [text, raw] or [text, raw, href])."""
    found = re.search(
        rf'<div class="bt-wrap" data-table-wrap="{re.escape(table)}">.*?'
        r'<script type="application/json" class="bt-data">(.*?)</script>',
        page,
        re.S,
    )
    assert found, f"table {table} not in the page"
    return json.loads(found.group(1))


def columns_of(page: str, table: str) -> list[str]:
    """A table's column names (data-col of its header cells), in order."""
    found = re.search(rf'<table class="bt" data-table="{re.escape(table)}".*?</tr>', page, re.S)
    assert found, f"table {table} not in the page"
    return re.findall(r'<th data-col="([^"]+)"', found.group(0))


def figures_of(page: str) -> dict:
    return json.loads(
        re.search(r'<script type="application/json" id="beton-figures">(.*?)</script>', page, re.S).group(1)
    )


def article_of(page: str, key: str) -> str:
    return re.search(rf'<article class="punch-list" id="pl-{key}".*?</article>', page, re.S).group(0)


def text_of(cell) -> str:
    return cell[0] if isinstance(cell, list) else cell


def href_of(cell) -> str | None:
    return cell[2] if isinstance(cell, list) and len(cell) > 2 else None


def test_the_report_is_one_self_contained_file(report):
    result, page = report
    assert result.size_bytes == len(page.encode("utf-8"))
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page, re.I), "an external asset"
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S)  # (plotly.js names URLs it never loads)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", markup, re.I), "a link to the network"
    assert page.count("<script>") == 2  # plotly.js and the report's own script; the rest is JSON data
    assert page.count("<script") == page.count('<script type="application/json"') + 2
    assert "plotly.js v" in page and "Plotly.newPlot" in page
    figures = json.loads(
        re.search(r'<script type="application/json" id="beton-figures">(.*?)</script>', page, re.S).group(1)
    )
    with_findings = sum(1 for r in result.data.punch_lists if r.summary.findings)
    assert set(figures) >= {
        "health-shares",
        "events-per-day",
        "active-per-day",
        "top-events-chart",
        "top-users-chart",
        "top-accounts-chart",
    }
    assert len(figures) == 6 + with_findings
    assert 4_000_000 < result.size_bytes < 8_000_000


def test_every_punch_list_shows_its_summary_sql_and_rule(report, mock_build):
    _, page = report
    manifest = json.loads((mock_build.dbt_target_path / "manifest.json").read_text())
    frames = load_mock(REPO / "seeds")
    for key, doc in RULES.items():
        expected = punch_list(
            doc, frames["events"], frames["persons"], frames["person_distinct_id"], frames["accounts"], MOCK_AS_OF
        )
        article = re.search(rf'<article class="punch-list" id="pl-{key}".*?</article>', page, re.S).group(0)
        assert html.escape(doc["name"]) in article
        assert f'data-metric="findings"><b>{len(expected):,}</b> findings' in article
        if len(expected):
            assert f"median <b>{expected['score'].median():.2f}</b>" in article
            assert f"max <b>{expected['score'].max():.2f}</b>" in article
        assert len(rows_of(page, f"pl-{key}")) == len(expected)
        columns = columns_of(page, f"pl-{key}")  # tier and grade only where the rule declares them
        assert ("tier" in columns, "grade" in columns) == ("tiers" in doc, "grade" in doc), key
        if "tiers" in doc:
            tiers = [text_of(row[columns.index("tier")]) for row in rows_of(page, f"pl-{key}")]
            assert tiers == [t or "" for t in expected["tier"]], key
        compiled = manifest["nodes"][f"model.beton.insp_{key}"]["compiled_code"].strip()
        assert shown_sql(article, key).strip() == compiled, f"{key}: the SQL shown is not the compiled model"
        assert (REPO / "rules" / f"{key}.yml").read_text().strip() in html.unescape(article)


def play_of(page: str, account: str) -> str:
    return re.search(rf'<details class="play" id="play-\d+" data-account="{account}".*?</details>', page, re.S).group(0)


def test_sales_plays_are_shown_in_the_page_and_linked_from_the_accounts(report):
    _, page = report
    shown = re.findall(r'<details class="play" id="(play-\d+)" data-account="([^"]*)" data-file="([^"]+)"', page)
    # by id, by domain (lumenlabs.ai), and one for no account; the index is not a play
    assert sorted((account, file) for _, account, file in shown) == [
        ("", "someone-else.md"),
        ("acc_001", "acc_001.md"),
        ("acc_007", "lumenlabs.ai.md"),
    ]
    ids = {account: play_id for play_id, account, _ in shown}
    assert 'href="plays/' not in page and ".md</a>" not in page  # no link to a raw Markdown file
    links = {text_of(row[0]): [href_of(c) for c in row if href_of(c)] for row in rows_of(page, "accounts")}
    assert {account: hrefs for account, hrefs in links.items() if hrefs} == {
        "acc_001": [f"#{ids['acc_001']}"],
        "acc_007": [f"#{ids['acc_007']}"],
    }  # by id and by domain


def test_a_play_is_rendered_from_markdown_and_its_data_stays_text(report):
    _, page = report
    play = play_of(page, "acc_001")
    body = re.search(r'<div class="play-body">(.*)</div>', play, re.S).group(1)
    assert "<h1>Sales plays: Acme Analytics</h1>" in body
    assert "<h2>Why this account</h2>" in body
    assert re.search(r"<ul>\s*<li>Seen on .*?</li>\s*<li><strong>Expansion</strong> ready</li>\s*</ul>", body, re.S)
    assert re.search(r"<table>.*<td>PQA</td>.*</table>", body, re.S)
    assert html.escape(HOSTILE, quote=False) in body  # shown as text
    assert HOSTILE not in page  # never markup


def test_punch_lists_lead_then_plays_then_the_data(report):
    _, page = report
    sections = re.findall(r'<section id="([^"]+)"', page)
    assert sections == ["punch-lists", "plays", "trends", "health", "activity", "explorer"]
    nav = re.search(r'<nav aria-label="Sections">(.*?)</nav>', page, re.S).group(1)
    assert re.findall(r'href="#([^"]+)"', nav) == sections
    assert page.index('<header class="top">') < page.index('<section id="punch-lists">')


def raw_of(cell) -> str:
    return cell[1] if isinstance(cell, list) else cell


def test_every_finding_has_a_sparkline_of_its_daily_matching_events(report):
    _, page = report
    for key, doc in RULES.items():
        columns, rows = columns_of(page, f"pl-{key}"), rows_of(page, f"pl-{key}")
        assert columns[columns.index("activity") - 1 : columns.index("activity")] in ([], ["new"])
        for row in rows:  # one point per day of the rule's window, and they add up to the finding's events
            spark = row[columns.index("activity")]
            assert len(text_of(spark).split()) == doc["time_window_days"], key
            assert raw_of(spark) == raw_of(row[columns.index("event_count")]), key
    # one finding against its events counted from the mock seeds
    key = "pqa_expansion_ready"
    doc, columns, rows = RULES[key], columns_of(page, f"pl-{key}"), rows_of(page, f"pl-{key}")
    row = next(r for r in rows if raw_of(r[columns.index("rank")]) == "1")
    account = text_of(row[columns.index("account_id")])
    frames = load_mock(REPO / "seeds")
    ev = _prepared(frames["events"], frames["person_distinct_id"], frames["accounts"])
    ev = ev[
        (ev["account_id"] == account)
        & ev["event"].isin(doc["conditions"]["event_names"])
        & (ev["timestamp"] <= pd.Timestamp(MOCK_AS_OF))
    ]
    days = doc["time_window_days"]
    dates = [MOCK_AS_OF.date() - timedelta(days=days - 1 - i) for i in range(days)]
    expected = [int((ev["day"] == d).sum()) for d in dates]
    spark = row[columns.index("activity")]
    assert [int(v) for v in text_of(spark).split()] == expected
    assert int(raw_of(spark)) == sum(expected) == int(raw_of(row[columns.index("event_count")])) > 0


def test_explorer_uses_enriched_marts_when_they_exist_and_plain_ones_otherwise(report, mock_build, tmp_path):
    _, page = report
    con = duckdb.connect(str(mock_build.duckdb_path), read_only=True)
    try:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'beton_marts'"
            ).fetchall()
        }
    finally:
        con.close()
    expected = "dim_accounts_enriched" if "dim_accounts_enriched" in tables else "dim_accounts"
    assert f"beton_marts.{expected}</span>" in page

    plain = tmp_path / "plain.duckdb"
    shutil.copy(mock_build.duckdb_path, plain)
    con = duckdb.connect(str(plain))
    try:
        for table in ("dim_accounts_enriched", "dim_users_enriched"):
            con.execute(f"drop table if exists beton_marts.{table}")
            con.execute(f"drop view if exists beton_marts.{table}")
        con.execute("drop table beton_explore.explore_top_users")
    finally:
        con.close()
    project = Project(dir=REPO, target="duckdb", duckdb_path=plain, target_path=mock_build.dbt_target_path)
    result = build_report(project, tmp_path / "plain.html", plays_dir=tmp_path / "no-plays")
    page = result.path.read_text()
    assert "beton_marts.dim_accounts</span>" in page and "beton_marts.dim_users</span>" in page
    assert len(rows_of(page, "accounts")) == len(read_table(plain, "beton_marts", "dim_accounts"))
    assert any("explore_top_users" in note for note in result.data.notes)
    assert 'id="plays"' not in page


def test_max_rows_caps_tables_but_not_summaries(mock_build, tmp_path):
    result = build_report(mock_build, tmp_path / "small.html", max_rows=2, plays_dir=tmp_path / "none")
    page = result.path.read_text()
    users = read_table(mock_build.duckdb_path, "beton_marts", result.data.users.table)
    assert len(rows_of(page, "users")) == 2
    assert f"Showing the first 2 of {len(users):,} rows" in page
    shown = [text_of(row[0]) for row in rows_of(page, "users")]
    events = users.set_index("user_id")["events_30d"]
    assert all(events[u] >= sorted(events, reverse=True)[1] for u in shown)  # the most active first
    power = read_table(mock_build.duckdb_path, "beton_inspections", "insp_pql_power_users")
    assert len(power) > 2
    article = re.search(r'<article class="punch-list" id="pl-pql_power_users".*?</article>', page, re.S).group(0)
    assert f'data-metric="findings"><b>{len(power):,}</b> findings' in article
    assert f"max <b>{power['score'].max():.2f}</b>" in article


def test_manifest_sql_is_only_taken_from_a_manifest_of_the_same_warehouse(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {"metadata": {"adapter_type": "clickhouse"}, "nodes": {"model.beton.insp_x": {"compiled_code": "select 1"}}}
        )
    )
    assert manifest_sql(manifest, "clickhouse", ["insp_x", "insp_y"]) == {"insp_x": "select 1\n"}
    assert manifest_sql(manifest, "duckdb", ["insp_x"]) == {}
    assert manifest_sql(tmp_path / "missing.json", "duckdb", ["insp_x"]) == {}


class _Obj:
    """What the CLI hands its commands: a project per --target."""

    def __init__(self, project: Project):
        self._project = project
        self.debug = False

    def project(self, *args, **options) -> Project:
        return self._project


def _run(obj, *args):
    @click.group()
    @click.pass_context
    def group(ctx):
        ctx.obj = obj

    group.add_command(report_command)
    return CliRunner().invoke(group, ["report", *args], catch_exceptions=False)


def test_command_writes_the_report_and_compiles_sql_missing_from_the_manifest(mock_build, tmp_path):
    # a target folder without a manifest: the command compiles the rule models itself
    project = Project(dir=REPO, target="duckdb", duckdb_path=mock_build.duckdb_path, target_path=tmp_path / "target")
    out = tmp_path / "r" / "report.html"
    result = _run(_Obj(project), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output.replace("\n", "")
    assert f"{len(RULES)} punch list(s)" in result.output
    page = out.read_text()
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    for key in RULES:
        compiled = manifest["nodes"][f"model.beton.insp_{key}"]["compiled_code"].strip()
        assert shown_sql(page, key).strip() == compiled
        assert "2026-10-01 12:00:00" in compiled  # compiled at the punch lists' as_of


def test_command_without_a_warehouse_says_what_to_do(tmp_path):
    project = Project(dir=REPO, target="duckdb", duckdb_path=tmp_path / "none.duckdb", target_path=tmp_path / "t")
    result = _run(_Obj(project), "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 1
    assert "error:" in result.output and "no warehouse at" in result.output and "beton demo" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r.html").exists()


# --- the findings history: new since the last run, trends -------------------------------------

RUN_TIMES = [HISTORY_T1, MOCK_AS_OF]


@pytest.fixture(scope="module")
def two_runs_report(mock_two_runs, tmp_path_factory):
    """The report of a warehouse whose history holds two runs (of a copy: the fixture is shared)."""
    tmp = tmp_path_factory.mktemp("report_two_runs")
    db = tmp / "two_runs.duckdb"
    shutil.copy(mock_two_runs, db)
    project = Project(dir=REPO, target="duckdb", duckdb_path=db, target_path=mock_two_runs.parent / "target")
    result = build_report(project, tmp / "report.html", plays_dir=tmp / "no-plays", compile_missing_sql=False)
    return result, result.path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def oracle_history() -> pd.DataFrame:
    return oracle_changes(RUN_TIMES)


def test_findings_new_since_the_last_run_are_marked_and_counted(two_runs_report, oracle_history):
    _, page = two_runs_report
    at_latest = oracle_history[oracle_history["as_of"] == pd.Timestamp(MOCK_AS_OF)]
    marked_anywhere = left_anywhere = 0
    for key, doc in RULES.items():
        columns = columns_of(page, f"pl-{key}")
        assert columns[0] == "new", key
        entity = columns.index("user_id" if doc["level"] == "user" else "account_id")
        rows = rows_of(page, f"pl-{key}")
        assert {text_of(row[0]) for row in rows} <= {"new", ""}
        marked = {text_of(row[entity]) for row in rows if text_of(row[0]) == "new"}
        mine = at_latest[at_latest["rule_key"] == key]
        assert marked == set(mine.loc[mine["change"] == "entered", "entity_id"]), key
        entered, left = int((mine["change"] == "entered").sum()), int((mine["change"] == "exited").sum())
        article = article_of(page, key)
        assert f'data-metric="changes" data-new="{entered}" data-left="{left}"' in article, key
        assert f"<b>{entered}</b> new since the last run (as_of 2026-09-24 12:00:00), <b>{left}</b> left" in article
        marked_anywhere += len(marked)
        left_anywhere += left
    assert marked_anywhere > 0 and left_anywhere > 0  # the two runs differ both ways


def test_trends_are_findings_per_rule_per_run(two_runs_report, oracle_history):
    _, page = two_runs_report
    assert '<a href="#trends">Trends</a>' in page and '<section id="trends" data-runs="2">' in page
    traces = {html.unescape(t["name"]): t for t in figures_of(page)["rule-trends"]["data"]}
    assert set(traces) == {doc["name"] for doc in RULES.values()}
    rows = {(text_of(r[0]), text_of(r[2])): [int(text_of(c)) for c in r[3:]] for r in rows_of(page, "trends")}
    assert columns_of(page, "trends") == [
        "rule_name", "level", "run_at", "run_number", "findings", "entered", "exited", "stayed"
    ]  # fmt: skip
    assert len(rows) == len(RULES) * len(RUN_TIMES)
    for key, doc in RULES.items():
        trace = traces[doc["name"]]
        assert trace["x"] == [t.strftime("%Y-%m-%d %H:%M:%S") for t in RUN_TIMES]
        counts = []
        for number, instant in enumerate(RUN_TIMES, start=1):
            at = oracle_history[
                (oracle_history["rule_key"] == key) & (oracle_history["as_of"] == pd.Timestamp(instant))
            ]
            n = {c: int((at["change"] == c).sum()) for c in ("entered", "exited", "stayed")}
            counts.append(n)
            shown = rows[(doc["name"], instant.strftime("%Y-%m-%d %H:%M"))]
            assert shown == [number, n["entered"] + n["stayed"], n["entered"], n["exited"], n["stayed"]], key
        assert trace["y"] == [n["entered"] + n["stayed"] for n in counts], key
        assert trace["customdata"] == [[n["entered"], n["exited"]] for n in counts], key


def test_with_one_run_trends_wait_for_the_next_and_nothing_is_marked_new(report, mock_build):
    _, page = report
    assert '<section id="trends" data-runs="1">' in page
    assert "Trends appear after the next run: the history holds one run (as_of 2026-10-01 12:00:00)." in page
    assert 'data-metric="changes"' not in page and "rule-trends" not in page
    for key in RULES:
        assert "new" not in columns_of(page, f"pl-{key}")
    for table in ("dim_users", "dim_accounts"):  # nothing is new at a rule's first run
        assert read_table(mock_build.duckdb_path, "beton_marts", table)["new_rules"].isna().all()


@pytest.mark.parametrize(
    "dropped",
    [
        ["mart_rule_trends", "insp_finding_changes", "insp_finding_history", "insp_rule_runs"],  # before the history
        ["mart_rule_trends"],  # the history, but not the trends mart
    ],
)
def test_a_warehouse_without_the_history_shows_no_trends_and_no_markers(mock_two_runs, tmp_path, dropped):
    db = tmp_path / "old.duckdb"
    shutil.copy(mock_two_runs, db)
    con = duckdb.connect(str(db))
    try:
        for table in dropped:
            schema = "beton_marts" if table.startswith("mart_") else "beton_inspections"
            con.execute(f"drop table {schema}.{table}")
    finally:
        con.close()
    project = Project(dir=REPO, target="duckdb", duckdb_path=db, target_path=mock_two_runs.parent / "target")
    result = build_report(project, tmp_path / "old.html", plays_dir=tmp_path / "no-plays", compile_missing_sql=False)
    page = result.path.read_text(encoding="utf-8")
    assert result.data.trends is None and all(p.changes is None for p in result.data.punch_lists)
    assert 'id="trends"' not in page and 'href="#trends"' not in page and 'data-metric="changes"' not in page
    assert all(columns_of(page, f"pl-{key}")[0] != "new" for key in RULES)
    assert len(rows_of(page, "pl-pql_pricing_intent")) > 0  # the rest of the report is there


def test_rule_names_in_the_trends_chart_are_text():
    trends = pd.DataFrame(
        {
            "rule_key": ["r", "r"],
            "as_of": pd.to_datetime(["2026-09-24 12:00", "2026-10-01 12:00"]),
            "rule_name": ["old", "old"],
            "findings": [1, 2],
            "entered": [1, 1],
            "exited": [0, 0],
        }
    )
    figure = charts.rule_trends(trends, {"r": "<b>x</b> %{y} & co"})
    (trace,) = figure["data"]
    assert trace["name"] == "&lt;b&gt;x&lt;/b&gt; %{y} &amp; co"
    assert "<b>" not in trace["hovertemplate"] and "%{fullData.name}" in trace["hovertemplate"]
    assert charts.rule_trends(trends.head(1)) is None  # one run: nothing to draw
