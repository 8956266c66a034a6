"""Facts about an account, gathered from the warehouse: the only material a play is written from.

A facts document is plain JSON (what the LLM engine sends, what the number-grounding check
reads): the account, the rules it and its people matched with scores and ranks, usage over the
30 days to ``as_of`` (and the 30 before, for the trend), its top features, the enrichment, and
the people to contact. ``signals`` holds the values derived from those that the playbook selects
on, so every number a play can quote is in the facts.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from ..columns import SCORE_TERM_LABELS
from ..enrich.store import Store
from ..enrich.titles import department_from_title, is_executive, seniority_from_title
from ..errors import ConfigError
from ..project import Project

USAGE_WINDOW_DAYS = 30
TOP_FEATURES = 5
CONTACTS_LIMIT = 5
# Plan names in ascending order; anything else is reported as written and treated as unknown.
PLAN_ORDER = ("free", "trial", "starter", "team", "pro", "growth", "business", "enterprise")
UNPAID_PLANS = ("free", "trial")
TOP_PLAN = "enterprise"


def _clean(value: Any) -> Any:
    """JSON-friendly: NaN/NA -> None, numpy -> Python, timestamps -> 'YYYY-MM-DD HH:MM:SS',
    integral floats -> int, other floats rounded to 2 decimals (the precision plays show)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (pd.Timestamp, datetime)):
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value == int(value):
            return int(value)
        return round(value, 2)
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _rules_meta(project: Project) -> dict[str, dict]:
    """rule key -> {description, window_days} from the rule files (best effort: plays still work
    from the warehouse alone)."""
    try:
        from ..rules import load_rules

        rules = load_rules(project.rules_dir)
    except Exception:  # noqa: BLE001 - a broken rule file must not stop plays for the rest
        return {}
    return {
        r.key: {
            "description": " ".join(str(r.document.get("description") or "").split()) or None,
            "window_days": r.document.get("time_window_days"),
        }
        for r in rules
    }


# What the plays read: the accounts, users and findings, and the events for each account's activity.
REQUIRED_TABLES = (("marts", "dim_accounts"), ("marts", "dim_users"), ("inspections", "insp_findings"))
EVENTS_TABLE = ("intermediate", "int_events")
CATEGORIES_TABLE = ("reference", "standard_events")  # the events library's categories, when seeded


