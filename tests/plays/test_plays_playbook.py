"""The playbook's selection rules, one by one, on hand-made facts: a play is recommended exactly
when its signals hold (docs/plays.md), and every play renders with only the facts' numbers."""

from __future__ import annotations

import copy

import pytest

from beton_runner.plays.facts import derive_signals
from beton_runner.plays.grounding import allowed_numbers, numbers_in_text, parse_number_words, ungrounded_numbers
from beton_runner.plays.playbook import PLAYBOOK, recommend
from beton_runner.plays.render import DeterministicEngine


def contact(name="Ada Lovelace", title="Data Analyst", events=10, seniority=None, role=None, user_id="u1"):
    return {
        "user_id": user_id,
        "name": name,
        "email": f"{name.split()[0].lower()}@example.com",
        "job_title": title,
        "seniority": seniority,
        "department": None,
        "buying_role": role,
        "events_30d": events,
        "active_days_30d": 4 if events else 0,
        "last_seen": "2026-09-30 10:00:00" if events else None,
        "rules_matched": [],
    }


def finding(rule_key="pqa_active", rule_name="PQA: Active", level="account", score=12.5, rank=1, of=3, who="Co"):
    return {
        "rule_key": rule_key,
        "rule_name": rule_name,
        "description": None,
        "window_days": 30,
        "level": level,
        "entity_id": "acc_x",
        "who": who,
        "email": None,
        "score": score,
        "rank": rank,
        "findings_on_rule": of,
        "event_count": 40,
        "active_days": 5,
        "active_users": 2,
        "days_since_last_event": 0,
    }


def make(
    *,
    plan="business",
    arr=50_000,
    segment="Mid-Market",
    employees=300,
    events=120,
    prev=100,
    users=2,
    days=12,
    total=None,
    counts=None,
    findings=(),
    contacts=None,
    intent=None,
    last_seen="2026-09-30 10:00:00",
    since=1,
):
    """Facts as FactsReader builds them, written by hand."""
    counts = dict(counts or {})
    categories = {
        "viewed_pricing_page": "intent",
        "viewed_enterprise_features": "intent",
        "requested_demo": "intent",
        "contacted_sales": "intent",
        "started_checkout": "intent",
        "hit_usage_limit": "expansion",
        "added_seat": "expansion",
        "invited_teammate": "collaboration",
        "teammate_joined": "collaboration",
        "viewed_cancellation_page": "risk",
        "downgraded_plan": "risk",
    }
    by_category: dict[str, int] = {}
    for name, count in counts.items():
        by_category[categories.get(name, "engagement")] = by_category.get(categories.get(name, "engagement"), 0) + count
    facts = {
        "as_of": "2026-10-01 12:00:00",
        "account": {
            "account_id": "acc_x",
            "name": "Co",
            "domain": "co.example",
            "segment": segment,
            "arr": arr,
            "owner_email": "owner.person@seller.example",
            "industry": "Software",
            "employees": employees,
            "country": "US",
            "plan": plan,
            "plan_source": "product events",
            "known_users": max(users, 1),
        },
        "findings": list(findings),
        "usage": {
            "window_days": 30,
            "events_30d": events,
            "events_prev_30d": prev,
            "trend_pct": round((events - prev) * 100 / prev) if prev else None,
            "active_users_30d": users if events else 0,
            "active_days_30d": days if events else 0,
            "last_seen_30d": last_seen if events else None,
            "events_total": total if total is not None else events + prev,
            "first_seen": "2026-06-01 09:00:00" if (total or events or prev) else None,
            "last_seen": last_seen if (total or events or prev) else None,
            "days_since_last_seen": since if (total or events or prev) else None,
            "top_features": [{"event": "ran_query", "count": events, "category": "engagement"}] if events else [],
            "top_features_ever": [{"event": "ran_query", "count": events + prev, "category": "engagement"}],
            "events_by_category_30d": by_category,
            "event_counts_30d": counts,
            "event_categories": {n: categories.get(n, "engagement") for n in counts},
        },
        "enrichment": None
        if intent is None
        else {
            "provider": "simulation",
            "industry": "Software",
            "employee_band": "201-500",
            "revenue_band": "$10M-$50M",
            "hq_country": "United States",
            "funding_stage": "Series B",
            "founded_year": 2012,
            "description": "Co makes things.",
            "linkedin_url": None,
            "domain": "co.example",
            "employees": None,
            "annual_revenue": None,
            "intent_signals": intent,
            "tech_stack": [{"category": "CRM", "product": "HubSpot"}],
        },
        "contacts": [contact()] if contacts is None else contacts,
    }
    facts["signals"] = derive_signals(facts)
    return facts


