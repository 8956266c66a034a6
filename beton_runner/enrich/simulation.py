"""The CRM enrichment simulation: plausible, deterministic company and person intel.

Every value is a pure function of a seed key (the account's normalised domain, or a person's
email) and the field's name: ``sha256("beton-enrich/v1|<key>|<field>")``. No process state, no
Python ``hash()``, no ``random`` module: the same domain gives the same intel in every run,
process and machine, and adding a field never shifts another.

Plausibility: what the warehouse already knows wins. An employee count from the CRM picks the
employee band; its country picks the headquarters; an industry from the catalogue is kept.
Revenue, funding stage and founding year are drawn from ranges that fit the company's size.
People get seniority and department from their job title when it names them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TypeVar

from . import catalogue as cat
from .model import AccountEnrichment, AccountInput, EnrichmentResult, IntentSignal, TechItem, UserEnrichment, UserInput
from .titles import department_from_title, seniority_from_title

T = TypeVar("T")
SEED_VERSION = "beton-enrich/v1"


def normalise_domain(value: str | None) -> str | None:
    """``https://www.Acme.io/about`` -> ``acme.io``; None for blank."""
    if value is None:
        return None
    text = str(value).strip().casefold()
    if not text:
        return None
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.rsplit("@", 1)[-1].split(":", 1)[0].strip(".")
    if text.startswith("www."):
        text = text[4:]
    return text or None


