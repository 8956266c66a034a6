"""The report in a real browser: Debian's Chromium, driven by Playwright (its own browser
download cannot work here, so it is pointed at /usr/bin/chromium). The page loads offline with
no console error, every chart draws marks whose numbers are the warehouse's, sorting and
filtering give the rows they should, and the numbers shown are the warehouse's; the charts have
no toolbar, the sparklines are drawn, and the sales plays section is visible (a screenshot of it
goes to the test's temporary folder) with each account's link opening its play. With a findings
history of two runs the trends chart draws a line per rule and the new findings are marked.

A full-page screenshot is kept as a test artifact in $BETON_TEST_ARTIFACTS (default: an
`artifacts` folder in pytest's temporary directory); with BETON_UPDATE_SCREENSHOT=1 the top of
the page is also written to docs/images/report.png, the README's picture."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from test_report import make_plays

from beton_runner.project import Project
from beton_runner.report import build_report
from conftest import REPO, read_table

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("BETON_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)
# as root, without a sandbox; no background connections (this machine's network is closed)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1400, "height": 1240}  # the README picture is the first screen


@pytest.fixture(scope="module")
def report_file(mock_build, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report_browser")
    plays = make_plays(tmp / "output" / "plays")
    return build_report(mock_build, tmp / "output" / "report.html", plays_dir=plays).path


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class Loaded:
    def __init__(self, page, console: list, errors: list, requests: list):
        self.page, self.console, self.errors, self.requests = page, console, errors, requests


@pytest.fixture(scope="module")
def page_once(browser, report_file):
    """The report loaded once (a 5 MB page with its charts takes a few seconds)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    console, errors, requests = [], [], []
    page.on("console", lambda message: console.append((message.type, message.text)))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(report_file.as_uri())
    page.wait_for_selector("body[data-charts-ready]", timeout=30_000)
    try:
        yield Loaded(page, console, errors, requests)
    finally:
        context.close()


@pytest.fixture
def loaded(page_once):
    """The page with every table back to its first state (search, filters and sort cleared)."""
    page_once.page.evaluate("() => document.querySelectorAll('button.bt-reset').forEach(b => b.click())")
    yield page_once
    assert page_once.errors == [], "the page raised an error"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("BETON_TEST_ARTIFACTS") or tmp_path_factory.getbasetemp() / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def column_values(page, table: str, column: str, *, visible_only: bool = True) -> list[str]:
    """data-v (else the text) of one column's cells, in the order the rows are shown."""
    return page.evaluate(
        """([table, column, visibleOnly]) => {
            const t = document.querySelector(`table.bt[data-table="${table}"]`);
            const heads = [...t.tHead.rows[0].cells].map(th => th.dataset.col);
            const i = heads.indexOf(column);
            if (i < 0) throw new Error(`no column ${column} in ${table}: ${heads}`);
            return [...t.tBodies[0].rows].filter(r => !visibleOnly || !r.hidden)
                .map(r => r.cells[i].hasAttribute('data-v') ? r.cells[i].dataset.v : r.cells[i].textContent.trim());
        }""",
        [table, column, visible_only],
    )


def cell_texts(page, table: str, column: str) -> list[str]:
    return page.evaluate(
        """([table, column]) => {
            const t = document.querySelector(`table.bt[data-table="${table}"]`);
            const i = [...t.tHead.rows[0].cells].map(th => th.dataset.col).indexOf(column);
            return [...t.tBodies[0].rows].filter(r => !r.hidden).map(r => r.cells[i].textContent.trim());
        }""",
        [table, column],
    )


def header(page, table: str, column: str):
    return page.locator(f'table.bt[data-table="{table}"] th[data-col="{column}"] button.bt-sort')


def filter_box(page, table: str, column: str):
    return page.locator(f'table.bt[data-table="{table}"] input.bt-filter[data-col="{column}"]')


def search_box(page, table: str):
    return page.locator(f'[data-table-wrap="{table}"] input.bt-search')


