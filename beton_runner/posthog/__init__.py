"""PostHog ingestion: configuration, API client, exporter and warehouse writers.

Entry points: :func:`resolve_config`, :class:`PostHogClient`, :func:`run_ingest` with a
:class:`Destination` (DuckDB: :class:`DuckDBDestination`; ClickHouse:
:class:`ClickHouseDestination`); the click commands live in
:mod:`beton_runner.cli.posthog`. User docs: docs/posthog.md.
"""

from beton_runner.posthog.clickhouse_destination import ClickHouseDestination
from beton_runner.posthog.client import (
    ClientSettings,
    PostHogAccessError,
    PostHogClient,
    PostHogUnavailableError,
)
from beton_runner.posthog.config import PostHogConfig, Secret, resolve_config
from beton_runner.posthog.destination import Destination, DuckDBDestination, StreamState
from beton_runner.posthog.ingest import IngestOptions, IngestResult, run_ingest

__all__ = [
    "ClickHouseDestination",
    "ClientSettings",
    "Destination",
    "DuckDBDestination",
    "IngestOptions",
    "IngestResult",
    "PostHogAccessError",
    "PostHogClient",
    "PostHogConfig",
    "PostHogUnavailableError",
    "Secret",
    "StreamState",
    "resolve_config",
    "run_ingest",
]
