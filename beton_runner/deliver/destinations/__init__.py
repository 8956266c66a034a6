"""The destination kinds: ``kind:`` in destinations.yml -> the class that delivers there."""

from __future__ import annotations

from beton_runner.deliver.base import Destination

KINDS: dict[str, type[Destination]] = {}


def register(cls: type[Destination]) -> type[Destination]:
    KINDS[cls.kind] = cls
    return cls


# The destination modules register themselves on import (after `register` exists).
from beton_runner.deliver.destinations import hubspot, salesforce  # noqa: E402,F401