def test_loads_offline_with_no_console_error_every_chart_draws_marks_and_a_screenshot_is_kept(loaded, artifacts):
    page = loaded.page
    assert loaded.errors == []
    assert [m for m in loaded.console if m[0] in ("error", "warning")] == []
    assert [u for u in loaded.requests if not u.startswith(("file:", "data:", "blob:"))] == []
    charts = page.evaluate(
        """() => [...document.querySelectorAll('[data-figure]')].map(el => ({
            id: el.id,
            svg: el.querySelectorAll('svg.main-svg').length,
            marks: [...el.querySelectorAll('.cartesianlayer .trace path')]
                .filter(p => (p.getAttribute('d') || '').length > 2 && p.getBoundingClientRect().width + p.getBoundingClientRect().height > 0).length,
        }))"""
    )
    figures = page.evaluate("() => Object.keys(JSON.parse(document.getElementById('beton-figures').textContent))")
    assert sorted(c["id"] for c in charts) == sorted(figures)
    assert int(page.get_attribute("body", "data-charts-ready")) == len(figures) >= 8
    undrawn = [c["id"] for c in charts if c["svg"] == 0 or c["marks"] == 0]
    assert undrawn == [], f"charts without marks: {undrawn}"
    assert page.locator("#trends [data-trends-note]").is_visible()  # one run: trends come with the next
    assert page.locator(".modebar").count() == 0  # no chart toolbar over the labels
    spark = page.locator('table.bt[data-table="pl-pqa_expansion_ready"] svg.spark').first
    assert spark.is_visible() and spark.get_attribute("data-points") == "30"  # one point a day of the window

    top = artifacts / "report-top.png"  # the first screen: the punch lists
    page.screenshot(path=str(top))
    full = artifacts / "report-full.png"
    page.screenshot(path=str(full), full_page=True)
    for path in (top, full):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 50_000
    if os.environ.get("BETON_UPDATE_SCREENSHOT") == "1":
        (REPO / "docs" / "images").mkdir(parents=True, exist_ok=True)
        shutil.copy(top, REPO / "docs" / "images" / "report.png")


def test_chart_numbers_equal_the_warehouse(loaded, mock_build):
    page = loaded.page
    db = mock_build.duckdb_path

    def traces(figure_id: str) -> list[dict]:
        return page.evaluate(
            "(id) => document.getElementById(id).data.map(t => ({name: t.name, x: [...t.x], y: [...t.y]}))", figure_id
        )

    daily = read_table(db, "beton_explore", "explore_daily_activity")
    per_day: dict[str, int] = {}
    for trace in traces("events-per-day"):
        for x, y in zip(trace["x"], trace["y"]):
            per_day[x] = per_day.get(x, 0) + y
    assert per_day == {
        d.strftime("%Y-%m-%d"): int(n) for d, n in zip(pd.to_datetime(daily["event_date"]), daily["events"])
    }
    users_line = next(t for t in traces("active-per-day") if t["name"] == "active users")
    assert users_line["y"] == daily.sort_values("event_date")["active_users"].tolist()

    top_events = read_table(db, "beton_explore", "explore_top_events").sort_values("event_rank").head(15)
    bars = {y: x for trace in traces("top-events-chart") for x, y in zip(trace["x"], trace["y"])}
    assert bars == dict(zip(top_events["event_name"], top_events["events"].astype(int)))

    for key in ("pql_power_users", "pqa_active_accounts_multiple_users"):
        # the breakdown chart: a bar per finding (best first), one trace per score term, each
        # trace's values the punch list's score_* column; the terms of a bar sum to its score
        frame = read_table(db, "beton_inspections", f"insp_{key}").sort_values("rank")
        terms = [c for c in frame.columns if c.startswith("score_") and frame[c].ne(0).any()]
        shown = traces(f"score-{key}")
        assert len(shown) == len(terms) >= 2
        names = {"score_event_count": "event count", "score_active_days": "active days", "score_recency": "recency"}
        for trace, term in zip(shown, terms):
            assert trace["name"] == names.get(term, trace["name"])
            assert trace["x"] == pytest.approx(frame[term].astype(float).tolist(), abs=1e-9)
            assert [y.split(". ", 1)[0] for y in trace["y"]] == [str(r) for r in frame["rank"]]
        sums = [sum(t["x"][i] for t in shown) for i in range(len(frame))]
        assert sums == pytest.approx(frame["score"].astype(float).tolist(), abs=1e-9)