def plays(facts) -> list[str]:
    return [r.key for r in recommend(facts)]


CHURN = finding("churn_risk_quiet", "Churn Risk: Quiet", score=40.1, rank=2, of=4)


@pytest.mark.parametrize(
    "facts, holds",
    [
        (make(findings=[CHURN]), True),  # paying + churn rule
        (make(plan="free", arr=None, findings=[CHURN]), False),  # churn rule but not paying
        (make(events=40, prev=100), True),  # -60% from a real base
        (make(events=60, prev=100), False),  # -40%: not enough of a drop
        (make(events=2, prev=10), False),  # -80% but the base is too small
        (make(counts={"viewed_cancellation_page": 1}), True),  # a risk event
        (make(counts={"downgraded_plan": 1}), True),
        (make(events=0, prev=0, total=300, since=45), True),  # paying and gone quiet
        (make(plan="team", arr=None, events=0, prev=0, total=300, since=45), True),  # paid plan without ARR
        (make(), False),  # a healthy paying account
    ],
)
def test_churn_save(facts, holds):
    assert ("churn_save" in plays(facts)) is holds


def test_churn_save_evidence_quotes_the_facts():
    facts = make(events=40, prev=100, findings=[CHURN], counts={"viewed_cancellation_page": 2})
    (rec,) = [r for r in recommend(facts) if r.key == "churn_save"]
    assert rec.evidence == [
        "Paying account: business plan, ARR $50,000.",
        "Matched **Churn Risk: Quiet**: score 40.10, rank 2 of 4.",
        "Events went from 100 in the previous 30 days to 40 in the last 30 (-60%).",
        "Risk events in the last 30 days: `viewed_cancellation_page` 2.",
    ]


@pytest.mark.parametrize(
    "facts, holds",
    [
        (make(plan="free", arr=None, events=0, prev=0, total=80, since=50), True),
        (make(plan="trial", arr=0, events=0, prev=20, total=20, since=33), True),
        (make(plan=None, arr=None, events=0, prev=0, total=5, since=70), True),
        (make(plan="free", arr=None, events=0, prev=0, total=0), False),  # never used the product
        (make(plan="free", arr=None, events=3, prev=0), False),  # active this month
        (make(plan="business", events=0, prev=0, total=80, since=50), False),  # paying: churn save instead
    ],
)
def test_reactivation(facts, holds):
    assert ("reactivation" in plays(facts)) is holds


@pytest.mark.parametrize(
    "facts, holds",
    [
        (make(plan="trial", arr=None, findings=[finding(level="user", who="Ada")], days=1), True),
        (make(plan="trial", arr=None, days=3), True),  # engaged without a finding
        (make(plan="trial", arr=None, days=2), False),  # not engaged enough
        (make(plan="trial", arr=None, events=0, prev=0, total=40, findings=[finding()]), False),  # no events this month
        (make(plan="free", arr=None, days=20), False),
        (make(plan="business", days=20), False),
    ],
)
def test_trial_conversion(facts, holds):
    assert ("trial_conversion" in plays(facts)) is holds


@pytest.mark.parametrize(
    "facts, holds",
    [
        (make(plan="team", counts={"viewed_pricing_page": 1, "requested_demo": 1}), True),
        (make(plan="free", arr=None, counts={"viewed_enterprise_features": 2}), True),
        (make(plan="team", counts={"viewed_pricing_page": 1}), False),  # one intent event is not enough
        (make(plan="business", counts={"hit_usage_limit": 1}), True),  # a plan limit hit
        (make(plan="enterprise", counts={"viewed_pricing_page": 5, "hit_usage_limit": 3}), False),  # top plan
        (make(plan="trial", arr=None, counts={"viewed_pricing_page": 5}), False),  # trial: conversion instead
        (make(plan="platinum", counts={"viewed_pricing_page": 5}), False),  # unknown plan name
        (make(plan=None, counts={"viewed_pricing_page": 5}), False),
        (make(plan="team", events=0, prev=50, counts={}), False),  # no events this month
    ],
)
def test_upsell(facts, holds):
    assert ("upsell" in plays(facts)) is holds


