"""`beton deliver`: enqueue the changes each destination has not had yet, send what is pending,
record every acknowledgement, report per destination.

Destinations are independent: one that is misconfigured, refuses us or stays down is reported
and the others go on. Within a destination batches go in run order; the first batch that fails
stops that destination (the rest stay pending, in order, for the next `beton deliver`).
"""

from __future__ import annotations

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


class DeliveryFailed(BetonError):
    """At least one destination was not fully delivered; the summary above says which and why."""