class FactsReader:
    """Reads facts for accounts over one warehouse connection."""

    def __init__(self, store: Store):
        self.store = store
        for layer, table in REQUIRED_TABLES:
            store.require(layer, table)
        (accounts, _users, findings) = REQUIRED_TABLES
        self.accounts = store.read(*accounts, order_by="account_id")
        self.findings = store.read(*findings, order_by="rule_key, rank")
        self.rules = _rules_meta(store.project)
        self.categories: dict[str, str] = {}
        if store.exists(*CATEGORIES_TABLE):
            ref = store.read(*CATEGORIES_TABLE)
            self.categories = dict(zip(ref["event_name"], ref["category"]))
        store.require(*EVENTS_TABLE)
        self.event_columns = store.columns(*EVENTS_TABLE)
        self.enriched = {
            t: store.exists("enrichment", t)
            for t in ("account_enrichment", "account_intent_signals", "account_tech_stack", "user_enrichment")
        }

    # --- which accounts -----------------------------------------------------------------------

    def punch_list_accounts(self) -> list[str]:
        """Accounts on any punch list (their own findings, or their users'), best score first."""
        linked = self.findings.dropna(subset=["account_id"])
        best = linked.groupby("account_id")["score"].max().sort_values(ascending=False, kind="stable")
        return [str(a) for a in best.index]

    def all_accounts(self) -> list[str]:
        return [str(a) for a in self.accounts["account_id"]]

    def resolve(self, wanted: str) -> str:
        """An account id from an id, a domain or a name (case-insensitive)."""
        folded = wanted.strip().casefold()
        for column in ("account_id", "domain", "name"):
            hits = self.accounts[self.accounts[column].astype("string").str.casefold() == folded]
            if len(hits):
                return str(hits.iloc[0]["account_id"])
        import difflib

        options = [str(v) for c in ("account_id", "domain", "name") for v in self.accounts[c].dropna()]
        close = difflib.get_close_matches(wanted, options, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "."
        shown = ", ".join(str(v) for v in self.accounts["domain"].dropna().head(20))
        more = " …" if len(self.accounts) > 20 else ""
        raise ConfigError(
            f"no account '{wanted}' (by id, domain or name){hint} Accounts: {shown}{more}; "
            "`beton plays --all` writes plays for every account"
        )

    # --- facts --------------------------------------------------------------------------------

    def facts(self, account_id: str) -> dict:
        row = self.accounts[self.accounts["account_id"] == account_id]
        if row.empty:
            raise ConfigError(f"no account with id '{account_id}' in dim_accounts")
        account = _records(row)[0]
        as_of = pd.Timestamp(row.iloc[0]["as_of"]).to_pydatetime()
        window_start = as_of.date() - timedelta(days=USAGE_WINDOW_DAYS)  # exclusive
        previous_start = as_of.date() - timedelta(days=2 * USAGE_WINDOW_DAYS)

        events = self.store.query(
            """
            select
                event_name,
                sum(case when event_date > :window_start then 1 else 0 end) as events_30d,
                sum(case when event_date <= :window_start and event_date > :previous_start then 1 else 0 end) as events_prev_30d,
                count(*) as events_total,
                min(event_at) as first_seen,
                max(event_at) as last_seen
            from {intermediate.int_events}
            where account_id = :account_id
                and event_at <= :as_of
            group by event_name
            """,
            {"account_id": account_id, "as_of": as_of, "window_start": window_start, "previous_start": previous_start},
        )
        usage = self._usage(account, events, as_of)
        plan, plan_source = self._plan(account_id, as_of)
        contacts, known_users = self._contacts(account_id)
        findings = self._findings(account_id, contacts)
        enrichment = self._enrichment(account_id)

        facts = {
            "as_of": _clean(as_of),
            "account": {
                "account_id": account["account_id"],
                "name": account.get("name"),
                "domain": account.get("domain"),
                "segment": account.get("segment"),
                "arr": account.get("arr"),
                "owner_email": account.get("owner_email"),
                "industry": account.get("industry"),
                "employees": account.get("employees"),
                "country": account.get("country"),
                "plan": plan,
                "plan_source": plan_source,
                "known_users": known_users,
            },
            "findings": findings,
            "usage": usage,
            "enrichment": enrichment,
            "contacts": contacts,
        }
        facts["signals"] = derive_signals(facts)
        return facts

    def _usage(self, account: dict, events: pd.DataFrame, as_of: datetime) -> dict:
        events = events.copy()
        for column in ("events_30d", "events_prev_30d", "events_total"):
            events[column] = events[column].fillna(0).astype(int)
        current = int(events["events_30d"].sum()) if len(events) else 0
        previous = int(events["events_prev_30d"].sum()) if len(events) else 0
        total = int(events["events_total"].sum()) if len(events) else 0
        top = events[events["events_30d"] > 0].sort_values(["events_30d", "event_name"], ascending=[False, True])
        top_ever = events.sort_values(["events_total", "event_name"], ascending=[False, True])
        by_category: dict[str, int] = {}
        for name, count in zip(events["event_name"], events["events_30d"]):
            if count:
                category = self.categories.get(name, "other")
                by_category[category] = by_category.get(category, 0) + int(count)
        last_seen_ever = pd.Timestamp(events["last_seen"].max()) if len(events) else None
        return _clean(
            {
                "window_days": USAGE_WINDOW_DAYS,
                "events_30d": current,
                "events_prev_30d": previous,
                "trend_pct": round((current - previous) * 100 / previous) if previous else None,
                "active_users_30d": account.get("active_users_30d"),
                "active_days_30d": account.get("active_days_30d"),
                "last_seen_30d": account.get("last_seen"),
                "events_total": total,
                "first_seen": events["first_seen"].min() if len(events) else None,
                "last_seen": last_seen_ever,
                "days_since_last_seen": (as_of.date() - last_seen_ever.date()).days
                if last_seen_ever is not None
                else None,
                "top_features": [
                    {
                        "event": str(r.event_name),
                        "count": int(r.events_30d),
                        "category": self.categories.get(str(r.event_name), "other"),
                    }
                    for r in top.head(TOP_FEATURES).itertuples(index=False)
                ],
                "top_features_ever": [
                    {
                        "event": str(r.event_name),
                        "count": int(r.events_total),
                        "category": self.categories.get(str(r.event_name), "other"),
                    }
                    for r in top_ever.head(TOP_FEATURES).itertuples(index=False)
                ],
                "events_by_category_30d": dict(sorted(by_category.items())),
                "event_counts_30d": {
                    str(n): int(c) for n, c in sorted(zip(events["event_name"], events["events_30d"])) if c
                },
                "event_categories": {
                    str(n): self.categories.get(str(n), "other")
                    for n, c in sorted(zip(events["event_name"], events["events_30d"]))
                    if c
                },
            }
        )

    def _plan(self, account_id: str, as_of: datetime) -> tuple[str | None, str | None]:
        """The plan named by the account's latest product event, else by the CRM account record."""
        if "properties" in self.event_columns:
            sql = """
                select properties
                from {intermediate.int_events}
                where account_id = :account_id
                    and event_at <= :as_of
                order by event_at desc, event_uuid desc
                limit 50
            """
        else:  # int_events without properties: they stay in the staging view
            sql = """
                select staged.properties as properties
                from {intermediate.int_events} as resolved
                inner join {staging.stg_posthog__events} as staged
                    on resolved.event_uuid = staged.event_uuid
                where resolved.account_id = :account_id
                    and resolved.event_at <= :as_of
                order by resolved.event_at desc, resolved.event_uuid desc
                limit 50
            """
        recent = self.store.query(sql, {"account_id": account_id, "as_of": as_of})
        for text in recent["properties"]:
            plan = _json_key(text, "plan")
            if plan:
                return plan.strip().lower(), "product events"
        if self.store.exists("staging", "stg_posthog__accounts"):
            crm = self.store.query(
                "select properties from {staging.stg_posthog__accounts} where account_id = :account_id",
                {"account_id": account_id},
            )
            for text in crm["properties"]:
                plan = _json_key(text, "plan")
                if plan:
                    return plan.strip().lower(), "CRM"
        return None, None

    def _contacts(self, account_id: str) -> tuple[list[dict], int]:
        users = self.store.query(
            """
            select user_id, is_person, email, name, job_title, events_30d, active_days_30d, last_seen, rules_matched
            from {marts.dim_users}
            where account_id = :account_id
            order by events_30d desc, user_id
            """,
            {"account_id": account_id},
        )
        known_users = len(users)
        people = users[users["is_person"].fillna(False).astype(bool)].head(CONTACTS_LIMIT)
        enrichment: dict[str, dict] = {}
        if self.enriched["user_enrichment"] and len(people):
            rows = self.store.query(
                "select user_id, seniority, department, buying_role from {enrichment.user_enrichment} "
                "where account_id = :account_id",
                {"account_id": account_id},
            )
            enrichment = {r["user_id"]: r for r in _records(rows)}
        contacts = []
        for person in _records(people):
            extra = enrichment.get(person["user_id"], {})
            title = person.get("job_title")
            contacts.append(
                {
                    "user_id": person["user_id"],
                    "name": person.get("name"),
                    "email": person.get("email"),
                    "job_title": title,
                    "seniority": extra.get("seniority") or seniority_from_title(title),
                    "department": extra.get("department") or department_from_title(title),
                    "buying_role": extra.get("buying_role"),
                    "events_30d": person.get("events_30d") or 0,
                    "active_days_30d": person.get("active_days_30d") or 0,
                    "last_seen": person.get("last_seen"),
                    "rules_matched": [r.strip() for r in (person.get("rules_matched") or "").split(",") if r.strip()],
                }
            )
        return contacts, known_users

    def _findings(self, account_id: str, contacts: list[dict]) -> list[dict]:
        mine = self.findings[self.findings["account_id"] == account_id]
        per_rule = self.findings.groupby("rule_key").size().to_dict()
        names = {c["user_id"]: c.get("name") for c in contacts}
        out = []
        for f in _records(mine.sort_values(["score", "rule_key"], ascending=[False, True], kind="stable")):
            meta = self.rules.get(f["rule_key"], {})
            who = (
                f.get("entity_name")
                if f["level"] == "account"
                else (names.get(f["entity_id"]) or f.get("entity_name") or f["entity_id"])
            )
            out.append(
                {
                    "rule_key": f["rule_key"],
                    "rule_name": f.get("rule_name"),
                    "description": meta.get("description"),
                    "window_days": meta.get("window_days"),
                    "level": f["level"],
                    "entity_id": f["entity_id"],
                    "who": who,
                    "email": f.get("entity_name") if f["level"] == "user" else None,
                    "score": f.get("score"),
                    "rank": f.get("rank"),
                    "findings_on_rule": int(per_rule.get(f["rule_key"], 0)),
                    "event_count": f.get("event_count"),
                    "active_days": f.get("active_days"),
                    "active_users": f.get("active_users"),
                    "days_since_last_event": f.get("days_since_last_event"),
                    "tier": f.get("tier"),
                    "breakdown": _breakdown(f),
                    "signals_met": _signals_met(f.get("why")),
                }
            )
        return out

    def _enrichment(self, account_id: str) -> dict | None:
        if not self.enriched["account_enrichment"]:
            return None
        intel = self.store.query(
            "select * from {enrichment.account_enrichment} where account_id = :account_id", {"account_id": account_id}
        )
        if intel.empty:
            return None
        record = _records(intel)[0]
        record.pop("account_id", None)
        record["intent_signals"] = []
        record["tech_stack"] = []
        if self.enriched["account_intent_signals"]:
            rows = self.store.query(
                "select topic_key, topic, category, strength, recency_days from {enrichment.account_intent_signals} "
                "where account_id = :account_id order by position",
                {"account_id": account_id},
            )
            record["intent_signals"] = _records(rows)
        if self.enriched["account_tech_stack"]:
            rows = self.store.query(
                "select category, product from {enrichment.account_tech_stack} where account_id = :account_id "
                "order by position",
                {"account_id": account_id},
            )
            record["tech_stack"] = _records(rows)
        return record


def _breakdown(finding: dict) -> list[dict]:
    """The finding's non-zero score terms, in the documented order: why it scored what it did."""
    out = []
    for column, name in SCORE_TERM_LABELS.items():  # in the documented order
        value = finding.get(column)
        if value is not None and abs(float(value)) >= 0.005:
            out.append({"term": name, "points": round(float(value), 2)})
    return out


def _signals_met(why: Any) -> list[dict]:
    """The rule's signals the finding met, with their event counts, from its `why` JSON."""
    if not isinstance(why, str) or not why:
        return []
    try:
        signals = json.loads(why).get("signals") or []
    except (ValueError, AttributeError):
        return []
    return [{"signal": s.get("signal"), "count": s.get("count")} for s in signals if s.get("met")]


def _json_key(text: Any, key: str) -> str | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get(key), str):
        return value[key]
    return None


