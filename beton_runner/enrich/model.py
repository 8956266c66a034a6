"""What goes into a provider and what comes out: plain records, and the warehouse tables they
land in (schema ``beton_enrichment``, see docs/enrichment.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

from ..errors import BetonError


class EnrichError(BetonError):
    """Enrichment failed: a CRM file is missing columns or holds malformed values, or the
    accounts to enrich could not be read."""


@dataclass(frozen=True)
class AccountInput:
    """An account as the warehouse knows it (``beton_marts.dim_accounts``)."""

    account_id: str
    name: str | None = None
    domain: str | None = None
    industry: str | None = None
    employees: float | None = None
    country: str | None = None
    segment: str | None = None


@dataclass(frozen=True)
class UserInput:
    """A person as the warehouse knows them (``beton_marts.dim_users`` where ``is_person``)."""

    user_id: str
    email: str | None = None
    name: str | None = None
    job_title: str | None = None
    account_id: str | None = None


@dataclass(frozen=True)
class AccountEnrichment:
    account_id: str
    domain: str | None
    provider: str
    industry: str | None = None
    employee_band: str | None = None
    employees: int | None = None
    revenue_band: str | None = None
    annual_revenue: float | None = None
    hq_country: str | None = None
    funding_stage: str | None = None
    founded_year: int | None = None
    description: str | None = None
    linkedin_url: str | None = None


@dataclass(frozen=True)
class IntentSignal:
    account_id: str
    position: int  # 1 = the strongest signal of the account
    topic_key: str
    topic: str
    category: str
    strength: int  # 0-100
    recency_days: int  # days between the signal and the enrichment


@dataclass(frozen=True)
class TechItem:
    account_id: str
    position: int  # display order (catalogue category order)
    category: str
    product: str


@dataclass(frozen=True)
class UserEnrichment:
    user_id: str
    account_id: str | None
    email: str | None
    provider: str
    seniority: str | None = None
    department: str | None = None
    buying_role: str | None = None


@dataclass
class EnrichmentResult:
    """Everything one provider run produced, plus notes for the user (unmatched CRM rows…)."""

    provider: str
    accounts: list[AccountEnrichment] = field(default_factory=list)
    intent: list[IntentSignal] = field(default_factory=list)
    tech: list[TechItem] = field(default_factory=list)
    users: list[UserEnrichment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rows(self) -> dict[str, list[dict]]:
        """Rows per enrichment table, sorted by primary key (so writes are reproducible)."""
        return {
            "account_enrichment": [asdict(a) for a in sorted(self.accounts, key=lambda a: a.account_id)],
            "account_intent_signals": [
                asdict(s) for s in sorted(self.intent, key=lambda s: (s.account_id, s.position))
            ],
            "account_tech_stack": [asdict(t) for t in sorted(self.tech, key=lambda t: (t.account_id, t.position))],
            "user_enrichment": [asdict(u) for u in sorted(self.users, key=lambda u: u.user_id)],
        }


class Provider(Protocol):
    """One source of enrichment. ``enrich`` sees every account and person of the warehouse and
    returns what it knows about them; it never writes anything."""

    name: str

    def enrich(self, accounts: list[AccountInput], users: list[UserInput]) -> EnrichmentResult: ...


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # text | int | float | date | timestamp | bool
    description: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


ENRICHMENT_LAYER = "enrichment"

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "account_enrichment",
            ("account_id",),
            (
                Column("account_id", "text", "The account (beton_marts.dim_accounts.account_id)."),
                Column("domain", "text", "The account's domain, as matched."),
                Column("provider", "text", "Which provider wrote the row: simulation or crm_csv."),
                Column("industry", "text", "Industry."),
                Column("employee_band", "text", "Company size band (1-10 … 10,001+)."),
                Column("employees", "int", "Employee count, when the provider knows it."),
                Column("revenue_band", "text", "Annual revenue band (< $1M … $1B+)."),
                Column("annual_revenue", "float", "Annual revenue in US dollars, when the provider knows it."),
                Column("hq_country", "text", "Country of the headquarters."),
                Column("funding_stage", "text", "Funding stage (Bootstrapped … Public)."),
                Column("founded_year", "int", "Year founded."),
                Column("description", "text", "A LinkedIn-style company description."),
                Column("linkedin_url", "text", "Company page URL."),
            ),
            "Company intel, one row per enriched account.",
        ),
        TableSpec(
            "account_intent_signals",
            ("account_id", "topic_key"),
            (
                Column("account_id", "text", "The account."),
                Column("position", "int", "1 for the account's strongest signal, then 2, 3…"),
                Column("topic_key", "text", "Stable key of the topic (catalogue)."),
                Column("topic", "text", "What the account is showing intent for."),
                Column("category", "text", "competitor, hiring, research, pricing or company_event."),
                Column("strength", "int", "Signal strength, 0-100."),
                Column("recency_days", "int", "Days between the signal and the enrichment."),
            ),
            "Third-party intent signals, one row per account and topic.",
        ),
        TableSpec(
            "account_tech_stack",
            ("account_id", "category", "product"),
            (
                Column("account_id", "text", "The account."),
                Column("position", "int", "Display order (catalogue category order)."),
                Column("category", "text", "CRM, Data warehouse, Cloud, Billing, Support…"),
                Column("product", "text", "The product the account uses."),
            ),
            "Technographics, one row per account and product.",
        ),
        TableSpec(
            "user_enrichment",
            ("user_id",),
            (
                Column("user_id", "text", "The user (beton_marts.dim_users.user_id)."),
                Column("account_id", "text", "The user's account."),
                Column("email", "text", "The email matched."),
                Column("provider", "text", "Which provider wrote the row."),
                Column("seniority", "text", "C-Level, VP, Director, Manager, Senior, Individual Contributor or Entry."),
                Column("department", "text", "Department (Engineering, Data & Analytics, Sales…)."),
                Column("buying_role", "text", "Buying role (HubSpot's values: Decision Maker, Champion…)."),
            ),
            "Person intel, one row per enriched person.",
        ),
    )
}

RUNS_TABLE = TableSpec(
    "enrichment_runs",
    ("run_at",),
    (
        Column("run_at", "timestamp", "When `beton enrich` wrote the tables (UTC)."),
        Column("provider", "text", "The provider."),
        Column("source", "text", "The CRM file names, for crm_csv."),
        Column("accounts", "int", "Accounts enriched."),
        Column("users", "int", "Users enriched."),
    ),
    "One row per `beton enrich` run (the only non-deterministic table).",
)
