"""How facts are written in a play. The same functions feed the templates and the playbook's
evidence lines, and the grounding check accepts exactly what they produce from the facts."""

from __future__ import annotations

from typing import Any


def num(value: Any) -> str:
    """1234 -> '1,234'; 12.7 -> '12.70'; None -> 'n/a'."""
    if value is None:
        return "n/a"
    if isinstance(value, float) and value != int(value):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def score(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"


def money(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and value != int(value):
        return f"${value:,.2f}"
    return f"${int(value):,}"


def pct(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{'+' if value > 0 else ''}{int(value)}%"


def ts(value: Any) -> str:
    """'2026-10-01 12:00:00' -> '2026-10-01 12:00'."""
    return "n/a" if not value else str(value)[:16]


def day(value: Any) -> str:
    return "n/a" if not value else str(value)[:10]


def md(value: Any) -> str:
    """Text safe inside a Markdown table cell or a line: no pipes or line breaks."""
    if value is None:
        return ""
    return " ".join(str(value).split()).replace("|", "\\|")


def first_name(name: Any) -> str | None:
    if not name:
        return None
    return str(name).split()[0]


def name_from_email(email: Any) -> str | None:
    """'jordan.reyes@beton.example' -> 'Jordan Reyes'."""
    if not email or "@" not in str(email):
        return None
    local = str(email).split("@", 1)[0]
    parts = [p for p in local.replace("_", ".").replace("-", ".").split(".") if p and p.isalpha()]
    return " ".join(p.capitalize() for p in parts) or None


def capfirst(value: Any) -> str:
    text = "" if value is None else str(value)
    return text[:1].upper() + text[1:]


FILTERS = {
    "capfirst": capfirst,
    "num": num,
    "score": score,
    "money": money,
    "pct": pct,
    "ts": ts,
    "day": day,
    "md": md,
    "first_name": first_name,
}