def test_sorting_a_table_orders_its_rows(loaded, mock_build):
    page = loaded.page
    top_users = read_table(mock_build.duckdb_path, "beton_explore", "explore_top_users")
    header(page, "top-users", "events").click()  # numbers: largest first
    assert page.get_attribute('table.bt[data-table="top-users"] th[data-col="events"]', "aria-sort") == "descending"
    assert [int(v) for v in column_values(page, "top-users", "events")] == sorted(top_users["events"], reverse=True)
    header(page, "top-users", "events").click()
    assert [int(v) for v in column_values(page, "top-users", "events")] == sorted(top_users["events"])
    header(page, "top-users", "name").click()  # text: A to Z, empty last
    names = cell_texts(page, "top-users", "name")
    present = [n for n in top_users["name"] if isinstance(n, str) and n]
    assert names[: len(present)] == sorted(present, key=str.casefold)
    assert all(n == "" for n in names[len(present) :])

    accounts = read_table(mock_build.duckdb_path, "beton_marts", "dim_accounts")
    header(page, "accounts", "arr").click()
    arr = column_values(page, "accounts", "arr")
    known = sorted(accounts["arr"].dropna(), reverse=True)
    assert [float(v) for v in arr[: len(known)]] == known and all(v == "" for v in arr[len(known) :])  # nulls last
    header(page, "accounts", "arr").click()
    arr = column_values(page, "accounts", "arr")
    assert [float(v) for v in arr[: len(known)]] == sorted(known) and all(v == "" for v in arr[len(known) :])

    page.locator('[data-table-wrap="top-users"] button.bt-reset').click()
    assert column_values(page, "top-users", "user_id") == top_users.sort_values("activity_rank")["user_id"].tolist()


def test_pages_show_the_sorted_rows_a_page_at_a_time(loaded, mock_build):
    page = loaded.page
    events = read_table(mock_build.duckdb_path, "beton_explore", "explore_top_events").sort_values("event_rank")
    assert len(events) > 25
    wrap = '[data-table-wrap="top-events"]'
    page.select_option(f"{wrap} select.bt-size", "25")
    assert column_values(page, "top-events", "event_name") == events["event_name"].head(25).tolist()
    assert page.inner_text(f"{wrap} .bt-page") == f"1–25 of {len(events)}"
    page.click(f"{wrap} button.bt-next")
    assert column_values(page, "top-events", "event_name") == events["event_name"].iloc[25:].tolist()
    assert page.is_disabled(f"{wrap} button.bt-next")
    header(page, "top-events", "events").click()
    header(page, "top-events", "events").click()  # fewest first, across every page, from page 1
    shown = [int(v) for v in column_values(page, "top-events", "events")]
    assert shown == sorted(events["events"])[:25]
    page.select_option(f"{wrap} select.bt-size", "0")  # all
    assert len(column_values(page, "top-events", "events")) == len(events)
    page.select_option(f"{wrap} select.bt-size", "100")


