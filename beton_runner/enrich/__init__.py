"""CRM enrichment: providers (simulation, CRM CSV import) behind one interface, writing the
``beton_enrichment`` tables that the enriched marts join. See docs/enrichment.md."""

from .crm_csv import CrmCsvProvider
from .model import EnrichError, EnrichmentResult, Provider
from .run import EnrichSummary, run_enrichment
from .simulation import SimulationProvider

__all__ = [
    "CrmCsvProvider",
    "EnrichError",
    "EnrichSummary",
    "EnrichmentResult",
    "Provider",
    "SimulationProvider",
    "run_enrichment",
]
