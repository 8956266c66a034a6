"""The deterministic engine: Jinja2 templates (beton_runner/plays/templates) over the facts and the
plays the playbook selected. Same facts, same Markdown, byte for byte."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from .errors import PlaysError
from .format import FILTERS, first_name, name_from_email
from .grounding import ungrounded_numbers
from .playbook import Recommendation, recommend

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
BUYER_ROLES = ("Decision Maker", "Budget Holder", "Executive Sponsor")
# How the copy names a standard event when it talks about a feature; None = not a feature
# (sessions, sign-up steps, buying intent, risk). Other events: their name with spaces.
FEATURE_PHRASES: dict[str, str | None] = {
    "signed_up": None,
    "email_verified": None,
    "completed_onboarding": None,
    "logged_in": None,
    "created_project": "projects",
    "connected_data_source": "connected data sources",
    "installed_sdk": "the SDK",
    "created_api_key": "the API",
    "used_api": "the API",
    "viewed_dashboard": "dashboards",
    "created_dashboard": "dashboards",
    "ran_query": "queries",
    "created_report": "reports",
    "exported_data": "data exports",
    "created_alert": "alerts",
    "shared_dashboard": "shared dashboards",
    "commented": "comments",
    "invited_teammate": "team invites",
    "teammate_joined": None,
    "added_seat": None,
    "enabled_integration": "integrations",
    "hit_usage_limit": None,
    "upgraded_plan": None,
    "viewed_pricing_page": None,
    "started_checkout": None,
    "requested_demo": None,
    "contacted_sales": None,
    "viewed_enterprise_features": None,
    "downgraded_plan": None,
    "submitted_support_ticket": None,
    "viewed_cancellation_page": None,
}
NOT_FEATURE_CATEGORIES = ("intent", "risk")
INTENT_PHRASES = {
    "viewed_pricing_page": "pricing",
    "started_checkout": "checkout",
    "requested_demo": "a demo",
    "contacted_sales": "a conversation with sales",
    "viewed_enterprise_features": "enterprise features",
}


@dataclass
class PlayDocument:
    """One account's plays, as written by an engine."""

    account_id: str
    name: str | None
    domain: str | None
    markdown: str
    plays: list[str]
    engine: str
    warnings: list[str] = field(default_factory=list)
    fallback: bool = False


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML; table cells go through the `md` filter
    )
    env.filters.update(FILTERS)
    return env


def _plain_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def feature_phrases(features: list[dict], limit: int = 3) -> list[str]:
    """Customer-facing names of the features among ``features`` (top-feature facts), deduplicated."""
    out: list[str] = []
    for item in features:
        event = item["event"]
        if event in FEATURE_PHRASES:
            phrase = FEATURE_PHRASES[event]
        elif item.get("category") in NOT_FEATURE_CATEGORIES:
            phrase = None
        else:
            phrase = event.replace("_", " ").replace("$", "").strip() or None
        if phrase and phrase not in out:
            out.append(phrase)
    return out[:limit]


def view(facts: dict) -> dict:
    """Names and phrases the playbook copy uses, prepared from the facts (no new numbers)."""
    a, u, s = facts["account"], facts["usage"], facts["signals"]
    contacts = facts["contacts"]
    active = [c for c in contacts if (c.get("events_30d") or 0) > 0]
    champion = (active or contacts or [None])[0]
    champion_name = (champion.get("name") or champion.get("email")) if champion else None
    title = champion.get("job_title") if champion else None
    buyer = next((c for c in contacts if c.get("buying_role") in BUYER_ROLES and c is not champion), None) or next(
        (c for c in contacts if c.get("seniority") in ("C-Level", "VP") and c is not champion), None
    )
    features = feature_phrases(u.get("top_features") or [])
    ever = feature_phrases(u.get("top_features_ever") or [])
    enrichment = facts.get("enrichment") or {}
    industry = enrichment.get("industry") or a.get("industry")
    intent = [
        INTENT_PHRASES.get(n, n.replace("_", " "))
        for n, c in (u.get("event_categories") or {}).items()
        if c == "intent"
    ]
    if s.get("usage_limit_hits_30d"):
        intent.append("higher usage limits")
    intent_text = _plain_list(list(dict.fromkeys(intent)))
    departments = sorted({c["department"] for c in active if c.get("department")})
    competitors = [x["topic"].split(":", 1)[-1].strip() for x in s.get("competitor_intent") or []]
    return {
        "name": a.get("name") or a.get("domain") or a["account_id"],
        "plan": a.get("plan") or "current",
        "greeting": first_name(champion.get("name")) if champion and champion.get("name") else "there",
        "owner_name": name_from_email(a.get("owner_email")) or "Your account team",
        "owner_email": a.get("owner_email"),
        "contact_text": champion_name or "the most active user (not identified yet)",
        "champion_text": (f"{champion_name} ({title})" if title else champion_name)
        if champion_name
        else "the most active user (not identified yet)",
        "buyer_text": (
            (buyer.get("name") or buyer.get("email"))
            + (f", {buyer['buying_role']}" if buyer.get("buying_role") else "")
        )
        if buyer
        else None,
        "features_text": _plain_list(features) or "the product",
        "features_pair": _plain_list(features[:2]) or "the product",
        "features_ever_text": _plain_list(ever) or "the product",
        "feature_ever_first": _plain_list(ever[:1]) or "the product",
        "has_champion": champion is not None,
        "industry_phrase": f"a {industry.lower()} team" if industry else "a team like theirs",
        "intent_text": intent_text or "the next plan's features",
        "departments_text": _plain_list(departments) or "several teams",
        "competitors_text": _plain_list(competitors) or "a competitor",
        "roles_text": "who signs, who pays, who evaluates" + (f"; start from {champion_name}" if champion_name else ""),
    }


class DeterministicEngine:
    """Jinja2 templates + the playbook's signal-based selection (the default; works offline)."""

    name = "deterministic"

    def __init__(self):
        self.env = environment()

    def render(
        self,
        facts: dict,
        recommendations: list[Recommendation],
        *,
        engine: str | None = None,
        plays_markdown: str | None = None,
        fallback: bool = False,
    ) -> str:
        template = self.env.get_template("play.md.j2")
        text = template.render(
            f=facts,
            v=view(facts),
            recommendations=recommendations,
            plays_markdown=plays_markdown,
            engine=engine or self.name,
            fallback=fallback,
        )
        return _tidy(text)

    def write(self, facts: dict, recommendations: list[Recommendation] | None = None) -> PlayDocument:
        recommendations = recommend(facts) if recommendations is None else recommendations
        markdown = self.render(facts, recommendations)
        bad = ungrounded_numbers(markdown, facts)
        if bad:  # a template bug, never the data: fail loudly in tests and for users
            raise PlaysError(
                f"the deterministic play for {facts['account']['account_id']} has numbers not in the "
                f"facts: {', '.join(bad)}; this is a template bug, please report it"
            )
        a = facts["account"]
        return PlayDocument(
            a["account_id"], a.get("name"), a.get("domain"), markdown, [r.key for r in recommendations], self.name
        )


def _tidy(text: str) -> str:
    """At most one blank line in a row; exactly one trailing newline."""
    lines, blank = [], False
    for line in text.splitlines():
        line = line.rstrip()
        if not line:
            if blank:
                continue
            blank = True
        else:
            blank = False
        lines.append(line)
    return "\n".join(lines).strip() + "\n"