def test_filtering_and_search_keep_exactly_the_matching_rows(loaded, mock_build):
    page = loaded.page
    source = page.inner_text('[data-table-wrap="users"] .bt-source')  # dim_users, or dim_users_enriched
    shown_columns = page.evaluate(
        "() => [...document.querySelector('table.bt[data-table=\"users\"]').tHead.rows[0].cells]"
        ".map(th => th.dataset.col)"
    )
    users = read_table(mock_build.duckdb_path, *source.split(".")).set_index("user_id", drop=False)[shown_columns]

    def mentions_acme(user_id: str) -> bool:
        return any("acme" in str(v).lower() for v in users.loc[user_id].tolist())

    filter_box(page, "users", "events_30d").fill(">=100")
    expected = set(users.index[users["events_30d"] >= 100])
    assert 0 < len(expected) < len(users)
    assert set(column_values(page, "users", "user_id")) == expected
    count = page.locator('[data-table-wrap="users"] .bt-count').inner_text()
    assert count == f"{len(expected)} of {len(users)} rows"

    search_box(page, "users").fill("ACME")  # any column, any case
    acme = {u for u in expected if mentions_acme(u)}
    assert set(column_values(page, "users", "user_id")) == acme and acme

    filter_box(page, "users", "events_30d").fill("50..150")  # a range replaces the first filter
    in_range = {u for u in users.index[(users["events_30d"] >= 50) & (users["events_30d"] <= 150)] if mentions_acme(u)}
    assert set(column_values(page, "users", "user_id")) == in_range

    filter_box(page, "users", "events_30d").fill("lots")  # not a number: marked, filters nothing
    assert "invalid" in filter_box(page, "users", "events_30d").get_attribute("class")
    assert set(column_values(page, "users", "user_id")) == {u for u in users.index if mentions_acme(u)}

    page.locator('[data-table-wrap="users"] button.bt-reset').click()
    assert len(column_values(page, "users", "user_id")) == len(users)

    top_accounts = read_table(mock_build.duckdb_path, "beton_explore", "explore_top_accounts")
    filter_box(page, "top-accounts", "last_seen").fill(">=2026-10-01")  # dates compare at the given precision
    recent = set(top_accounts.loc[top_accounts["last_seen"] >= pd.Timestamp("2026-10-01"), "account_id"])
    assert set(column_values(page, "top-accounts", "account_id")) == recent and recent
    filter_box(page, "top-accounts", "segment").fill("=smb")  # exact text, any case
    assert set(column_values(page, "top-accounts", "account_id")) == set(
        top_accounts.loc[
            (top_accounts["last_seen"] >= pd.Timestamp("2026-10-01")) & (top_accounts["segment"] == "SMB"), "account_id"
        ]
    )

    power = read_table(mock_build.duckdb_path, "beton_inspections", "insp_pql_power_users")
    low = float(power["score"].median())
    filter_box(page, "pl-pql_power_users", "score").fill(f">{low}")
    assert set(column_values(page, "pl-pql_power_users", "user_id")) == set(power.loc[power["score"] > low, "user_id"])


