"""The playbook: which sales plays exist, and the signals that select each one.

A play is recommended only when its signals hold; its selector returns the evidence (one line
per signal that holds, quoting the facts) and an empty list otherwise. The copy of each play
(talk track, first email, objections, next steps) lives in templates/playbook.md.j2, one macro
per play key. docs/plays.md states every selection rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .facts import PLAN_ORDER, TOP_PLAN, UNPAID_PLANS
from .format import money, num, pct, score

# Thresholds (documented in docs/plays.md).
CHURN_MIN_PREVIOUS_EVENTS = 20  # a drop only counts from a real base
CHURN_DROP_PCT = 50  # events down by at least this much, window on window
TRIAL_MIN_ACTIVE_DAYS = 3  # an engaged trial without a finding
UPSELL_MIN_INTENT_EVENTS = 2  # buying-intent events (standard events category 'intent')
EXPANSION_MIN_ACTIVE_USERS = 3
EXPANSION_MIN_TEAM_EVENTS = 2  # invited_teammate + teammate_joined + added_seat
EXPANSION_MAX_DROP_PCT = 25  # no expansion play on an account whose usage is falling
LARGE_MIN_EMPLOYEES = 1000
LARGE_MIN_ARR = 100_000

Facts = dict
Selector = Callable[[Facts], list[str]]


@dataclass(frozen=True)
class Play:
    key: str
    title: str
    goal: str
    select: Selector


@dataclass
class Recommendation:
    key: str
    title: str
    goal: str
    evidence: list[str] = field(default_factory=list)


def _window(f: Facts) -> int:
    return f["usage"]["window_days"]


def _finding_line(finding: dict) -> str:
    who = f"{finding['who']} matched" if finding["level"] == "user" and finding.get("who") else "Matched"
    tier = f" ({finding['tier']})" if finding.get("tier") else ""
    line = (
        f"{who} **{finding['rule_name']}**{tier}: score {score(finding['score'])}, "
        f"rank {finding['rank']} of {finding['findings_on_rule']}."
    )
    terms = finding.get("breakdown") or []
    if terms:  # why this score: its terms (docs/rules.md, "Why")
        line += " Why: " + ", ".join(f"{t['points']:+.2f} {t['term']}" for t in terms)
        met = finding.get("signals_met") or []
        if met:
            line += " (signals met: " + ", ".join(f"`{m['signal']}` {num(m['count'])}x" for m in met) + ")"
        line += "."
    return line


def _counts(f: Facts, names: tuple[str, ...]) -> str:
    counts = f["usage"].get("event_counts_30d") or {}
    return ", ".join(f"`{n}` {num(counts[n])}" for n in names if counts.get(n))


def _trend_line(f: Facts) -> str | None:
    u = f["usage"]
    if u.get("trend_pct") is None:
        return None
    return (
        f"Events went from {num(u['events_prev_30d'])} in the previous {_window(f)} days to "
        f"{num(u['events_30d'])} in the last {_window(f)} ({pct(u['trend_pct'])})."
    )


def churn_save(f: Facts) -> list[str]:
    s, u = f["signals"], f["usage"]
    if not s["paying"]:
        return []
    evidence = [_finding_line(x) for x in f["findings"] if x["rule_key"] in s["churn_rules"]]
    dropped = (
        u["events_prev_30d"] >= CHURN_MIN_PREVIOUS_EVENTS
        and u.get("trend_pct") is not None
        and u["trend_pct"] <= -CHURN_DROP_PCT
    )
    if dropped:
        evidence.append(_trend_line(f))
    if s["risk_events_30d"]:
        evidence.append(
            f"Risk events in the last {_window(f)} days: {_counts(f, ('viewed_cancellation_page', 'downgraded_plan'))}."
        )
    if s["dormant"]:
        evidence.append(
            f"No product events in the last {_window(f)} days; the last one was on "
            f"{u['last_seen'][:10]}, {num(u['days_since_last_seen'])} days before as_of."
        )
    if evidence:
        evidence.insert(0, f"Paying account: {_paying_line(f)}.")
    return evidence


def _paying_line(f: Facts) -> str:
    a = f["account"]
    parts = []
    if a.get("plan"):
        parts.append(f"{a['plan']} plan")
    if a.get("arr"):
        parts.append(f"ARR {money(a['arr'])}")
    return ", ".join(parts) or "paid plan"


def reactivation(f: Facts) -> list[str]:
    s, u = f["signals"], f["usage"]
    if s["paying"] or not s["dormant"]:
        return []
    return [
        f"No product events in the last {_window(f)} days, after {num(u['events_total'])} events in total "
        f"between {u['first_seen'][:10]} and {u['last_seen'][:10]} "
        f"({num(u['days_since_last_seen'])} days before as_of).",
        f"Not paying: {('on the ' + f['account']['plan'] + ' plan') if f['account'].get('plan') else 'no paid plan on record'}.",
    ]


def trial_conversion(f: Facts) -> list[str]:
    s, u = f["signals"], f["usage"]
    if s["plan"] != "trial" or not u["events_30d"]:
        return []
    findings = [_finding_line(x) for x in f["findings"]]
    engaged = (u.get("active_days_30d") or 0) >= TRIAL_MIN_ACTIVE_DAYS
    if not findings and not engaged:
        return []
    return [
        f"On the trial plan (from the {f['account']['plan_source']}).",
        *findings,
        f"{num(u['events_30d'])} events on {num(u['active_days_30d'])} active days by "
        f"{num(u['active_users_30d'])} active user(s) in the last {_window(f)} days.",
    ]


def upsell(f: Facts) -> list[str]:
    s, u = f["signals"], f["usage"]
    plan = s["plan"]
    if plan not in PLAN_ORDER or plan in ("trial", TOP_PLAN) or not u["events_30d"]:
        return []
    evidence = []
    if s["intent_events_30d"] >= UPSELL_MIN_INTENT_EVENTS:
        intent = [n for n in (u.get("event_counts_30d") or {}) if (u.get("event_categories") or {}).get(n) == "intent"]
        detail = _counts(f, tuple(intent)) if intent else ""
        evidence.append(
            f"{num(s['intent_events_30d'])} buying-intent events in the last {_window(f)} days"
            + (f": {detail}." if detail else ".")
        )
    if s["usage_limit_hits_30d"]:
        evidence.append(
            f"Hit a plan limit {num(s['usage_limit_hits_30d'])} time(s) in the last {_window(f)} days "
            "(`hit_usage_limit`)."
        )
    if not evidence:
        return []
    findings = [_finding_line(x) for x in f["findings"] if x["rule_key"] not in s["churn_rules"]]
    return [f"On the {plan} plan, below {TOP_PLAN}.", *evidence, *findings]


def expansion(f: Facts) -> list[str]:
    s, u = f["signals"], f["usage"]
    if not s["paying"] or s["plan"] in UNPAID_PLANS or not u["events_30d"]:
        return []
    if u.get("trend_pct") is not None and u["trend_pct"] < -EXPANSION_MAX_DROP_PCT:
        return []
    evidence = []
    if (u.get("active_users_30d") or 0) >= EXPANSION_MIN_ACTIVE_USERS:
        evidence.append(
            f"{num(u['active_users_30d'])} active users in the last {_window(f)} days "
            f"({num(f['account']['known_users'])} known users in the account)."
        )
    if s["expansion_events_30d"] >= EXPANSION_MIN_TEAM_EVENTS:
        evidence.append(
            f"Team growth in the last {_window(f)} days: "
            f"{_counts(f, ('invited_teammate', 'teammate_joined', 'added_seat'))}."
        )
    if not evidence:
        return []
    trend = _trend_line(f)
    findings = [_finding_line(x) for x in f["findings"] if x["rule_key"] not in s["churn_rules"]]
    return [*evidence, *([trend] if trend else []), *findings]


def competitive_defense(f: Facts) -> list[str]:
    s, u = f["signals"], f["usage"]
    if not s["competitor_intent"] or not u["events_30d"]:
        return []
    return [
        f"Intent data: {x['topic']} (strength {x['strength']}, seen {x['recency_days']} days before the enrichment)."
        for x in s["competitor_intent"]
    ] + [f"Still active: {num(u['events_30d'])} events in the last {_window(f)} days."]


def executive_sponsor(f: Facts) -> list[str]:
    s, u, a = f["signals"], f["usage"], f["account"]
    if not s["large_account"] or not u["events_30d"] or s["active_executives_30d"]:
        return []
    size = []
    if a.get("segment") == "Enterprise":
        size.append("Enterprise segment")
    if (a.get("employees") or 0) >= LARGE_MIN_EMPLOYEES:
        size.append(f"{num(a['employees'])} employees")
    if (a.get("arr") or 0) >= LARGE_MIN_ARR:
        size.append(f"ARR {money(a['arr'])}")
    return [
        f"Large account: {', '.join(size)}.",
        f"{num(u['active_users_30d'])} active user(s) in the last {_window(f)} days, none of them at VP or C-level"
        + ("" if s["active_contacts_30d"] else " (and none identified by name yet)")
        + ".",
    ]


# In priority order: the first plays are the most urgent.
PLAYBOOK: tuple[Play, ...] = (
    Play("churn_save", "Churn save", "Keep a paying account that is slipping away.", churn_save),
    Play("reactivation", "Re-activation", "Bring a dormant, non-paying account back to the product.", reactivation),
    Play("trial_conversion", "Trial conversion", "Turn an engaged trial into a paying customer.", trial_conversion),
    Play("upsell", "Upsell to a higher plan", "Move an account that is outgrowing its plan up a tier.", upsell),
    Play("expansion", "Expansion / seat growth", "Grow a healthy paying account to more users and teams.", expansion),
    Play(
        "competitive_defense",
        "Competitive defense",
        "Protect an active account that is looking at a competitor.",
        competitive_defense,
    ),
    Play(
        "executive_sponsor",
        "Executive sponsor",
        "Get a senior sponsor into a large account with real usage.",
        executive_sponsor,
    ),
)
PLAYS_BY_KEY = {p.key: p for p in PLAYBOOK}


def recommend(facts: Facts) -> list[Recommendation]:
    """The plays whose signals hold for this account, most urgent first."""
    out = []
    for play in PLAYBOOK:
        evidence = [line for line in play.select(facts) if line]
        if evidence:
            out.append(Recommendation(play.key, play.title, play.goal, evidence))
    return out