class Draw:
    """Deterministic draws for one seed key."""

    def __init__(self, key: str):
        self.key = key

    def unit(self, field: str) -> float:
        """A number in [0, 1) from sha256(version|key|field)."""
        digest = hashlib.sha256(f"{SEED_VERSION}|{self.key}|{field}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def integer(self, field: str, low: int, high: int) -> int:
        """An integer in [low, high], both inclusive."""
        return low + min(int(self.unit(field) * (high - low + 1)), high - low)

    def chance(self, field: str, probability: float) -> bool:
        return self.unit(field) < probability

    def choice(self, field: str, options: Sequence[T], weights: Sequence[float] | None = None) -> T:
        if not options:
            raise ValueError("no options to choose from")
        weights = list(weights) if weights is not None else [1.0] * len(options)
        total = float(sum(weights))
        if total <= 0:
            raise ValueError("weights sum to zero")
        target = self.unit(field) * total
        running = 0.0
        for option, weight in zip(options, weights):
            running += weight
            if target < running and weight > 0:
                return option
        return next(o for o, w in zip(reversed(options), reversed(weights)) if w > 0)

    def sample(self, field: str, options: Sequence[T], k: int) -> list[T]:
        """``k`` distinct options, ordered by a per-option hash (stable when options are appended)."""
        ranked = sorted(options, key=lambda option: self.unit(f"{field}|{option}"))
        return ranked[:k]


def _size_class(band_index: int) -> int:
    for index, (bands, _stages, _years) in enumerate(cat.SIZE_CLASSES):
        if band_index in bands:
            return index
    return len(cat.SIZE_CLASSES) - 1


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "company"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


class SimulationProvider:
    """Simulated CRM enrichment (the default provider)."""

    name = "simulation"

    def enrich(self, accounts: list[AccountInput], users: list[UserInput]) -> EnrichmentResult:
        result = EnrichmentResult(provider=self.name)
        for account in sorted(accounts, key=lambda a: a.account_id):
            intel, intent, tech = self.account(account)
            result.accounts.append(intel)
            result.intent.extend(intent)
            result.tech.extend(tech)
        for user in sorted(users, key=lambda u: u.user_id):
            result.users.append(self.user(user))
        return result

    # --- accounts ---------------------------------------------------------------------------

    def account(self, account: AccountInput) -> tuple[AccountEnrichment, list[IntentSignal], list[TechItem]]:
        domain = normalise_domain(account.domain)
        draw = Draw(domain or f"account:{account.account_id}")
        name = (account.name or "").strip() or (domain or account.account_id)

        industry = cat.canonical(account.industry, cat.INDUSTRIES) or draw.choice("industry", cat.INDUSTRIES)

        known_band = cat.employee_band(account.employees)
        if known_band is not None:
            band_index = [b.label for b in cat.EMPLOYEE_BANDS].index(known_band)
            employees = int(account.employees)  # type: ignore[arg-type]
        else:
            band_index = draw.choice("employee_band", range(len(cat.EMPLOYEE_BANDS)), (22, 26, 20, 12, 8, 7, 3, 2))
            band = cat.EMPLOYEE_BANDS[band_index]
            high = int(band.high) if band.high is not None else int(band.low * 4)
            employees = draw.integer("employees", int(band.low), high)
        size = _size_class(band_index)

        per_employee = draw.integer("revenue_per_employee", *cat.REVENUE_PER_EMPLOYEE)
        revenue = float(employees * per_employee)

        country = cat.country_name(account.country)
        if country not in cat.COUNTRIES.values():
            codes = list(cat.HQ_WEIGHTS)
            country = cat.COUNTRIES[draw.choice("hq_country", codes, [cat.HQ_WEIGHTS[c] for c in codes])]

        _bands, stages, (first_year, last_year) = cat.SIZE_CLASSES[size]
        funding = draw.choice("funding_stage", stages)
        founded = draw.integer("founded_year", first_year, last_year)

        activity = draw.choice("activity", cat.INDUSTRY_ACTIVITIES.get(industry, cat.INDUSTRY_ACTIVITIES["Software"]))
        closer = draw.choice("closer", cat.DESCRIPTION_CLOSERS)
        band_label = cat.EMPLOYEE_BANDS[band_index].label
        description = (
            f"{name} is {_article(industry)} {industry.lower()} company headquartered in {cat.with_article(country)} that {activity}. "
            f"Founded in {founded}, it has {band_label} employees and is {_funding_phrase(funding)}. {closer}"
        )
        intel = AccountEnrichment(
            account_id=account.account_id,
            domain=domain,
            provider=self.name,
            industry=industry,
            employee_band=band_label,
            employees=None,  # a simulated head count would look like a fact; the band is the claim
            revenue_band=cat.revenue_band(revenue),
            annual_revenue=None,
            hq_country=country,
            funding_stage=funding,
            founded_year=founded,
            description=description,
            linkedin_url=f"https://www.linkedin.com/company/{_slug(name)}",
        )
        return (
            intel,
            self._intent(account.account_id, draw, funding),
            self._tech(account.account_id, draw, cat.tech_size_column(band_index)),
        )

    @staticmethod
    def _intent(account_id: str, draw: Draw, funding: str) -> list[IntentSignal]:
        count = draw.integer("intent_count", *cat.INTENT_SIGNALS_PER_ACCOUNT)
        candidates = [
            t for t in cat.INTENT_TOPICS if not (t.key == "event_funding" and funding in ("Bootstrapped", "Public"))
        ]
        chosen, competitor_seen = [], False
        for topic in draw.sample("intent_topics", candidates, len(candidates)):
            if topic.category == "competitor":
                if competitor_seen:
                    continue
                competitor_seen = True
            chosen.append(topic)
            if len(chosen) == count:
                break
        scored = [
            (
                draw.integer(f"intent_strength|{t.key}", *cat.INTENT_STRENGTH),
                draw.integer(f"intent_recency|{t.key}", *cat.INTENT_RECENCY_DAYS),
                t,
            )
            for t in chosen
        ]
        scored.sort(key=lambda item: (-item[0], item[1], item[2].key))
        return [
            IntentSignal(account_id, position, t.key, t.topic, t.category, strength, recency)
            for position, (strength, recency, t) in enumerate(scored, start=1)
        ]

    @staticmethod
    def _tech(account_id: str, draw: Draw, column: int) -> list[TechItem]:
        items = []
        for category in cat.TECH_CATEGORIES:
            if not draw.chance(f"tech_has|{category.name}", category.presence[column]):
                continue
            weights = [p.weights[column] for p in category.products]
            if sum(weights) == 0:
                continue
            product = draw.choice(f"tech_product|{category.name}", category.products, weights)
            items.append(TechItem(account_id, len(items) + 1, category.name, product.name))
        return items

    # --- people -----------------------------------------------------------------------------

    def user(self, user: UserInput) -> UserEnrichment:
        email = (user.email or "").strip().casefold() or None
        draw = Draw(email or f"user:{user.user_id}")
        seniority = seniority_from_title(user.job_title) or draw.choice(
            "seniority", cat.SENIORITIES, (2, 4, 8, 14, 18, 40, 14)
        )
        department = department_from_title(user.job_title) or draw.choice("department", cat.DEPARTMENTS[1:])
        if seniority == "C-Level" and department_from_title(user.job_title) is None and not user.job_title:
            department = "Executive"
        buying_role = draw.choice("buying_role", cat.BUYING_ROLES_BY_SENIORITY[seniority])
        return UserEnrichment(user.user_id, user.account_id, email, self.name, seniority, department, buying_role)


def _funding_phrase(stage: str) -> str:
    return {
        "Bootstrapped": "bootstrapped and profitable",
        "Pre-seed": "backed by pre-seed investors",
        "Seed": "backed by seed investors",
        "Private equity": "backed by private equity",
        "Public": "publicly traded",
    }.get(stage, f"venture-backed ({stage})")
