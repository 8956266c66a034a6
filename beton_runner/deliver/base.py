"""What every delivery destination implements, and the change records they deliver.

A destination (the generic webhook, Slack, HubSpot, Salesforce) turns a list of
:class:`Change` records into batches that fit its API's limits (:meth:`Destination.plan`), and
sends one batch at a time (:meth:`Destination.send`). The outbox (``beton_runner.deliver.outbox``)
decides what is pending and records a change as delivered only after :meth:`send` returned an
:class:`Ack` naming it; a change the destination refused for good (a per-record validation
error) is recorded as rejected with the destination's reason and not sent again.

``send`` raises :class:`DeliveryError` when the whole batch failed: ``retryable`` for 429, 5xx,
timeouts and refused connections (the HTTP layer has already retried those, honouring
Retry-After, within the destination's budget), not retryable for bad credentials or a payload the
API refuses. Messages name the destination and the URL's host and path, never a token, a
secret or a query string.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from beton_runner.errors import BetonError, ConfigError

if TYPE_CHECKING:
    from beton_runner.deliver.http import Http

CHANGE_KINDS = ("entered", "exited", "stayed")


@dataclass(frozen=True)
class Change:
    """One change of one entity on one rule's punch list between two runs.

    ``as_of`` is the run the change belongs to; ``previous_as_of`` the run before it for the
    same rule (None at the rule's first run, where every finding "entered"). ``score``/``rank``
    are the values at ``as_of`` (None when the entity exited), ``previous_score``/
    ``previous_rank`` at ``previous_as_of`` (None when it entered). ``metrics`` holds the
    finding's measured values (event_count, active_days, ...) at ``as_of``, or, for an exit, at
    the last run it was on the list.

    ``entity`` is the per-entity state the CRM destinations upsert, over the rules that go to
    the destination at this run: ``best_score`` (None when on no list), ``rules`` (the rule keys
    the entity is on, sorted), ``entered_at`` (the earliest ``first_entered_at`` among them).
    """

    change_id: str
    as_of: datetime
    previous_as_of: datetime | None
    rule_key: str
    rule_name: str
    level: str  # 'user' | 'account'
    entity_id: str
    change: str  # 'entered' | 'exited' | 'stayed'
    score: float | None
    previous_score: float | None
    rank: int | None
    previous_rank: int | None
    first_entered_at: datetime | None
    days_on_list: int | None
    name: str | None = None  # the person's name or the account's name
    email: str | None = None  # user level
    domain: str | None = None  # account level (for users: their account's domain)
    account_id: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    entity: Mapping[str, Any] = field(default_factory=dict)

    def idempotency_key(self, destination: str) -> str:
        """Stable per (destination, change): the same change re-sent after a crash carries the
        same key, so a receiver that keeps keys drops the repeat."""
        return hashlib.sha256(f"{destination}\x1f{self.change_id}".encode()).hexdigest()[:32]


@dataclass
class Batch:
    """Changes sent in one request. ``summary`` counts what the request does, for --dry-run and
    the end-of-run report, e.g. {"messages": 1} or {"upserts": 87}."""

    changes: list[Change]
    payload: Any
    summary: dict[str, int] = field(default_factory=dict)
    description: str = ""


@dataclass
class Ack:
    """What the destination confirmed for one batch: change ids delivered, and change ids it
    refused for good, with its reason (no secret in it)."""

    delivered: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)


class DeliveryError(BetonError):
    """A whole batch could not be delivered to one destination."""

    def __init__(self, destination: str, message: str, *, retryable: bool, status: int | None = None):
        self.destination = destination
        self.retryable = retryable
        self.status = status
        super().__init__(f"{destination}: {message}")


class Destination(ABC):
    """One configured destination. ``name`` is its key in destinations.yml; ``settings`` its
    mapping there (already validated against the JSON Schema); ``env`` the environment the
    secrets are read from (never stored in settings)."""

    kind: ClassVar[str]
    # The change kinds sent when the config does not say (``changes:`` in destinations.yml).
    default_changes: ClassVar[tuple[str, ...]] = ("entered", "exited")

    def __init__(self, name: str, settings: Mapping[str, Any], env: Mapping[str, str]):
        self.name = name
        self.settings = dict(settings)
        self.env = env
        self._http: Http | None = None

    @property
    def http(self) -> Http:
        """The destination's one connection pool (``beton_runner.deliver.http.Http``), made on
        first use with the ``http:`` settings of destinations.yml; released by :meth:`close`."""
        if self._http is None:
            from beton_runner.deliver.destinations.common import http_settings  # (imports this module)
            from beton_runner.deliver.http import Http

            self._http = Http(self.name, http_settings(self.settings))
        return self._http

    def config_path(self, key: str = "") -> str:
        """Where a setting of this destination is written, for error messages:
        ``destinations.yml: destinations.NAME.KEY``."""
        return f"destinations.yml: destinations.{self.name}" + (f".{key}" if key else "")

    def secret(self, variable: str) -> str:
        """The value of an environment variable this destination needs (a token, an instance
        URL) at send time; ConfigError naming it when unset (``check`` says more, earlier)."""
        value = (self.env.get(variable) or "").strip()
        if not value:
            raise ConfigError(f"{self.name}: the environment variable {variable} is not set.")
        return value

    @abstractmethod
    def check(self) -> None:
        """Raise ConfigError when a setting or secret variable is missing or wrong, naming the
        destinations.yml field or the environment variable and what to do. No network."""

    def prepare(self) -> None:  # noqa: B027  (optional hook)
        """Once per `beton deliver`, before the first send (not on --dry-run): e.g. create the
        CRM custom properties that are missing."""

    @abstractmethod
    def plan(self, changes: Sequence[Change]) -> list[Batch]:
        """Split the changes into requests within the API's documented limits, in order."""

    @abstractmethod
    def send(self, batch: Batch) -> Ack:
        """Send one batch; return what the destination acknowledged, or raise DeliveryError."""

    def close(self) -> None:
        """Release connections (a later request opens a new pool)."""
        if self._http is not None:
            self._http.close()
            self._http = None
