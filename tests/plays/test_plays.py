"""`beton plays` on the enriched mock warehouse: each play mentions its account's actual matched
rules and scores, usage metrics, enrichment and contacts, each value read from the warehouse
here with plain SQL (not through beton_runner)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from click.testing import CliRunner
from test_enrich_shared import REPO, enriched_project, sql

from beton_runner.cli.plays import plays_command
from beton_runner.errors import ConfigError
from beton_runner.plays import generate_plays
from beton_runner.plays.grounding import ungrounded_numbers


@pytest.fixture(scope="module")
def enriched(mock_build, tmp_path_factory):
    return enriched_project(mock_build, tmp_path_factory)


@pytest.fixture(scope="module")
def documents(enriched):
    return {d.account_id: d for d in generate_plays(enriched)}


def punch_list_accounts(project) -> list[str]:
    return sql(
        project,
        "select distinct account_id from beton_inspections.insp_findings where account_id is not null order by 1",
    )["account_id"].tolist()


def money(value: float) -> str:
    return f"${int(value):,}"


def test_default_accounts_are_those_on_a_punch_list(enriched, documents):
    expected = punch_list_accounts(enriched)
    assert sorted(documents) == expected
    assert len(expected) == 9  # Tidewater Media is only on PQL: Buying Signals (Olivia Brown)


def expected_usage(project, account_id: str) -> dict:
    """Usage over the 30 UTC days to as_of (docs/rules.md windows), from int_events."""
    as_of = sql(project, "select max(as_of) as a from beton_marts.dim_accounts")["a"].iloc[0]
    events = sql(
        project,
        "select event_name, event_at, user_id from beton_intermediate.int_events "
        "where account_id = ? and event_at <= ?",
        [account_id, as_of],
    )
    events["day"] = events["event_at"].dt.normalize()
    start = as_of.normalize() - timedelta(days=30)
    recent = events[events["day"] > start]
    previous = events[(events["day"] <= start) & (events["day"] > start - timedelta(days=30))]
    top = (
        recent.groupby("event_name")
        .size()
        .reset_index(name="n")
        .sort_values(["n", "event_name"], ascending=[False, True])
        .head(5)
    )
    return {
        "events": len(recent),
        "previous": len(previous),
        "users": recent["user_id"].nunique(),
        "days": recent["day"].nunique(),
        "top": list(zip(top["event_name"], top["n"])),
        "total": len(events),
    }


def test_each_play_quotes_its_accounts_rules_scores_and_ranks(enriched, documents):
    findings = sql(enriched, "select * from beton_inspections.insp_findings")
    sizes = findings.groupby("rule_key").size()
    for account_id, document in documents.items():
        mine = findings[findings["account_id"] == account_id]
        assert len(mine) > 0
        for row in mine.itertuples():
            line = f"| {row.rule_name} (`{row.rule_key}`) | {row.level} |"
            assert line in document.markdown, (account_id, line)
            assert f"| {row.score:.2f} | {row.rank} of {sizes[row.rule_key]} |" in document.markdown
        others = findings[(findings["account_id"] != account_id) & ~findings["rule_key"].isin(mine["rule_key"])]
        for name in set(others["rule_name"]):
            assert f"| {name} (" not in document.markdown  # no other account's rules


def test_each_play_quotes_usage_computed_from_events(enriched, documents):
    for account_id, document in documents.items():
        usage = expected_usage(enriched, account_id)
        text = document.markdown
        assert f"**{usage['events']:,} events** in the last 30 days" in text
        assert f"on {usage['days']:,} active day(s), by {usage['users']:,} active user(s)" in text
        if usage["previous"]:
            change = round((usage["events"] - usage["previous"]) * 100 / usage["previous"])
            assert (
                f"{usage['previous']:,} events in the previous 30 days, so {'+' if change > 0 else ''}{change}%" in text
            )
        if usage["top"]:
            listed = ", ".join(f"`{name}` ({n:,})" for name, n in usage["top"])
            assert f"Top features (last 30 days): {listed}." in text
        assert f"{usage['total']:,} events in total" in text


def test_each_play_lists_the_most_active_people_with_titles_and_roles(enriched, documents):
    for account_id, document in documents.items():
        people = sql(
            enriched,
            """
            select u.name, u.email, u.job_title, u.events_30d, e.seniority, e.buying_role
            from beton_marts.dim_users u
            left join beton_enrichment.user_enrichment e using (user_id)
            where u.account_id = ? and u.is_person
            order by u.events_30d desc, u.user_id
            limit 5""",
            [account_id],
        )
        if people.empty:
            assert "No identified people yet" in document.markdown
            continue
        rows = [line for line in document.markdown.splitlines() if line.startswith("| ") and "@" in line]
        assert len(rows) == len(people)
        for line, person in zip(rows, people.itertuples()):
            assert line.startswith(
                f"| {person.name} <{person.email}> | {person.job_title} | {person.seniority} | "
                f"{person.buying_role} | {person.events_30d:,} |"
            ), line
    # the champion is greeted in the first email
    assert "> Hi Alice," in documents["acc_001"].markdown


def test_each_play_shows_the_enrichment(enriched, documents):
    for account_id, document in documents.items():
        intel = sql(enriched, "select * from beton_enrichment.account_enrichment where account_id = ?", [account_id])
        row = intel.iloc[0]
        assert (
            f"{row.industry} · {row.employee_band} employees · revenue {row.revenue_band} · HQ {row.hq_country}"
            f" · {row.funding_stage} · founded {row.founded_year}" in document.markdown
        )
        for signal in sql(
            enriched,
            "select topic, strength, recency_days from beton_enrichment.account_intent_signals where account_id = ?",
            [account_id],
        ).itertuples():
            assert f"{signal.topic} (strength {signal.strength}, {signal.recency_days} days ago)" in document.markdown
        for tech in sql(
            enriched,
            "select category, product from beton_enrichment.account_tech_stack where account_id = ?",
            [account_id],
        ).itertuples():
            assert f"{tech.category}: {tech.product}" in document.markdown


def test_account_header_and_grounding(enriched, documents):
    accounts = sql(enriched, "select * from beton_marts.dim_accounts").set_index("account_id")
    for account_id, document in documents.items():
        row = accounts.loc[account_id]
        assert document.markdown.startswith(f"# Sales plays: {row['name']} ({row['domain']})\n")
        if not pd.isna(row["arr"]) and row["arr"]:
            assert f"ARR {money(row['arr'])}" in document.markdown
        assert "facts as of 2026-10-01 12:00 UTC" in document.markdown
        assert document.engine == "deterministic"


def test_the_mock_accounts_get_the_plays_their_signals_call_for(documents):
    # worked out by hand from the mock data (seeds/mock) and docs/plays.md
    assert documents["acc_006"].plays == ["churn_save"]  # Quanta Cloud: churn rule, silent for 36 days
    assert documents["acc_008"].plays == ["trial_conversion"]  # Pipewise: trial + PQL High Intent Trial
    assert "upsell" in documents["acc_003"].plays  # Bluebird: team plan, pricing + limits
    assert documents["acc_001"].plays[0] == "expansion"  # Acme: 3 active users, seats added
    assert documents["acc_011"].plays == ["executive_sponsor"]  # Meridian Bank: enterprise, anonymous users only
    text = documents["acc_006"].markdown
    assert "the last one was on 2026-08-26, 36 days before as_of" in text
    assert "Matched **Churn Risk: Previously Active, Now Disengaged**: score 47.48, rank 1 of 1." in text


def test_accounts_by_domain_id_or_name_and_all(enriched):
    one = [d.markdown for d in generate_plays(enriched, ["acme.io"])]
    assert one == [d.markdown for d in generate_plays(enriched, ["ACC_001", "Acme Analytics"])]
    every = generate_plays(enriched, all_accounts=True)
    assert len(every) == 15
    with pytest.raises(ConfigError, match=r"no account 'acme.co' .*did you mean 'acme.io'"):
        generate_plays(enriched, ["acme.co"])
    for document in every:
        facts_free = ungrounded_numbers(document.markdown, {})  # sanity: plays do contain numbers
        assert facts_free or not document.plays


def test_plays_command_writes_files_and_prints_one_account(enriched, tmp_path):
    env = {"BETON_DUCKDB_PATH": str(enriched.duckdb_path), "BETON_PROJECT_DIR": str(enriched.dir)}
    result = CliRunner().invoke(plays_command, ["--account", "pipewise.app", "--out", str(tmp_path / "p")], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Sales plays: Pipewise (pipewise.app)")
    assert (tmp_path / "p" / "pipewise-app.md").read_text(encoding="utf-8") == result.stdout.rstrip("\n") + "\n"
    index = (tmp_path / "p" / "index.md").read_text(encoding="utf-8")
    assert (
        "| Pipewise | pipewise.app | Trial conversion | deterministic | [pipewise-app.md](pipewise-app.md) |" in index
    )
    result = CliRunner().invoke(plays_command, ["--account", "nope.example"], env=env)
    assert result.exit_code == 1 and "no account 'nope.example'" in result.stderr


def test_plays_work_before_enrichment(mock_build):
    (document,) = generate_plays(mock_build, ["acme.io"])
    assert "Not enriched yet: run `beton enrich`. The CRM says: Software, 220 employees, US." in document.markdown
    assert "| Alice Chen <alice.chen@acme.io> | Head of Analytics | Director |  |" in document.markdown


def test_the_sample_in_the_docs_is_what_beton_writes(documents):
    text = (REPO / "docs" / "plays.md").read_text(encoding="utf-8")
    sample = text.split("```markdown\n", 1)[1].rsplit("```", 1)[0]
    assert sample == documents["acc_008"].markdown
