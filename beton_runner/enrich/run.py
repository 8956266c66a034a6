"""`beton enrich` without the command line: read accounts and persons, run a provider, write the
``beton_enrichment`` tables, and rebuild the enriched marts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd

from ..dbt import run_dbt
from ..project import Project, model_name
from .model import (
    ENRICHMENT_LAYER,
    RUNS_TABLE,
    TABLES,
    AccountInput,
    EnrichError,
    EnrichmentResult,
    Provider,
    UserInput,
)
from .store import Store

ENRICHED_MARTS = ("dim_accounts_enriched", "dim_users_enriched")
# the views over the enrichment tables: built empty when a table was missing, so every run
# that writes the tables rebuilds them with the marts
ENRICHMENT_STAGING = (
    "stg_enrichment__accounts",
    "stg_enrichment__account_intent_signals",
    "stg_enrichment__account_tech_stack",
    "stg_enrichment__users",
)


@dataclass
class EnrichSummary:
    provider: str
    accounts: int
    accounts_total: int
    users: int
    users_total: int
    intent_signals: int
    tech_items: int
    marts_refreshed: bool
    notes: list[str] = field(default_factory=list)


def _text(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _float(value) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def read_inputs(store: Store) -> tuple[list[AccountInput], list[UserInput]]:
    """Every account (``dim_accounts``) and every person (``dim_users`` where ``is_person``)."""
    store.require("marts", "dim_accounts")
    store.require("marts", "dim_users")
    accounts = store.query(
        "select account_id, name, domain, industry, employees, country, segment "
        "from {marts.dim_accounts} order by account_id"
    )
    users = store.query(
        "select user_id, email, name, job_title, account_id from {marts.dim_users} where is_person order by user_id"
    )
    return (
        [
            AccountInput(
                str(r.account_id),
                _text(r.name),
                _text(r.domain),
                _text(r.industry),
                _float(r.employees),
                _text(r.country),
                _text(r.segment),
            )
            for r in accounts.itertuples(index=False)
        ],
        [
            UserInput(str(r.user_id), _text(r.email), _text(r.name), _text(r.job_title), _text(r.account_id))
            for r in users.itertuples(index=False)
        ],
    )


def write_result(store: Store, result: EnrichmentResult, *, source: str | None = None) -> None:
    rows = result.rows()
    store.replace_tables(ENRICHMENT_LAYER, {TABLES[name]: table_rows for name, table_rows in rows.items()})
    store.append(
        ENRICHMENT_LAYER,
        RUNS_TABLE,
        [
            {
                "run_at": datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0),
                "provider": result.provider,
                "source": source,
                "accounts": len(result.accounts),
                "users": len(result.users),
            }
        ],
    )


def run_enrichment(
    project: Project, provider: Provider, *, refresh_marts: bool = True, vars: dict | None = None
) -> EnrichSummary:
    """Enrich every account and person, write ``beton_enrichment``, then (by default) rebuild
    the enrichment staging views and ``dim_accounts_enriched``/``dim_users_enriched`` so BI
    tools see the result (a staging view built before the tables existed is an empty one)."""
    with Store(project, write=True) as store:
        accounts, users = read_inputs(store)
        if not accounts:
            raise EnrichError("there are no accounts to enrich: beton_marts.dim_accounts is empty")
        result = provider.enrich(accounts, users)
        write_result(store, result, source=getattr(provider, "source", None))
    # the DuckDB connection is closed here: dbt needs the file to itself
    if refresh_marts:
        models = [model_name(table) for table in (*ENRICHMENT_STAGING, *ENRICHED_MARTS)]
        run_dbt(project, ["build"], select=models, vars=vars)
    return EnrichSummary(
        provider=result.provider,
        accounts=len(result.accounts),
        accounts_total=len(accounts),
        users=len(result.users),
        users_total=len(users),
        intent_signals=len(result.intent),
        tech_items=len(result.tech),
        marts_refreshed=refresh_marts,
        notes=list(result.notes),
    )
