"""Beton Inspector's thin orchestrator: rules, dbt, ingestion, enrichment, plays, exports."""

__version__ = "0.1.0"
