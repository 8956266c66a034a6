"""One error hierarchy: every failure a user can act on is a ``BetonError``.

The CLI turns a ``BetonError`` into one clean message and a non-zero exit; anything else is a
bug and shows a traceback with ``--debug``. Messages say what failed, where (file:line, model,
URL without secrets) and what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass


class BetonError(Exception):
    """Base class of every error Beton Inspector reports to a user."""

    exit_code = 1


class ConfigError(BetonError):
    """A setting, environment variable or path is missing or wrong."""


@dataclass(frozen=True)
class RuleIssue:
    """One problem in one rule file, with where it is."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class RuleError(BetonError):
    """One or more rule files are invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: list[RuleIssue]):
        self.issues = list(issues)
        files = len({i.file for i in self.issues})
        lines = "\n".join(f"  {i}" for i in self.issues)
        super().__init__(
            f"{len(self.issues)} problem(s) in {files} rule file(s):\n{lines}\n"
            "Fix them and run `beton rules check` again; see docs/rules.md."
        )


class StaleModelsError(BetonError):
    """Generated inspection models do not match the rule files (run `beton rules compile`)."""


class RuleTestFailed(BetonError):
    """A rule test's expectation did not hold (`beton rules test`); the message lists every
    mismatch with its test file and line."""


class IngestError(BetonError):
    """Ingestion from an external system (e.g. PostHog) failed."""


class OutputError(BetonError):
    """A file the product writes (a CSV, a report, an export) could not be written."""


class WarehouseError(BetonError):
    """The warehouse could not be read or written, or a table is missing."""


class Interrupted(BetonError):
    """`beton` was asked to stop (SIGTERM, SIGINT) and stopped what it had started."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum  # the shell convention for "ended by a signal"


@dataclass
class NodeResult:
    unique_id: str
    status: str
    message: str | None = None


class DbtCommandError(BetonError):
    """A dbt command failed: either some nodes failed (``node_results``) or dbt itself errored."""

    def __init__(self, command: str, message: str, node_results: list[NodeResult] | None = None):
        self.command = command
        self.node_results = node_results or []
        super().__init__(message)


__all__ = [
    "BetonError",
    "ConfigError",
    "DbtCommandError",
    "IngestError",
    "Interrupted",
    "NodeResult",
    "OutputError",
    "RuleError",
    "RuleIssue",
    "RuleTestFailed",
    "StaleModelsError",
    "WarehouseError",
]
