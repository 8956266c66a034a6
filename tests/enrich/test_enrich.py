"""`beton enrich` with the simulation provider: deterministic across runs and processes, values
from their catalogues, plausible against what the CRM knows, and joined by the enriched marts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_enrich_shared import REPO, enriched_project, fresh_copy, run_command, sql

from beton_runner.enrich import catalogue as cat
from beton_runner.enrich.model import AccountInput, UserInput
from beton_runner.enrich.simulation import SimulationProvider, normalise_domain

TABLES = ("account_enrichment", "account_intent_signals", "account_tech_stack", "user_enrichment")
KEYS = {
    "account_enrichment": ["account_id"],
    "account_intent_signals": ["account_id", "position"],
    "account_tech_stack": ["account_id", "position"],
    "user_enrichment": ["user_id"],
}


@pytest.fixture(scope="module")
def enriched(mock_build, tmp_path_factory):
    return enriched_project(mock_build, tmp_path_factory)


def _tables(project) -> dict[str, pd.DataFrame]:
    return {t: sql(project, f"select * from beton_enrichment.{t} order by {', '.join(KEYS[t])}") for t in TABLES}


def _mock_inputs(project) -> tuple[list[AccountInput], list[UserInput]]:
    accounts = sql(
        project,
        "select account_id, name, domain, industry, employees, country, segment "
        "from beton_marts.dim_accounts order by account_id",
    )
    users = sql(
        project,
        "select user_id, email, name, job_title, account_id from beton_marts.dim_users "
        "where is_person order by user_id",
    )
    none = lambda v: None if pd.isna(v) else v  # noqa: E731
    return (
        [
            AccountInput(
                r.account_id,
                none(r.name),
                none(r.domain),
                none(r.industry),
                none(r.employees),
                none(r.country),
                none(r.segment),
            )
            for r in accounts.itertuples()
        ],
        [
            UserInput(r.user_id, none(r.email), none(r.name), none(r.job_title), none(r.account_id))
            for r in users.itertuples()
        ],
    )


# --- determinism -------------------------------------------------------------------------------


def test_two_enrich_processes_write_identical_tables(enriched, mock_build, tmp_path):
    """Two `beton enrich` processes (different hash seeds) on two copies, and the in-process run
    behind the shared fixture: the four enrichment tables are identical."""
    outputs = []
    for index, seed in enumerate(("0", "12345")):
        project = fresh_copy(mock_build, tmp_path, f"run{index}")
        result = run_command(
            "beton_runner.cli.enrich",
            "enrich_command",
            ["--no-refresh-marts"],
            project=project,
            env={"PYTHONHASHSEED": seed},
        )
        assert result.returncode == 0, result.stderr
        assert "accounts enriched" in result.stdout and "15 of 15" in result.stdout
        outputs.append(_tables(project))
    reference = _tables(enriched)
    for table in TABLES:
        assert len(reference[table]) > 0
        pd.testing.assert_frame_equal(outputs[0][table], outputs[1][table])
        pd.testing.assert_frame_equal(outputs[0][table], reference[table])


def test_simulation_is_a_pure_function_of_its_inputs(enriched):
    accounts, users = _mock_inputs(enriched)
    first = SimulationProvider().enrich(accounts, users).rows()
    second = SimulationProvider().enrich(list(reversed(accounts)), list(reversed(users))).rows()
    assert first == second
    code = (
        "import json, sys; from beton_runner.enrich.simulation import SimulationProvider as P; "
        "from beton_runner.enrich.model import AccountInput as A; "
        "print(json.dumps([r for r in P().enrich([A('x', 'Acme', 'https://www.Acme.io/pricing')], []).rows()"
        "['account_enrichment']]))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "987"},
    ).stdout
    here = SimulationProvider().enrich([AccountInput("x", "Acme", "acme.io")], []).rows()["account_enrichment"]
    assert json.loads(other) == here


def test_seed_is_the_normalised_domain():
    provider = SimulationProvider()
    plain = provider.account(AccountInput("a1", "Acme", "acme.io"))
    url = provider.account(AccountInput("a1", "Acme", " HTTPS://www.ACME.io/about?x=1 "))
    assert plain == url
    assert normalise_domain("https://user@www.Example.com:8443/path") == "example.com"
    other = provider.account(AccountInput("a1", "Acme", "acme.com"))
    assert other[0].description != plain[0].description or other[1] != plain[1] or other[2] != plain[2]


# --- catalogues and plausibility ---------------------------------------------------------------

BAND_LABELS = [b.label for b in cat.EMPLOYEE_BANDS]
REVENUE_LABELS = [b.label for b in cat.REVENUE_BANDS]
PRODUCTS = {c.name: {p.name for p in c.products} for c in cat.TECH_CATEGORIES}
TOPICS = {t.key: t for t in cat.INTENT_TOPICS}


def _assert_in_catalogues(result) -> None:
    for a in result.accounts:
        assert a.provider == "simulation"
        assert a.industry in cat.INDUSTRIES
        assert a.employee_band in BAND_LABELS
        assert a.revenue_band in REVENUE_LABELS
        assert a.hq_country in cat.COUNTRIES.values()
        assert a.funding_stage in cat.FUNDING_STAGES
        assert 1890 <= a.founded_year <= 2024
        assert a.linkedin_url.startswith("https://www.linkedin.com/company/")
        assert str(a.founded_year) in a.description and a.employee_band in a.description
    by_account: dict[str, list] = {}
    for s in result.intent:
        by_account.setdefault(s.account_id, []).append(s)
        topic = TOPICS[s.topic_key]
        assert (s.topic, s.category) == (topic.topic, topic.category)
        assert cat.INTENT_STRENGTH[0] <= s.strength <= cat.INTENT_STRENGTH[1]
        assert cat.INTENT_RECENCY_DAYS[0] <= s.recency_days <= cat.INTENT_RECENCY_DAYS[1]
    for signals in by_account.values():
        assert cat.INTENT_SIGNALS_PER_ACCOUNT[0] <= len(signals) <= cat.INTENT_SIGNALS_PER_ACCOUNT[1]
        assert [s.position for s in signals] == list(range(1, len(signals) + 1))
        assert [s.strength for s in signals] == sorted((s.strength for s in signals), reverse=True)
        assert len({s.topic_key for s in signals}) == len(signals)
        assert sum(s.category == "competitor" for s in signals) <= 1
    for t in result.tech:
        assert t.product in PRODUCTS[t.category]
    for u in result.users:
        assert u.seniority in cat.SENIORITIES
        assert u.department in cat.DEPARTMENTS
        assert u.buying_role in cat.BUYING_ROLES_BY_SENIORITY[u.seniority]


def test_mock_enrichment_is_within_catalogues(enriched):
    accounts, users = _mock_inputs(enriched)
    result = SimulationProvider().enrich(accounts, users)
    assert len(result.accounts) == 15 and len(result.users) == 15
    _assert_in_catalogues(result)


@settings(max_examples=150, deadline=None)
@given(
    domain=st.one_of(st.none(), st.text(min_size=0, max_size=30)),
    employees=st.one_of(st.none(), st.just(float("nan")), st.floats(min_value=-5, max_value=500_000)),
    country=st.one_of(st.none(), st.sampled_from(["US", "de", "Germany", "Atlantis", ""])),
    industry=st.one_of(st.none(), st.sampled_from(["software", "Basket weaving", ""])),
    title=st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["CEO", "VP Sales", "Data Analyst", "Intern"])),
    email=st.one_of(st.none(), st.emails()),
)
def test_any_input_stays_within_catalogues(domain, employees, country, industry, title, email):
    result = SimulationProvider().enrich(
        [AccountInput("acc", "Some Co", domain, industry, employees, country)],
        [UserInput("u1", email, "Some One", title, "acc")],
    )
    _assert_in_catalogues(result)


# CRM facts of the mock accounts (seeds/mock/beton_mock_accounts.csv), banded by hand.
KNOWN = {
    "acc_001": ("Software", "201-500", "United States"),
    "acc_002": ("Logistics", "1,001-5,000", "Germany"),
    "acc_003": ("Retail", "501-1,000", "United Kingdom"),
    "acc_007": ("Artificial Intelligence", "11-50", "France"),
    "acc_008": ("Software", "11-50", "Netherlands"),
    "acc_011": ("Financial Services", "10,001+", "United States"),
    "acc_013": ("Biotech", "11-50", "United States"),
}
# Titles of the mock persons -> (seniority, department), worked out by hand.
TITLES = {
    "person_001": ("Director", "Data & Analytics"),  # Head of Analytics
    "person_004": ("VP", "Operations"),  # VP Operations
    "person_005": ("Individual Contributor", "Operations"),  # Operations Analyst
    "person_006": ("Individual Contributor", "Engineering"),  # Platform Engineer
    "person_007": ("Director", "IT & Security"),  # Director of IT
    "person_008": ("Manager", "Data & Analytics"),  # BI Lead
    "person_009": ("C-Level", "Engineering"),  # CTO
    "person_011": ("C-Level", "Executive"),  # Founder
    "person_012": ("Director", "Marketing"),  # Head of Growth
    "person_015": ("Individual Contributor", "Data & Analytics"),  # Analytics Engineer
}


def test_simulation_keeps_what_the_crm_knows(enriched):
    tables = _tables(enriched)
    intel = tables["account_enrichment"].set_index("account_id")
    for account_id, (industry, band, country) in KNOWN.items():
        assert (
            intel.loc[account_id, "industry"],
            intel.loc[account_id, "employee_band"],
            intel.loc[account_id, "hq_country"],
        ) == (industry, band, country)
    people = tables["user_enrichment"].set_index("user_id")
    for user_id, (seniority, department) in TITLES.items():
        assert (people.loc[user_id, "seniority"], people.loc[user_id, "department"]) == (seniority, department)
    # executives sponsor, individual contributors do not
    assert people.loc["person_009", "buying_role"] in ("Executive Sponsor", "Decision Maker")
    assert people.loc["person_006", "buying_role"] in ("End User", "Influencer")


# --- the marts -------------------------------------------------------------------------------


def test_enriched_marts_build_before_enrich_ever_ran(mock_build):
    accounts = sql(mock_build, "select * from beton_marts.dim_accounts_enriched order by account_id")
    base = sql(mock_build, "select * from beton_marts.dim_accounts order by account_id")
    assert accounts["account_id"].tolist() == base["account_id"].tolist()
    assert not accounts["is_enriched"].any()
    for column in (
        "enrichment_provider",
        "employee_band",
        "revenue_band",
        "company_description",
        "tech_stack",
        "intent_topics",
        "founded_year",
    ):
        assert accounts[column].isna().all(), column
    assert (accounts["intent_signals"] == 0).all() and (accounts["tech_stack_size"] == 0).all()
    types = dict(
        sql(
            mock_build,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'beton_marts' and table_name = 'dim_accounts_enriched'",
        ).itertuples(index=False)
    )
    assert types["employee_band"] == "VARCHAR" and types["founded_year"] == "BIGINT"
    assert types["annual_revenue"] == "DOUBLE" and types["is_enriched"] == "BOOLEAN"
    users = sql(mock_build, "select * from beton_marts.dim_users_enriched")
    assert len(users) == len(sql(mock_build, "select * from beton_marts.dim_users"))
    assert not users["is_enriched"].any() and users["seniority"].isna().all()


def test_enriched_marts_join_the_enrichment(enriched):
    tables = _tables(enriched)
    marts = sql(enriched, "select * from beton_marts.dim_accounts_enriched").set_index("account_id")
    base = sql(enriched, "select * from beton_marts.dim_accounts").set_index("account_id")
    assert sorted(marts.index) == sorted(base.index)
    pd.testing.assert_frame_equal(marts[base.columns].sort_index(), base.sort_index())
    intel = tables["account_enrichment"].set_index("account_id")
    for account_id, row in marts.iterrows():
        assert row["is_enriched"] and row["enrichment_provider"] == "simulation"
        assert row["employee_band"] == intel.loc[account_id, "employee_band"]
        assert row["company_description"] == intel.loc[account_id, "description"]
        assert row["founded_year"] == intel.loc[account_id, "founded_year"]
        signals = tables["account_intent_signals"].query("account_id == @account_id").sort_values("position")
        assert row["intent_topics"] == "; ".join(signals["topic"])
        assert row["intent_signals"] == len(signals) and row["top_intent_strength"] == signals["strength"].max()
        tech = tables["account_tech_stack"].query("account_id == @account_id").sort_values("position")
        assert row["tech_stack"] == ", ".join(tech["product"]) and row["tech_stack_size"] == len(tech)
    users = sql(enriched, "select * from beton_marts.dim_users_enriched").set_index("user_id")
    people = tables["user_enrichment"].set_index("user_id")
    for user_id, row in users.iterrows():
        if user_id in people.index:
            assert row["is_enriched"]
            assert (row["seniority"], row["department"], row["buying_role"]) == tuple(
                people.loc[user_id, ["seniority", "department", "buying_role"]]
            )
        else:
            assert not row["is_enriched"] and pd.isna(row["seniority"])
            assert user_id.startswith("anon_")  # only unresolved distinct ids stay unenriched


def test_runs_are_logged(enriched):
    runs = sql(enriched, "select * from beton_enrichment.enrichment_runs")
    assert len(runs) >= 1
    assert runs.iloc[-1]["provider"] == "simulation" and runs.iloc[-1]["accounts"] == 15


def test_enrich_without_a_build_says_what_to_do(tmp_path):
    from beton_runner.project import Project

    project = Project(dir=REPO, duckdb_path=tmp_path / "missing.duckdb", target_path=tmp_path / "t")
    result = run_command("beton_runner.cli.enrich", "enrich_command", ["--no-refresh-marts"], project=project)
    assert result.returncode == 1
    assert "no warehouse at" in result.stderr and "beton demo" in result.stderr
    assert "Traceback" not in result.stderr