def test_numbers_shown_equal_the_warehouse(loaded, mock_build):
    page = loaded.page
    db = mock_build.duckdb_path
    health = read_table(db, "beton_explore", "explore_data_health").iloc[0]
    cards = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('.card[data-fact]')]"
        ".map(c => [c.dataset.fact, [c.dataset.v, c.querySelector('.value').textContent.trim()]]))"
    )
    for fact in (
        "events",
        "events_in_window",
        "persons",
        "accounts",
        "mapped_distinct_ids",
        "event_users",
        "unknown_event_names",
    ):
        raw, text = cards[fact]
        assert int(raw) == int(health[fact]) and text == f"{int(health[fact]):,}", fact
    for fact in ("share_linked_to_person", "share_linked_to_account"):
        raw, text = cards[fact]
        assert float(raw) == pytest.approx(float(health[fact]), rel=1e-12)
        assert text == f"{float(health[fact]) * 100:.1f}%"
    assert cards["first_event_at"][1] == pd.Timestamp(health["first_event_at"]).strftime("%Y-%m-%d %H:%M")
    assert page.inner_text("#as-of") == pd.Timestamp(health["as_of"]).strftime("%Y-%m-%d %H:%M:%S")

    for key in ("pql_power_users", "pqa_active_accounts_multiple_users", "churn_risk_previously_active_now_quiet"):
        frame = read_table(db, "beton_inspections", f"insp_{key}").sort_values("rank")
        article = page.locator(f"article#pl-{key}")
        assert article.locator('[data-metric="findings"] b').inner_text() == f"{len(frame):,}"
        if len(frame):
            assert article.locator('[data-metric="score_median"] b').inner_text() == f"{frame['score'].median():.2f}"
            assert article.locator('[data-metric="score_max"] b').inner_text() == f"{frame['score'].max():.2f}"
        assert cell_texts(page, f"pl-{key}", "score") == [f"{s:.2f}" for s in frame["score"]]
        assert [float(v) for v in column_values(page, f"pl-{key}", "score")] == pytest.approx(
            frame["score"].tolist(), rel=1e-12
        )
        assert cell_texts(page, f"pl-{key}", "event_count") == [f"{n:,}" for n in frame["event_count"]]
    overview = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('table.overview tr[data-rule]')]"
        ".map(r => [r.dataset.rule, r.cells[3].dataset.v]))"
    )
    for key, findings in overview.items():
        assert int(findings) == len(read_table(db, "beton_inspections", f"insp_{key}"))

    top_accounts = read_table(db, "beton_explore", "explore_top_accounts").sort_values("usage_rank")
    assert cell_texts(page, "top-accounts", "events") == [f"{n:,}" for n in top_accounts["events"]]
    assert cell_texts(page, "top-accounts", "name") == top_accounts["name"].tolist()