@pytest.mark.parametrize(
    "facts, holds",
    [
        (make(users=3), True),
        (make(users=2, counts={"invited_teammate": 1, "teammate_joined": 1}), True),
        (make(users=2, counts={"added_seat": 1}), False),
        (make(users=5, plan="free", arr=None), False),  # not paying
        (make(users=5, plan="trial", arr=10), False),  # a trial with ARR is still a trial
        (make(users=5, events=70, prev=100), False),  # -30%: usage is falling
        (make(users=5, events=80, prev=100), True),  # -20%: still healthy
        (make(users=5, events=0, prev=0, total=100), False),
    ],
)
def test_expansion(facts, holds):
    assert ("expansion" in plays(facts)) is holds


def competitor(strength=70, days=10, category="competitor"):
    return {
        "topic_key": "competitor_x",
        "topic": "Evaluating a competitor: Rival",
        "category": category,
        "strength": strength,
        "recency_days": days,
    }


@pytest.mark.parametrize(
    "facts, holds",
    [
        (make(intent=[competitor()]), True),
        (make(intent=[competitor(strength=60, days=30)]), True),  # both thresholds inclusive
        (make(intent=[competitor(strength=59)]), False),
        (make(intent=[competitor(days=31)]), False),
        (make(intent=[competitor(category="hiring")]), False),
        (make(intent=[competitor()], events=0, prev=0, total=10), False),  # not using the product
        (make(intent=None), False),  # not enriched
    ],
)
def test_competitive_defense(facts, holds):
    assert ("competitive_defense" in plays(facts)) is holds


@pytest.mark.parametrize(
    "facts, holds",
    [
        (make(segment="Enterprise"), True),
        (make(segment="SMB", employees=1000, arr=None), True),
        (make(segment="SMB", employees=999, arr=100_000), True),
        (make(segment="SMB", employees=999, arr=99_999), False),  # not a large account
        (make(segment="Enterprise", contacts=[contact(seniority="VP")]), False),  # a VP is active
        (make(segment="Enterprise", contacts=[contact(title="Chief Data Officer")]), False),  # C-level by title
        (make(segment="Enterprise", contacts=[contact(seniority="VP", events=0)]), True),  # the VP is not active
        (make(segment="Enterprise", contacts=[]), True),  # only anonymous users
        (make(segment="Enterprise", events=0, prev=0, total=10), False),  # no usage this month
    ],
)
def test_executive_sponsor(facts, holds):
    assert ("executive_sponsor" in plays(facts)) is holds


def test_plays_come_in_priority_order_and_nothing_without_signals():
    facts = make(
        plan="team",
        users=4,
        counts={"viewed_pricing_page": 2, "invited_teammate": 2},
        segment="Enterprise",
        intent=[competitor()],
        findings=[CHURN],
    )
    assert plays(facts) == ["churn_save", "upsell", "expansion", "competitive_defense", "executive_sponsor"]
    assert [p.key for p in PLAYBOOK][:3] == ["churn_save", "reactivation", "trial_conversion"]
    quiet = make(plan="business", users=1, segment="SMB", employees=20, arr=5000)
    assert plays(quiet) == []
    text = DeterministicEngine().write(quiet).markdown
    assert "No play's signals hold for this account right now" in text


CASES = {
    "churn_save": make(findings=[CHURN], events=0, prev=0, total=300, since=45),
    "reactivation": make(plan="free", arr=None, events=0, prev=0, total=80, since=50, contacts=[]),
    "trial_conversion": make(plan="trial", arr=None, findings=[finding(level="user", who="Ada Lovelace")]),
    "upsell": make(plan="team", counts={"viewed_pricing_page": 3, "hit_usage_limit": 1}),
    "expansion": make(
        users=6,
        counts={"added_seat": 2},
        contacts=[contact(role="Budget Holder", seniority="Director"), contact("Bob Stone", user_id="u2")],
    ),
    "competitive_defense": make(intent=[competitor(88, 4)]),
    "executive_sponsor": make(segment="Enterprise", employees=12_000, contacts=[]),
}


@pytest.mark.parametrize("key", [p.key for p in PLAYBOOK])
def test_each_play_renders_grounded_and_complete(key):
    facts = CASES[key]
    assert key in plays(facts)
    document = DeterministicEngine().write(facts)
    text = document.markdown
    title = next(p.title for p in PLAYBOOK if p.key == key)
    section = text.split(f"### {title}", 1)[1].split("\n### ", 1)[0]
    for heading in (
        "**Why now**",
        "**Talk track**",
        "**First email**",
        "> **Subject:**",
        "**Objections**",
        "**Next steps**",
    ):
        assert heading in section, heading
    assert ungrounded_numbers(text, facts) == []
    assert "Owner Person" in section  # the email is signed by the account owner
    assert DeterministicEngine().write(copy.deepcopy(facts)).markdown == text  # deterministic


