"""`beton deliver`: enqueue the changes each destination has not had yet, send what is pending,
record every acknowledgement, report per destination.

Destinations are independent: one that is misconfigured, refuses us or stays down is reported
and the others go on. Within a destination batches go in run order; the first batch that fails
stops that destination (the rest stay pending, in order, for the next `beton deliver`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from beton_runner.changes import read_changes, read_runs
from beton_runner.deliver.base import Batch, DeliveryError
from beton_runner.deliver.config import DestinationConfig
from beton_runner.deliver.outbox import Outbox, latest_input, to_changes
from beton_runner.errors import BetonError, ConfigError
from beton_runner.project import Project
from beton_runner.secrets import SECRET_VARIABLES, find_secret

# destinations.yml keys that name an environment variable holding a secret
SECRET_SETTINGS = ("token_env", "secret_env", "webhook_url_env")


@dataclass
class DestinationReport:
    name: str
    kind: str
    enqueued: int = 0
    delivered: int = 0
    rejected: int = 0
    pending: int = 0
    batches: int = 0
    summary: Counter = field(default_factory=Counter)
    rejections: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    retryable: bool = False
    planned: list[Batch] = field(default_factory=list)  # --dry-run: what would be sent

    @property
    def ok(self) -> bool:
        return self.error is None


def deliver(
    project: Project,
    configs: list[DestinationConfig],
    *,
    dry_run: bool = False,
    on_batch: Callable[[DestinationReport, Batch], None] | None = None,
) -> list[DestinationReport]:
    changes = read_changes(project)
    runs = read_runs(project)
    frame = latest_input(changes, runs)
    latest_as_of = None
    if not frame.empty:
        fingerprint = frame["input_fingerprint"].iloc[0]
        latest_as_of = pd.Timestamp(runs[runs["input_fingerprint"] == fingerprint]["as_of"].max()).to_pydatetime()
    outbox = Outbox(project)
    if not dry_run:
        outbox.ensure()
    secret_env = _secret_environ(configs)
    reports = []
    for config in configs:
        report = DestinationReport(config.name, config.kind)
        reports.append(report)
        if not config.enabled:
            continue
        destination = config.destination
        try:
            destination.check()
            fresh, cursor = outbox.new_changes(config, to_changes(frame, config), latest_as_of)
            if dry_run:
                pending = outbox.pending(config.name)
                seen = {c.change_id for c in pending}
                to_send = pending + [c for c in fresh if c.change_id not in seen]
                report.enqueued = len(fresh)
                report.planned = destination.plan(to_send) if to_send else []
                report.pending = len(to_send)
                for batch in report.planned:
                    report.summary.update(batch.summary)
                report.batches = len(report.planned)
                continue
            report.enqueued = outbox.enqueue(config, fresh, cursor)
            pending = outbox.pending(config.name)
            if pending:
                destination.prepare()
                for batch in destination.plan(pending):
                    try:
                        _refuse_secrets(config.name, batch, secret_env)
                        ack = destination.send(batch)
                    except DeliveryError as exc:
                        report.error, report.retryable = str(exc), exc.retryable
                        break
                    outbox.record(config.name, ack.delivered, ack.rejected)
                    report.batches += 1
                    report.delivered += len(ack.delivered)
                    report.rejected += len(ack.rejected)
                    report.rejections.update(ack.rejected)
                    report.summary.update(batch.summary)
                    if on_batch is not None:
                        on_batch(report, batch)
            report.pending = len(outbox.pending(config.name))
        except DeliveryError as exc:
            report.error, report.retryable = str(exc), exc.retryable
            report.pending = len(outbox.pending(config.name)) if not dry_run else report.pending
        except ConfigError as exc:
            report.error, report.retryable = str(exc), False
        finally:
            destination.close()
    return reports


def _secret_environ(configs: list[DestinationConfig]) -> dict[str, str]:
    """The secret variables, plus each variable a destination names for a token, a signing secret
    or a webhook URL, as an environment for the secret scan."""
    names = set(SECRET_VARIABLES)
    for config in configs:
        names.update(str(config.settings[k]) for k in SECRET_SETTINGS if config.settings.get(k))
    env = os.environ
    return {f"DBT_ENV_SECRET_{n}" if n not in SECRET_VARIABLES else n: env[n] for n in names if env.get(n)}


def _refuse_secrets(destination: str, batch: Batch, environ: dict[str, str]) -> None:
    """A batch whose payload holds a secret's value (a token pasted into a CRM field that reached
    the punch lists) is not sent: the destination would show it to everyone."""
    text = json.dumps(batch.payload, default=str, ensure_ascii=False)
    variable = find_secret(text, environ)
    if variable is not None:
        variable = variable.removeprefix("DBT_ENV_SECRET_")
        raise DeliveryError(
            destination,
            f"a batch would carry the value of the secret environment variable {variable}; nothing was sent. "
            "Find where that value entered the data (a CRM field, a person property) and remove it, or rotate the secret.",
            retryable=False,
        )


class DeliveryFailed(BetonError):
    """At least one destination was not fully delivered; the summary above says which and why."""