@contextmanager
def report_page(browser, path: Path):
    """A report loaded in a new browser context, with its charts drawn: (page, page errors)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-charts-ready]", timeout=30_000)
        yield page, errors
    finally:
        context.close()


def test_trends_chart_and_new_markers_render_after_two_runs(browser, mock_two_runs, tmp_path):
    db = tmp_path / "two_runs.duckdb"
    shutil.copy(mock_two_runs, db)  # the fixture is shared: report from a copy
    project = Project(dir=REPO, target="duckdb", duckdb_path=db, target_path=mock_two_runs.parent / "target")
    report = build_report(project, tmp_path / "report.html", plays_dir=tmp_path / "none", compile_missing_sql=False)
    trends = read_table(db, "beton_marts", "mart_rule_trends").sort_values(["rule_key", "as_of"])
    with report_page(browser, report.path) as (page, errors):
        drawn = page.evaluate(
            """() => {
                const el = document.getElementById('rule-trends');
                return {
                    lines: [...el.querySelectorAll('.scatterlayer .trace .js-line')]
                        .filter(p => (p.getAttribute('d') || '').length > 2).length,
                    legend: [...el.querySelectorAll('.legendtext')].map(t => t.textContent),
                    y: Object.fromEntries(el.data.map(t => [t.name, [...t.y]])),
                };
            }"""
        )
        names = trends.groupby("rule_key")["rule_name"].last()
        assert drawn["lines"] == len(names) and sorted(drawn["legend"]) == sorted(names)
        assert drawn["y"] == {names[k]: runs["findings"].tolist() for k, runs in trends.groupby("rule_key")}
        assert page.locator("#trends").is_visible() and page.locator('nav a[href="#trends"]').is_visible()
        for key in ("pql_pricing_intent", "pqa_expansion_ready"):
            marked = [t for t in cell_texts(page, f"pl-{key}", "new") if t]
            header = page.locator(f'article#pl-{key} [data-metric="changes"]')
            assert marked and len(marked) == int(header.get_attribute("data-new"))
            assert {t.lower() for t in marked} == {"new"} and header.is_visible()
        assert errors == []


def test_sales_plays_show_in_the_page_and_account_links_open_them(loaded, tmp_path):
    page = loaded.page
    plays = page.locator("#plays")
    plays.scroll_into_view_if_needed()
    assert plays.is_visible() and page.locator("#plays details.play").count() == 3
    shot = tmp_path / "report-plays.png"
    plays.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    links = page.locator('table.bt[data-table="accounts"] a[href^="#play-"]')
    targets = [links.nth(i).get_attribute("href")[1:] for i in range(links.count())]
    closed = [t for t in targets if not page.locator(f"#{t}").evaluate("d => d.open")]
    assert len(targets) == 2 and len(closed) == 1  # only the first play starts open
    target = closed[0]
    links.nth(targets.index(target)).click()
    page.wait_for_function("id => document.getElementById(id).open", arg=target)
    assert page.evaluate("() => window.__pwned") is None  # the play's <script> is text
    page.evaluate("() => history.replaceState(null, '', location.pathname)")


EVIL_ACCOUNT = '<b>x</b><img src=x onerror="window.__pwned=1">'
EVIL_EVENT = "<i>ev</i> %{x} AT&amp;T"


def test_names_in_charts_show_as_text_not_html(browser, tmp_path):
    """Plotly renders labels as HTML: an account or event named like markup must show as
    written (tick labels, legend, hover), create no element and run nothing."""
    from plotly.offline import get_plotlyjs

    from beton_runner.report import charts
    from beton_runner.report.render import _script_safe_js, _script_safe_json

    accounts = pd.DataFrame({"name": [EVIL_ACCOUNT, "Acme"], "account_id": ["acc_x", "acc_y"], "events": [5, 3]})
    daily = pd.DataFrame({"event_date": pd.to_datetime(["2026-09-30", "2026-10-01"]), "events": [5, 5]})
    volume = pd.DataFrame(
        {
            "event_date": pd.to_datetime(["2026-09-30", "2026-10-01", "2026-09-30", "2026-10-01"]),
            "event_name": [EVIL_EVENT, EVIL_EVENT, "logged_in", "logged_in"],
            "events": [4, 4, 1, 1],
        }
    )
    figures = {
        "bars": charts.ranked_bars(accounts, "name", "events", fallback_label="account_id"),
        "daily": charts.events_per_day(daily, volume),
    }
    page_file = tmp_path / "charts.html"
    page_file.write_text(
        "<!doctype html><html><head><meta charset='utf-8'></head><body><div id='bars'></div><div id='daily'></div>"
        f"<script>{_script_safe_js(get_plotlyjs())}</script>"
        f"<script id='figures' type='application/json'>{_script_safe_json(figures)}</script>"
        "<script>const f = JSON.parse(document.getElementById('figures').textContent);"
        "Promise.all(Object.keys(f).map(k => Plotly.newPlot(k, f[k].data, f[k].layout)))"
        ".then(() => document.body.dataset.ready = '1');</script></body></html>",
        encoding="utf-8",
    )
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(page_file.as_uri())
        page.wait_for_selector("body[data-ready]", timeout=30_000)
        ticks = page.evaluate("() => [...document.querySelectorAll('#bars .ytick text')].map(t => t.textContent)")
        assert sorted(ticks) == sorted([EVIL_ACCOUNT, "Acme"])
        legend = page.evaluate("() => [...document.querySelectorAll('#daily .legendtext')].map(t => t.textContent)")
        assert sorted(legend) == sorted([EVIL_EVENT, "logged_in"])
        trace = page.evaluate("() => document.getElementById('daily').data.findIndex(t => t.y[0] === 4)")
        page.evaluate("(i) => Plotly.Fx.hover('daily', [{curveNumber: i, pointNumber: 0}])", trace)
        hover = page.evaluate("() => document.querySelector('#daily .hoverlayer').textContent")
        assert hover == f"Sep 30, 2026{EVIL_EVENT}: 4"  # %{x} in the name stays text
        page.evaluate("() => Plotly.Fx.hover('bars', [{curveNumber: 0, pointNumber: 0}])")
        assert f"{EVIL_ACCOUNT}: 5 events" in page.evaluate(
            "() => document.querySelector('#bars .hoverlayer').textContent"
        )
        created = page.evaluate("""() => ({
            img: document.querySelectorAll('img, image').length,
            styled: [...document.querySelectorAll('svg tspan')].filter(t => /bold|italic/.test(t.getAttribute('style') || '')).length,
            pwned: window.__pwned === undefined ? null : window.__pwned,
        })""")
        assert created == {"img": 0, "styled": 0, "pwned": None}
        assert errors == []
    finally:
        context.close()


def test_backtest_chart_draws_each_rules_lift_with_gaps_for_na(browser, mock_build, tmp_path):
    """After `beton backtest` kept a result (here: rows written through the same store), the
    report's Backtest section draws a line per rule whose points are the stored lifts, a gap
    where the lift is n/a, names shown as text, and the rows in its table."""
    from datetime import datetime

    from beton_runner.backtest import SPEC, Backtest, store
    from beton_runner.rules import load_rules

    db = tmp_path / "backtest.duckdb"
    shutil.copy(mock_build.duckdb_path, db)  # the fixture is shared: write to a copy
    project = Project(dir=REPO, target="duckdb", duckdb_path=db, target_path=mock_build.target_path)
    rules = {r.key: r for r in load_rules(REPO / "rules")}
    as_ofs = [datetime(2026, 9, d, 12) for d in (8, 15, 22)]
    plan = {  # rule -> (name shown, [(flagged, flagged converted, not flagged, not flagged converted)])
        "pql_power_users": ("PQL: Power Users", [(4, 2, 8, 1), (5, 2, 9, 0), (4, 3, 9, 3)]),
        "pql_pricing_intent": ("<b>Buying</b> & intent", [(0, 0, 12, 2), (2, 1, 10, 2), (1, 1, 12, 4)]),
    }
    results = []
    for key, (name, counts) in plan.items():
        rows = []
        for as_of, (f, fc, n, nc) in zip(as_ofs, counts):
            precision, base = (fc / f if f else None), (nc / n if n else None)
            lift = precision / base if precision is not None and base else None
            rows.append(
                {
                    "rule_key": key, "rule_name": name, "level": "user", "as_of": as_of,
                    "conversion_events": "requested_demo", "within_days": 14, "eligible": f + n,
                    "flagged": f, "flagged_converted": fc, "not_flagged": n, "not_flagged_converted": nc,
                    "precision": precision, "base_rate": base, "lift": lift, "recall": None,
                    "median_lead_days": None, "horizon_complete": True, "computed_at": datetime(2026, 12, 1),
                }
            )  # fmt: skip
        results.append(
            Backtest(rules[key], ["requested_demo"], 14, 7, pd.DataFrame(rows, columns=SPEC.column_names), None)
        )
    store(project, results)
    report = build_report(project, tmp_path / "report.html", plays_dir=tmp_path / "none", compile_missing_sql=False)
    with report_page(browser, report.path) as (page, errors):
        drawn = page.evaluate(
            """() => {
                const el = document.getElementById('backtest-lift');
                return {
                    legend: [...el.querySelectorAll('.legendtext')].map(t => t.textContent),
                    points: el.querySelectorAll('.scatterlayer .trace .point').length,
                    y: el.data.map(t => [...t.y]),
                };
            }"""
        )
        assert sorted(drawn["legend"]) == sorted(name for name, _ in plan.values())  # markup shown as text
        expected = [
            [None if not f or not nc else round((fc / f) / (nc / n), 4) for f, fc, n, nc in counts]
            for _, counts in plan.values()
        ]
        assert drawn["y"] == expected
        assert drawn["points"] == sum(v is not None for y in expected for v in y)
        assert page.locator('nav a[href="#backtest"]').is_visible() and page.locator("#backtest").is_visible()
        assert len(column_values(page, "backtest", "lift")) == 6
        assert errors == []