# --- the grounding check ------------------------------------------------------------------------


def test_grounding_reads_numbers_like_a_person_does():
    facts = {
        "arr": 84000,
        "score": 35.393591,
        "as_of": "2026-10-01 12:00:00",
        "band": "1,001-5,000",
        "id": "acc_001",
        "trend": -48,
        "ok": True,
    }
    allowed = allowed_numbers(facts)
    assert (
        ungrounded_numbers(
            "ARR $84,000, score 35.39 (35.4), as of 2026-10-01 12:00, band 1,001-5,000, trend -48%, account acc_001",
            facts,
            allowed=allowed,
        )
        == []
    )
    # issue #12: digits glued to letters are numbers too (ids in the facts ground themselves, as acc_001 above)
    assert ungrounded_numbers("anon_91c0 and person_009", facts, allowed=allowed) == ["91", "009"]
    assert ungrounded_numbers("Offer a 37% discount on 84,001 seats", facts) == ["37", "84,001"]
    assert ungrounded_numbers("1. first\n2. second\n  3) third", facts) == []  # list markers
    assert ungrounded_numbers("Call within 24h", facts) == ["24"]  # glued units still count
    assert ungrounded_numbers("version 1.2.3", {"v": "1.2"}) == ["1.2.3"]
    assert [t for t, _ in numbers_in_text("x 1,2 and 3.5")] == ["1,2", "3.5"]
    assert ungrounded_numbers("true is not a number: 1", {"ok": True}) == ["1"]


# issue #12: numbers written in words, glued to letters or with a scale count for grounding
@pytest.mark.parametrize(
    "text, expected",
    [
        ("two hundred fifty thousand dollars", [("two hundred fifty thousand", 250_000)]),
        ("a million events", [("a million", 1_000_000)]),
        ("an hundred", [("an hundred", 100)]),
        ("twenty-five seats", [("twenty-five", 25)]),
        ("Ninety Nine", [("Ninety Nine", 99)]),
        ("three hundred and twelve", [("three hundred and twelve", 312)]),
        ("two million three thousand and seven", [("two million three thousand and seven", 2_003_007)]),
        ("fifteen hundred", [("fifteen hundred", 1_500)]),
        ("a dozen seats, two dozen users", [("a dozen", 12), ("two dozen", 24)]),
        ("a thousand and one nights", [("a thousand and one", 1_001)]),
        ("two or three objections", [("two", 2), ("three", 3)]),
        ("two three", [("two", 2), ("three", 3)]),
        ("zero risk", [("zero", 0)]),
        ("one hundred, twenty-one", [("one hundred", 100), ("twenty-one", 21)]),
        ("the one who signs; a one-off; one of them", []),  # a lone "one" is a pronoun
        ("thousands of users, a hundredth, the first call", []),  # plurals and ordinals are not numbers
        ("a thousand thousand", [("a thousand", 1_000)]),  # scales must shrink: the second starts nothing
    ],
)
def test_parse_number_words(text, expected):
    assert parse_number_words(text) == expected


def test_digits_glued_to_letters_and_scaled_digits_are_numbers():
    values = {
        token: [float(v) for v in vs]
        for token, vs in numbers_in_text(
            "USD250000, INV7431A, 250k, 1.5M, 3bn, 2.5 million, 5 Hundred, Q4, 9pm, 10Mbps"
        )
    }
    assert values == {
        "250000": [250_000],
        "7431": [7431],
        "250k": [250_000],
        "1.5M": [1_500_000],
        "3bn": [3_000_000_000],
        "2.5 million": [2_500_000],
        "5 Hundred": [500],
        "4": [4],
        "9": [9],
        "10": [10],
    }
    facts = {"arr": 250000, "band": "$1M-$10M", "title": "two hundred seats"}
    assert ungrounded_numbers("ARR of $250k, USD250000, two hundred fifty thousand", facts) == []
    assert ungrounded_numbers("revenue $1M-$10M; 1 to 10 million; two hundred seats", facts) == []
    assert ungrounded_numbers("250 seats, 250 thousand, 2.5 million, a million", {"seats": 250}) == [
        "250 thousand",
        "2.5 million",
        "a million",
    ]
    assert ungrounded_numbers("Twenty-five percent off, forty seats", {"discount": 25}) == ["forty"]
