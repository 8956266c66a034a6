"""The destination kinds: ``kind:`` in destinations.yml -> the class that delivers there."""

from __future__ import annotations

from beton_runner.deliver.base import Destination

KINDS: dict[str, type[Destination]] = {}


def register(cls: type[Destination]) -> type[Destination]:
    KINDS[cls.kind] = cls
    return cls


# The destination modules register themselves on import (after `register` exists); one line each.
import beton_runner.deliver.destinations.hubspot  # noqa: E402,F401
import beton_runner.deliver.destinations.salesforce  # noqa: E402,F401
import beton_runner.deliver.destinations.slack  # noqa: E402,F401
import beton_runner.deliver.destinations.webhook  # noqa: E402,F401
