"""What reads the tables the project builds, declared to dbt as exposures (models/exposures.yml).

The report, the exports, the deliveries and the sales plays read the warehouse from Python, so
dbt cannot see them; the exposures put them in the lineage (`dbt ls --resource-type exposure`,
`dbt build --select +exposure:report`, the docs' DAG). Each one's ``depends_on`` is built from
the table constants of the code that does the reading, and the file is generated with the rule
models (`beton rules compile`; `beton rules check` says when it is stale), because the report
reads every rule's punch list.
"""

from __future__ import annotations

from dataclasses import dataclass

from .changes import CHANGES_TABLE, RUNS_TABLE
from .export import MARTS
from .plays.facts import CATEGORIES_TABLE, EVENTS_TABLE, REQUIRED_TABLES
from .project import model_name
from .report.data import (
    ACCOUNT_TABLES,
    DAILY_ROLLUP,
    EXPLORE_TABLES,
    FINDINGS_TABLE,
    SPARKLINE_TABLES,
    TRENDS_TABLE,
    USER_TABLES,
)
from .rules.normalise import Rule

OWNER = {"name": "Beton Inspector"}


@dataclass(frozen=True)
class Exposure:
    name: str
    label: str
    type: str  # dbt's exposure types: dashboard, notebook, analysis, ml, application
    description: str
    tables: tuple[str, ...]  # models and seeds it reads (besides the rules' own, see per_rule)
    per_rule: bool = False  # it also reads every rule's punch list (and filtered rollup)


def exposures() -> list[Exposure]:
    """Every consumer of the built tables, in the order models/exposures.yml lists them."""
    deliveries = (CHANGES_TABLE, RUNS_TABLE)
    destinations = (
        ("webhook", "Webhook", "a signed JSON POST per change to your endpoint"),
        ("slack", "Slack", "a message per change to a Slack incoming webhook"),
        ("hubspot", "HubSpot", "tasks/notes and properties on HubSpot contacts and companies"),
        ("salesforce", "Salesforce", "tasks on Salesforce leads, contacts and accounts"),
    )
    return [
        Exposure(
            "report",
            "HTML report (beton report)",
            "dashboard",
            "The self-contained HTML report `beton report` writes (output/report.html): the punch lists "
            "with sparklines, the sales plays, trends, data health and the explorer.",
            (
                FINDINGS_TABLE,
                CHANGES_TABLE,
                RUNS_TABLE,
                TRENDS_TABLE,
                *ACCOUNT_TABLES,
                *USER_TABLES,
                *(table for table, _order, _desc in EXPLORE_TABLES.values()),
                DAILY_ROLLUP,
                *(table for _layer, table in SPARKLINE_TABLES.values()),
            ),
            per_rule=True,
        ),
        Exposure(
            "export",
            "CSV export (beton export)",
            "application",
            "`beton export`: the enriched accounts and users as CSV files for a CRM import or a spreadsheet.",
            tuple(table for table, _key in MARTS.values()),
        ),
        *(
            Exposure(
                f"delivery_{key}",
                f"{label} delivery (beton deliver)",
                "application",
                f"`beton deliver` to a {label} destination: {what}, for every punch-list change "
                "(entered, exited) since the last delivery.",
                deliveries,
            )
            for key, label, what in destinations
        ),
        Exposure(
            "sales_plays",
            "Sales plays (beton plays)",
            "application",
            "`beton plays`: a sales play per account with findings (markdown, output/plays), from the "
            "accounts, users, findings and the accounts' events.",
            (*(table for _layer, table in REQUIRED_TABLES), EVENTS_TABLE[1], CATEGORIES_TABLE[1]),
        ),
    ]


def depends_on(exposure: Exposure, rules: list[Rule]) -> list[str]:
    """The models (and seeds) an exposure reads, each once, in order (the code reads tables;
    dbt names their models ``beton_<table>``, see ``project.model_name``)."""
    names = [model_name(table) for table in exposure.tables]
    if exposure.per_rule:
        for rule in sorted(rules, key=lambda r: r.key):
            names.append(rule.model_name)
            if rule.has_property_filters:
                names.append(rule.filtered_model_name)
    return list(dict.fromkeys(names))


def exposure_entries(rules: list[Rule]) -> list[dict]:
    """models/exposures.yml's ``exposures:`` list."""
    return [
        {
            "name": e.name,
            "label": e.label,
            "type": e.type,
            "maturity": "high",
            "owner": dict(OWNER),
            "description": e.description,
            "depends_on": [f"ref('beton', '{name}')" for name in depends_on(e, rules)],
        }
        for e in exposures()
    ]
