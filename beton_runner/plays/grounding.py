"""The number-grounding check: every number in a play must be a number of its facts.

A number is a run of digits not glued to a letter, digit or underscore on its left (so ids such
as ``acc_001`` or ``anon_91c0d4`` are not numbers), with ``,``/``.`` groups: ``84,000``,
``12.71``, ``2026-10-01`` (three numbers). Thousands separators are dropped; signs and ``%``
are ignored (``-100%`` is the number 100). The facts' numbers are every numeric value (with its
roundings to 0, 1 and 2 decimals) and every number written inside their strings (dates, band
labels, descriptions). Ordered-list markers at the start of a line (``1.``) are not numbers.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

_NUMBER = re.compile(r"(?<![A-Za-z0-9_])\d+(?:[.,]\d+)*")
_LIST_MARKER = re.compile(r"^(\s*)\d+[.)](?=\s)", re.MULTILINE)
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")


def _values(token: str) -> list[Decimal]:
    if _THOUSANDS.match(token):
        parts = [token.replace(",", "")]
    else:
        parts = token.split(",")
    out = []
    for part in parts:
        pieces = [part] if part.count(".") <= 1 else part.split(".")
        for piece in pieces:
            try:
                out.append(Decimal(piece))
            except InvalidOperation:  # pragma: no cover - the pattern only yields digits
                pass
    return out


def numbers_in_text(text: str) -> list[tuple[str, list[Decimal]]]:
    """(token, values) for every number written in ``text``."""
    text = _LIST_MARKER.sub(r"\1", text)
    return [(m.group(0), _values(m.group(0))) for m in _NUMBER.finditer(text)]


def allowed_numbers(facts: Any) -> set[Decimal]:
    allowed: set[Decimal] = set()

    def walk(value: Any) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, (int, float)):
            number = abs(value)
            allowed.add(Decimal(str(number)))
            if isinstance(value, float):
                for digits in (0, 1, 2):
                    allowed.add(Decimal(str(round(number, digits))))
            return
        if isinstance(value, str):
            for _token, values in numbers_in_text(value):
                allowed.update(values)
            return
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
            return
        if isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(facts)
    return allowed


def ungrounded_numbers(text: str, facts: Any, *, allowed: Iterable[Decimal] | None = None) -> list[str]:
    """The numbers in ``text`` that are not in ``facts`` (empty when the play is grounded)."""
    known = set(allowed) if allowed is not None else allowed_numbers(facts)
    bad = []
    for token, values in numbers_in_text(text):
        if any(v not in known for v in values) and token not in bad:
            bad.append(token)
    return bad