# --- signals ----------------------------------------------------------------------------------

CHURN_WORDS = ("churn",)
COMPETITOR_MIN_STRENGTH = 60
COMPETITOR_MAX_DAYS = 30


def derive_signals(facts: dict) -> dict:
    """The values the playbook selects on, derived from the facts (and kept in them, so a play
    may quote them)."""
    account, usage = facts["account"], facts["usage"]
    plan = account.get("plan")
    arr = account.get("arr") or 0
    counts = usage.get("event_counts_30d") or {}
    categories = usage.get("events_by_category_30d") or {}
    churn_findings = [
        f["rule_key"]
        for f in facts["findings"]
        if any(w in (f["rule_key"] + " " + (f.get("rule_name") or "")).casefold() for w in CHURN_WORDS)
    ]
    enrichment = facts.get("enrichment") or {}
    competitors = [
        s
        for s in enrichment.get("intent_signals") or []
        if s.get("category") == "competitor"
        and (s.get("strength") or 0) >= COMPETITOR_MIN_STRENGTH
        and (s.get("recency_days") if s.get("recency_days") is not None else 999) <= COMPETITOR_MAX_DAYS
    ]
    active_contacts = [c for c in facts["contacts"] if (c.get("events_30d") or 0) > 0]
    employees = account.get("employees") or 0
    return {
        "plan": plan,
        "plan_known": plan in PLAN_ORDER,
        "plan_is_top": plan == TOP_PLAN,
        "paying": bool(arr and arr > 0) or (plan is not None and plan in PLAN_ORDER and plan not in UNPAID_PLANS),
        "dormant": (usage.get("events_30d") or 0) == 0 and (usage.get("events_total") or 0) > 0,
        "churn_rules": churn_findings,
        "intent_events_30d": int(categories.get("intent", 0)),
        "expansion_events_30d": int(
            counts.get("added_seat", 0) + counts.get("invited_teammate", 0) + counts.get("teammate_joined", 0)
        ),
        "usage_limit_hits_30d": int(counts.get("hit_usage_limit", 0)),
        "risk_events_30d": int(counts.get("viewed_cancellation_page", 0) + counts.get("downgraded_plan", 0)),
        "competitor_intent": competitors,
        "active_contacts_30d": len(active_contacts),
        "active_executives_30d": [
            c.get("name") or c.get("email") or c["user_id"]
            for c in active_contacts
            if is_executive(c.get("seniority") or seniority_from_title(c.get("job_title")))
        ],
        "large_account": account.get("segment") == "Enterprise" or employees >= 1000 or arr >= 100_000,
    }


def gather_facts(project: Project, accounts: list[str] | None = None, *, all_accounts: bool = False) -> list[dict]:
    """Facts for each requested account (ids, domains or names); default: every account on a
    punch list; ``all_accounts``: every account."""
    with Store(project) as store:
        reader = FactsReader(store)
        if accounts:
            ids = list(dict.fromkeys(reader.resolve(a) for a in accounts))
        elif all_accounts:
            ids = reader.all_accounts()
        else:
            ids = reader.punch_list_accounts()
        return [reader.facts(account_id) for account_id in ids]
