"""Seniority and department from a job title ("VP Operations" -> VP, Operations).

Used by both providers (the simulation and the CRM import, when the CRM has a title but no
seniority) and by the plays (to find senior people among an account's active users when the
account has not been enriched). Pure keyword rules: the same title always gives the same answer.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9&+]+")

# First match wins; each entry is (words or phrases, seniority).
_SENIORITY_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        (
            "chief",
            "ceo",
            "cto",
            "cfo",
            "coo",
            "cmo",
            "cio",
            "ciso",
            "cro",
            "cpo",
            "founder",
            "co founder",
            "cofounder",
            "president",
            "owner",
            "managing director",
            "general manager",
        ),
        "C-Level",
    ),
    (("vp", "vice president", "svp", "evp", "avp"), "VP"),
    (("director", "head of", "head"), "Director"),
    (("manager", "lead", "team lead", "supervisor"), "Manager"),
    (("senior", "sr", "staff", "principal"), "Senior"),
    (("intern", "junior", "jr", "trainee", "apprentice", "graduate", "assistant"), "Entry"),
)

# First match wins; checked in this order so "Sales Operations Manager" is sales, "Operations Analyst"
# operations, "Analytics Engineer" data and "Platform Engineer" engineering.
_DEPARTMENT_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        (
            "ceo",
            "coo",
            "founder",
            "co founder",
            "cofounder",
            "president",
            "owner",
            "managing director",
            "general manager",
            "chief executive",
            "chief operating",
        ),
        "Executive",
    ),
    (("cfo", "finance", "financial", "accounting", "accountant", "controller", "treasury", "fp&a"), "Finance"),
    (
        ("cio", "ciso", "it", "security", "infosec", "systems administrator", "sysadmin", "information technology"),
        "IT & Security",
    ),
    (
        (
            "cro",
            "sales",
            "account executive",
            "ae",
            "sdr",
            "bdr",
            "business development",
            "revenue",
            "revops",
            "partnerships",
        ),
        "Sales",
    ),
    (("operations", "ops", "logistics", "supply chain", "procurement"), "Operations"),
    (
        (
            "data",
            "analytics",
            "analyst",
            "bi",
            "business intelligence",
            "insights",
            "data science",
            "scientist",
            "machine learning",
            "ml",
        ),
        "Data & Analytics",
    ),
    (
        (
            "cto",
            "engineer",
            "engineering",
            "developer",
            "devops",
            "sre",
            "platform",
            "backend",
            "frontend",
            "software",
            "architect",
            "infrastructure",
            "technical",
        ),
        "Engineering",
    ),
    (("cpo", "product"), "Product"),
    (("design", "designer", "ux", "ui", "creative"), "Design"),
    (("cmo", "marketing", "growth", "brand", "content", "seo", "demand generation", "communications"), "Marketing"),
    (("customer success", "support", "customer experience", "cx", "service", "onboarding"), "Customer Success"),
    (("hr", "people", "talent", "recruiter", "recruiting", "human resources"), "People"),
)


def _words(title: str) -> str:
    return " " + " ".join(_WORD.findall(title.casefold().replace("-", " "))) + " "


def _first(title: str | None, rules) -> str | None:
    if not title or not str(title).strip():
        return None
    words = _words(str(title))
    for phrases, value in rules:
        if any(f" {phrase} " in words for phrase in phrases):
            return value
    return None


def seniority_from_title(title: str | None) -> str | None:
    """The seniority a title names, "Individual Contributor" for a plain title, None without one."""
    if not title or not str(title).strip():
        return None
    return _first(title, _SENIORITY_RULES) or "Individual Contributor"


def department_from_title(title: str | None) -> str | None:
    """The department a title names, or None when no keyword matches."""
    return _first(title, _DEPARTMENT_RULES)


SENIOR_LEVELS = ("C-Level", "VP")


def is_executive(seniority: str | None) -> bool:
    """True for the seniorities that can sponsor a purchase (C-Level, VP)."""
    return seniority in SENIOR_LEVELS
