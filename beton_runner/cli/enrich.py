"""`beton enrich`: CRM enrichment into ``beton_enrichment``, then the enriched marts."""

from __future__ import annotations

from pathlib import Path

import click

from ..enrich.crm_csv import ACCOUNT_FIELDS, CONTACT_FIELDS, PRESETS, CrmCsvProvider, parse_mapping
from ..enrich.model import EnrichError
from ..enrich.run import run_enrichment
from ..enrich.simulation import SimulationProvider
from ..project import Project
from . import console
from .console import esc
from .options import warehouse_options
from .shell import command

PROVIDERS = ("simulation", "crm-csv")


_HELP = (
    "Enrich every account and person with company intel, intent signals, tech stack and buying roles "
    "(simulated, or imported from a CRM CSV export), then rebuild the enriched marts.\n\n"
    "Fields for --map: companies: "
    + ", ".join(f.name for f in ACCOUNT_FIELDS)
    + "; contacts: "
    + ", ".join(f.name for f in CONTACT_FIELDS)
    + ". See docs/enrichment.md."
)


@command("enrich", help=_HELP, short_help="Enrich accounts and persons (simulation or CRM CSV).")
@warehouse_options
@click.option(
    "--provider",
    type=click.Choice(PROVIDERS),
    default=None,
    help="simulation (default) or crm-csv (default when a CSV file is given).",
)
@click.option(
    "--accounts-csv",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="crm-csv: a company export (HubSpot companies, Salesforce accounts…).",
)
@click.option(
    "--contacts-csv",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="crm-csv: a contact export (matched to persons by email).",
)
@click.option(
    "--preset", type=click.Choice(PRESETS), default="auto", show_default=True, help="Which CRM's headers to recognise."
)
@click.option(
    "--map",
    "mappings",
    multiple=True,
    metavar="FIELD=HEADER",
    help="Read FIELD from column HEADER (repeatable), e.g. --map 'domain=Company Website'.",
)
@click.option(
    "--refresh-marts/--no-refresh-marts",
    default=True,
    show_default=True,
    help="Rebuild dim_accounts_enriched and dim_users_enriched afterwards (dbt).",
)
def enrich_command(
    project: Project,
    provider: str | None,
    accounts_csv: Path | None,
    contacts_csv: Path | None,
    preset: str,
    mappings: tuple[str, ...],
    refresh_marts: bool,
) -> None:
    provider = provider or ("crm-csv" if accounts_csv or contacts_csv else "simulation")
    if provider == "simulation":
        if accounts_csv or contacts_csv or mappings:
            raise EnrichError("--accounts-csv, --contacts-csv and --map belong to --provider crm-csv")
        chosen = SimulationProvider()
    else:
        chosen = CrmCsvProvider(accounts_csv, contacts_csv, preset=preset, mapping=parse_mapping(mappings))
    summary = run_enrichment(project, chosen, refresh_marts=refresh_marts)
    for note in summary.notes:
        console.warn(note)
    console.say(f"[bold]Enrichment ({esc(summary.provider)}) on {esc(project.target)}[/]")
    console.show(
        console.table(
            ("what", "rows"),
            [
                ("accounts enriched", f"{summary.accounts} of {summary.accounts_total}"),
                ("persons enriched", f"{summary.users} of {summary.users_total}"),
                ("intent signals", summary.intent_signals),
                ("tech-stack entries", summary.tech_items),
            ],
        )
    )
    schema = project.relation("enrichment", "")[0]
    marts = project.relation("marts", "")[0]
    then = (
        f"; rebuilt {marts}.dim_accounts_enriched and dim_users_enriched."
        if summary.marts_refreshed
        else "; run `beton run` to rebuild the enriched marts."
    )
    console.ok(
        esc(f"wrote {schema}.account_enrichment, account_intent_signals, account_tech_stack, user_enrichment" + then)
    )
