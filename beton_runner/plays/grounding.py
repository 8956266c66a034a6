"""The number-grounding check: every number in a play must be a number of its facts.

What counts as a number, in a play and in the facts alike (so both sides are read the same way):

- a run of digits with ``,``/``.`` groups, wherever it stands: ``84,000``, ``12.71``,
  ``2026-10-01`` (three numbers), and also glued to letters: ``USD250000`` is 250000,
  ``INV2026A`` is 2026, ``acc_001`` is 1 (ids like that are in the facts, so they are grounded;
  a model cannot hide an amount by gluing a currency code to it). Thousands separators are
  dropped; signs and ``%`` are ignored (``-100%`` is the number 100);
- digits with a scale: ``250k`` / ``250K`` is 250000, ``2.5M`` and ``2.5 million`` are 2500000,
  ``3bn`` and ``3 billion`` are 3000000000, ``5 hundred`` is 500 (the scaled value must be in
  the facts, not the digits alone);
- number words (:func:`parse_number_words`): ``two hundred fifty thousand`` is 250000, ``a
  million`` is 1000000, ``twenty-five``, ``three hundred and twelve``, ``a dozen``. ``one`` on its
  own is not counted (it is far more often a pronoun, "the one who…", than a quantity);
  ``one hundred`` and ``twenty-one`` are. Ordinals ("first", "third") are not numbers.

The facts' numbers are every numeric value (with its roundings to 0, 1 and 2 decimals) and
every number written inside their strings (dates, band labels, descriptions; a scaled number
there also allows its digits, ``$1M`` allows 1 and 1000000). Ordered-list markers at the start
of a line (``1.``) are not numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

_SCALE_WORDS = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_SUFFIXES = {"k": 1000, "K": 1000, "M": 10**6, "bn": 10**9}
_NUMBER = re.compile(
    r"(?P<digits>\d+(?:[.,]\d+)*)"
    r"(?:(?P<suffix>k|K|M|bn)(?![A-Za-z0-9_])|[ \t\u00a0]+(?P<word>(?i:hundred|thousand|million|billion|trillion))\b)?"
)
_LIST_MARKER = re.compile(r"^(\s*)\d+[.)](?=\s)", re.MULTILINE)
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")

_UNITS = {w: i for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"))}
_TEENS = {
    w: i + 10
    for i, w in enumerate(
        ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
    )
}
_TENS = {
    w: (i + 2) * 10
    for i, w in enumerate(("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"))
}
_MULTIPLIERS = {"hundred": 100, "dozen": 12}
_BIG = {"thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_WORD = re.compile(r"[A-Za-z]+")
_JOINER = re.compile(r"[ \t\u00a0]+|[ \t\u00a0]*-[ \t\u00a0]*|[ \t\u00a0]*\n[ \t\u00a0]*")  # within one phrase


def _kind(word: str) -> tuple[str, int] | None:
    if word in _UNITS:
        return "unit", _UNITS[word]
    if word in _TEENS:
        return "teen", _TEENS[word]
    if word in _TENS:
        return "ten", _TENS[word]
    if word in _MULTIPLIERS:
        return "multiplier", _MULTIPLIERS[word]
    if word in _BIG:
        return "big", _BIG[word]
    return None


def _parse_at(words: list[str], i: int) -> tuple[int, int] | None:
    """(value, index after the phrase) of the number phrase starting at ``words[i]``, else None."""
    total, current, prev, end, j = 0, 0, None, i, i
    last_big = None
    while j < len(words):
        word = words[j]
        following = _kind(words[j + 1]) if j + 1 < len(words) else None
        if word in ("a", "an"):  # "a million", "a hundred", "a dozen": the article is one
            if prev is None and following is not None and following[0] in ("multiplier", "big"):
                current, prev, j = 1, "unit", j + 1
                continue
            break
        if word == "and":  # "three hundred and twelve", "a thousand and one"
            if prev in ("multiplier", "big") and following is not None and following[0] in ("unit", "teen", "ten"):
                prev, j = "and", j + 1
                continue
            break
        kind = _kind(word)
        if kind is None:
            break
        name, value = kind
        if name in ("unit", "teen"):
            if prev not in (None, "multiplier", "big", "and", "ten") or (
                prev == "ten" and (name == "teen" or value == 0)
            ):
                break
            current += value
        elif name == "ten":
            if prev not in (None, "multiplier", "big", "and"):
                break
            current += value
        elif name == "multiplier":
            if prev not in ("unit", "teen", "ten") or current == 0:
                break
            current *= value
        else:  # thousand, million…: each scale smaller than the one before ("two million three thousand")
            if prev not in ("unit", "teen", "ten", "multiplier") or (last_big is not None and value >= last_big):
                break
            total, current, last_big = total + current * value, 0, value
        prev, end, j = name, j + 1, j + 1
    if end == i:
        return None
    return total + current, end


def parse_number_words(text: str) -> list[tuple[str, int]]:
    """(phrase, value) for every number written in words in ``text``: "two hundred fifty
    thousand" -> 250000, "a million" -> 1000000, "twenty-five" -> 25. A lone "one" is skipped
    (see the module doc)."""
    matches = list(_WORD.finditer(text))
    found: list[tuple[str, int]] = []
    start = 0
    while start < len(matches):
        # the run of words joined only by spaces, hyphens or a line break
        stop = start + 1
        while stop < len(matches) and _JOINER.fullmatch(text[matches[stop - 1].end() : matches[stop].start()]):
            stop += 1
        run = matches[start:stop]
        words = [m.group(0).lower() for m in run]
        i = 0
        while i < len(words):
            parsed = _parse_at(words, i)
            if parsed is None:
                i += 1
                continue
            value, end = parsed
            if not (end - i == 1 and words[i] == "one"):
                found.append((text[run[i].start() : run[end - 1].end()], value))
            i = end
        start = stop
    return found


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


def _numbers(text: str, *, with_digits: bool) -> list[tuple[str, list[Decimal]]]:
    text = _LIST_MARKER.sub(r"\1", text)
    found = []
    for match in _NUMBER.finditer(text):
        values = _values(match.group("digits"))
        scale = _SUFFIXES.get(match.group("suffix") or "") or _SCALE_WORDS.get((match.group("word") or "").lower())
        if scale and len(values) == 1:
            scaled = [values[0] * scale]
            values = scaled + values if with_digits else scaled
        found.append((match.group(0), values))
    found += [(phrase, [Decimal(value)]) for phrase, value in parse_number_words(text)]
    return found


def numbers_in_text(text: str) -> list[tuple[str, list[Decimal]]]:
    """(token, values) for every number written in ``text`` (digits, scaled digits, words)."""
    return _numbers(text, with_digits=False)


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
            for _token, values in _numbers(value, with_digits=True):
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
