"""Deterministic mock data: the seeds behind `beton_input: mock`.

``write_mock_seeds(seeds_dir)`` writes five CSV files (the standard PLG events library and the
four tables of the input data model) that tell a handful of product-usage stories, evaluated
at the mock reference instant ``AS_OF`` (2026-10-01 12:00:00 UTC):

* Acme Analytics and Northwind Logistics are busy multi-user accounts with power users;
  Acme is growing (seats, invites, integrations), Northwind grew a little too long ago.
* Chloe (Acme) and Ivan (Ferncrest, in the product every day too) call the API heavily from
  a current SDK on a paid plan; Ben (Acme) uses the old 1.x SDK, Leo (Lumen Labs) is on the
  free plan, and Farah's (Northwind) calls are mostly small.
* Pipewise's trialist ramps up fast; Kestrel's trialist fizzled after three days.
* Bluebird Retail (team plan) and Lumen Labs (free) keep looking at enterprise features and
  pricing; Ferncrest did too, then upgraded to business; Tidewater is curious but barely uses
  the product.
* Quanta Cloud used the product heavily and went quiet five weeks ago; Cobalt Systems went
  quiet too but logged in once 26 days ago; Orchard Labs' evaluator never got far.
* Meridian Bank is a prospect (no plan yet) whose anonymous visitors read pricing and asked
  for a demo.
* Harborview Health, Summit Insurance and Verdant Energy have no events at all.

Several people have an anonymous pre-signup distinct id that `person_distinct_id` maps to
them, so identity resolution changes results; a few visitors' distinct ids map to no person
and count as their own users. Some events spell the account domain with other case or
whitespace, a few carry a domain of no account, a few carry none.

Everything derives from one ``random.Random(SEED)``; nothing depends on the clock, on hash
seeds or on set ordering, so the files are byte-identical on every run and platform.

Run ``python -m beton_runner.datagen.mock [SEEDS_DIR]`` to (re)generate the committed seeds.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

__all__ = [
    "AS_OF",
    "SEED",
    "STANDARD_EVENTS",
    "build_mock_tables",
    "main",
    "write_mock_seeds",
]

#: The mock data's reference instant (UTC, naive): no event is later than this.
AS_OF = datetime(2026, 10, 1, 12, 0, 0)
#: Seed of the single random generator everything is drawn from.
SEED = 20261001
#: Days of history before the ``AS_OF`` date (a little more than the longest rule window, so
#: that the 90-day window has events just outside it).
HISTORY_DAYS = 92

DEFAULT_SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"

# --------------------------------------------------------------------------------------------
# Reference data: the standard PLG events library
# --------------------------------------------------------------------------------------------

#: (event_name, category, description), in library order.
STANDARD_EVENTS: tuple[tuple[str, str, str], ...] = (
    ("signed_up", "activation", "A new user created an account."),
    ("email_verified", "activation", "The user confirmed their email address."),
    ("completed_onboarding", "activation", "The user finished the onboarding checklist."),
    ("created_project", "activation", "The user created a project or workspace."),
    ("connected_data_source", "activation", "A data source was connected to the product."),
    ("installed_sdk", "activation", "The product's SDK sent its first event from an app."),
    ("created_api_key", "activation", "The user created an API key."),
    ("logged_in", "engagement", "The user started a session."),
    ("viewed_dashboard", "engagement", "The user opened a dashboard."),
    ("created_dashboard", "engagement", "The user created a dashboard."),
    ("ran_query", "engagement", "The user ran a query or an analysis."),
    ("created_report", "engagement", "The user created a report."),
    ("exported_data", "engagement", "The user exported data (CSV, API or warehouse)."),
    ("created_alert", "engagement", "The user set up an alert or a notification."),
    ("used_api", "engagement", "A batch of API requests was made with the user's key."),
    ("invited_teammate", "collaboration", "The user invited a colleague to the account."),
    ("teammate_joined", "collaboration", "An invited colleague joined the account."),
    ("shared_dashboard", "collaboration", "The user shared a dashboard with others."),
    ("commented", "collaboration", "The user commented on a dashboard or report."),
    ("added_seat", "expansion", "A paid seat was added to the account."),
    ("enabled_integration", "expansion", "An integration (Slack, CRM, warehouse...) was enabled."),
    ("hit_usage_limit", "expansion", "The account reached a limit of its plan."),
    ("upgraded_plan", "expansion", "The account moved to a higher plan."),
    ("viewed_pricing_page", "intent", "The user viewed the pricing page."),
    ("started_checkout", "intent", "The user started the checkout flow."),
    ("requested_demo", "intent", "The user asked for a product demo."),
    ("contacted_sales", "intent", "The user contacted the sales team."),
    ("viewed_enterprise_features", "intent", "The user viewed the enterprise features page."),
    ("downgraded_plan", "risk", "The account moved to a lower plan."),
    ("submitted_support_ticket", "risk", "The user opened a support ticket."),
    ("viewed_cancellation_page", "risk", "The user viewed the cancellation page."),
)

# --------------------------------------------------------------------------------------------
# The cast: accounts and persons
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    domain: str
    arr: int | None
    segment: str
    owner_email: str
    industry: str
    employees: int
    country: str
    plan: str | None


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    email: str
    job_title: str
    domain: str
    created_at: datetime
    distinct_id: str
    anonymous_id: str | None = None


ACCOUNTS: tuple[Account, ...] = (
    Account(
        "acc_001",
        "Acme Analytics",
        "acme.io",
        84000,
        "Mid-Market",
        "jordan.reyes@beton.example",
        "Software",
        220,
        "US",
        "business",
    ),
    Account(
        "acc_002",
        "Northwind Logistics",
        "northwindlogistics.com",
        240000,
        "Enterprise",
        "priya.nair@beton.example",
        "Logistics",
        3400,
        "DE",
        "enterprise",
    ),
    Account(
        "acc_003",
        "Bluebird Retail",
        "bluebirdretail.co",
        36000,
        "Mid-Market",
        "jordan.reyes@beton.example",
        "Retail",
        640,
        "GB",
        "team",
    ),
    Account(
        "acc_004",
        "Ferncrest Software",
        "ferncrest.dev",
        18000,
        "SMB",
        "sam.whitfield@beton.example",
        "Software",
        45,
        "CA",
        "business",
    ),
    Account(
        "acc_005",
        "Harborview Health",
        "harborviewhealth.org",
        180000,
        "Enterprise",
        "priya.nair@beton.example",
        "Healthcare",
        5200,
        "US",
        "enterprise",
    ),
    Account(
        "acc_006",
        "Quanta Cloud",
        "quantacloud.io",
        60000,
        "Mid-Market",
        "sam.whitfield@beton.example",
        "Software",
        310,
        "US",
        "business",
    ),
    Account(
        "acc_007",
        "Lumen Labs",
        "lumenlabs.ai",
        None,
        "SMB",
        "sam.whitfield@beton.example",
        "Artificial Intelligence",
        18,
        "FR",
        "free",
    ),
    Account(
        "acc_008", "Pipewise", "pipewise.app", None, "SMB", "sam.whitfield@beton.example", "Software", 12, "NL", "trial"
    ),
    Account(
        "acc_009",
        "Kestrel Foods",
        "kestrelfoods.com",
        None,
        "SMB",
        "jordan.reyes@beton.example",
        "Food & Beverage",
        85,
        "AU",
        "trial",
    ),
    Account(
        "acc_010",
        "Tidewater Media",
        "tidewatermedia.com",
        0,
        "SMB",
        "jordan.reyes@beton.example",
        "Media",
        60,
        "US",
        "free",
    ),
    Account(
        "acc_011",
        "Meridian Bank",
        "meridianbank.com",
        None,
        "Enterprise",
        "priya.nair@beton.example",
        "Financial Services",
        12000,
        "US",
        None,
    ),
    Account(
        "acc_012",
        "Cobalt Systems",
        "cobaltsystems.io",
        48000,
        "Mid-Market",
        "priya.nair@beton.example",
        "Manufacturing",
        900,
        "SE",
        "business",
    ),
    Account(
        "acc_013",
        "Orchard Labs",
        "orchardlabs.io",
        None,
        "SMB",
        "sam.whitfield@beton.example",
        "Biotech",
        30,
        "US",
        "trial",
    ),
    Account(
        "acc_014",
        "Summit Insurance",
        "summitinsure.com",
        120000,
        "Enterprise",
        "priya.nair@beton.example",
        "Insurance",
        2800,
        "US",
        "enterprise",
    ),
    Account(
        "acc_015",
        "Verdant Energy",
        "verdantenergy.com",
        24000,
        "Mid-Market",
        "jordan.reyes@beton.example",
        "Energy",
        410,
        "ES",
        "team",
    ),
)


def _days_ago(n: int) -> date:
    """The UTC date ``n`` days before the ``AS_OF`` date (0 = the ``AS_OF`` date)."""
    return AS_OF.date() - timedelta(days=n)


def _at(n: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime.combine(_days_ago(n), time(hh, mm, ss))


PERSONS: tuple[Person, ...] = (
    Person(
        "person_001",
        "Alice Chen",
        "alice.chen@acme.io",
        "Head of Analytics",
        "acme.io",
        datetime(2026, 3, 2, 9, 14, 5),
        "alice.chen@acme.io",
    ),
    Person(
        "person_002",
        "Ben Ortiz",
        "ben.ortiz@acme.io",
        "Data Engineer",
        "acme.io",
        datetime(2026, 4, 18, 15, 2, 41),
        "user_b7e21c",
    ),
    Person(
        "person_003",
        "Chloe Park",
        "chloe.park@acme.io",
        "Backend Engineer",
        "acme.io",
        _at(25, 10, 3, 12),
        "chloe.park@acme.io",
    ),
    Person(
        "person_004",
        "Diego Ramírez",
        "diego.ramirez@northwindlogistics.com",
        "VP Operations",
        "northwindlogistics.com",
        datetime(2026, 2, 11, 8, 30, 0),
        "user_4d09aa",
    ),
    Person(
        "person_005",
        "Emma Schultz",
        "emma.schultz@northwindlogistics.com",
        "Operations Analyst",
        "northwindlogistics.com",
        datetime(2026, 2, 23, 13, 45, 9),
        "emma.schultz@northwindlogistics.com",
    ),
    Person(
        "person_006",
        "Farah Khan",
        "farah.khan@northwindlogistics.com",
        "Platform Engineer",
        "northwindlogistics.com",
        _at(23, 9, 12, 40),
        "user_f4a1c9",
    ),
    Person(
        "person_007",
        "Grace Liu",
        "grace.liu@bluebirdretail.co",
        "Director of IT",
        "bluebirdretail.co",
        _at(21, 9, 5, 33),
        "grace.liu@bluebirdretail.co",
        "anon_5e0b7d2f9a41",
    ),
    Person(
        "person_008",
        "Hiro Tanaka",
        "hiro.tanaka@bluebirdretail.co",
        "BI Lead",
        "bluebirdretail.co",
        datetime(2026, 5, 20, 11, 20, 17),
        "hiro.tanaka@bluebirdretail.co",
    ),
    Person(
        "person_009",
        "Ivan Petrov",
        "ivan.petrov@ferncrest.dev",
        "CTO",
        "ferncrest.dev",
        datetime(2026, 7, 15, 8, 0, 52),
        "user_9a7720",
    ),
    Person(
        "person_010",
        "Kara Novak",
        "kara.novak@quantacloud.io",
        "Product Manager",
        "quantacloud.io",
        datetime(2026, 5, 2, 14, 11, 3),
        "kara.novak@quantacloud.io",
    ),
    Person(
        "person_011",
        "Leo Martins",
        "leo.martins@lumenlabs.ai",
        "Founder",
        "lumenlabs.ai",
        _at(42, 16, 20, 0),
        "leo.martins@lumenlabs.ai",
        "anon_c41f9b0e27d3",
    ),
    Person(
        "person_012",
        "Mia Rossi",
        "mia.rossi@pipewise.app",
        "Head of Growth",
        "pipewise.app",
        _at(6, 8, 14, 26),
        "mia.rossi@pipewise.app",
        "anon_7b22e8c5d190",
    ),
    Person(
        "person_013",
        "Noah Fischer",
        "noah.fischer@kestrelfoods.com",
        "Data Analyst",
        "kestrelfoods.com",
        _at(6, 10, 2, 8),
        "user_3c5d81",
        "anon_0f6a3d9e84b2",
    ),
    Person(
        "person_014",
        "Olivia Brown",
        "olivia.brown@tidewatermedia.com",
        "Marketing Manager",
        "tidewatermedia.com",
        datetime(2026, 6, 15, 17, 40, 0),
        "olivia.brown@tidewatermedia.com",
    ),
    Person(
        "person_015",
        "Sam Okafor",
        "sam.okafor@cobaltsystems.io",
        "Analytics Engineer",
        "cobaltsystems.io",
        datetime(2026, 4, 10, 9, 55, 30),
        "sam.okafor@cobaltsystems.io",
    ),
)

_PERSON = {p.person_id: p for p in PERSONS}

# --------------------------------------------------------------------------------------------
# Event generation
# --------------------------------------------------------------------------------------------

_APP = "https://app.beton-demo.example"
_PAGE_URLS = {
    "viewed_pricing_page": f"{_APP}/pricing",
    "viewed_enterprise_features": f"{_APP}/enterprise",
    "viewed_cancellation_page": f"{_APP}/settings/billing/cancel",
}
_SERVER_SIDE = {"used_api", "hit_usage_limit", "teammate_joined", "added_seat"}
_LIBRARY = {name for name, _, _ in STANDARD_EVENTS}

#: Everyday product usage, as (event, weight); excludes every event a rule keys on.
_BACKGROUND = (
    ("viewed_dashboard", 30),
    ("ran_query", 24),
    ("created_report", 6),
    ("commented", 6),
    ("exported_data", 5),
    ("created_dashboard", 4),
    ("created_alert", 4),
    ("shared_dashboard", 4),
    ("connected_data_source", 1),
    ("submitted_support_ticket", 1),
)
#: What an API-first engineer does in the web app.
_ENGINEER = (("viewed_dashboard", 3), ("ran_query", 2))

PlanOf = Callable[[datetime], "str | None"]


def _constant(plan: str | None) -> PlanOf:
    return lambda _ts: plan


@dataclass(frozen=True)
class Actor:
    """Who sends events: a distinct id, its (possibly empty) person id and its context."""

    distinct_id: str
    person_id: str | None
    domain: str | None
    plan: PlanOf
    browser: str | None = "Chrome"
    domain_variants: tuple[str, ...] = ()
    #: The person's creation instant: none of their identified events is earlier.
    since: datetime | None = None


class EventLog:
    """Accumulates events drawn from one seeded generator."""

    #: Share of background events that spell the domain differently / carry no domain.
    VARIANT_RATE = 0.05
    NO_DOMAIN_RATE = 0.02

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.rows: list[tuple[datetime, str, str, dict, str | None]] = []

    # -- timing -----------------------------------------------------------------------------

    def times(self, day: date, n: int, since: datetime | None = None) -> list[datetime]:
        """``n`` sorted random instants within the working day, never after ``AS_OF`` and
        never before ``since``."""
        start = 7 * 3600
        if since is not None and since.date() == day:
            start = max(start, since.hour * 3600 + since.minute * 60 + since.second)
        end = 11 * 3600 + 59 * 60 + 59 if day == AS_OF.date() else 20 * 3600 + 59 * 60
        secs = sorted(self.rng.randint(start, end) for _ in range(n))
        return [datetime.combine(day, time()) + timedelta(seconds=s) for s in secs]

    # -- recording --------------------------------------------------------------------------

    def add(self, who: Actor, ts: datetime, event: str, *, background: bool = False, **extra: object) -> None:
        """Record one event. Only ``background`` events may spell the actor's domain
        differently or lose it, so that story events always reach their account."""
        if event not in _LIBRARY:
            raise ValueError(f"{event!r} is not in the standard events library")
        if ts > AS_OF:
            raise ValueError(f"{event} at {ts} is after as_of {AS_OF}")
        if who.since is not None and ts < who.since:
            raise ValueError(f"{event} at {ts} is before {who.distinct_id} existed")
        props: dict[str, object] = {}
        company = who.domain
        if company and background:
            draw = self.rng.random()
            if draw < self.NO_DOMAIN_RATE:
                company = None
            elif who.domain_variants and draw < self.NO_DOMAIN_RATE + self.VARIANT_RATE:
                company = self.rng.choice(who.domain_variants)
        if company:
            props["company_domain"] = company
        plan = who.plan(ts)
        if plan:
            props["plan"] = plan
        if who.browser and event not in _SERVER_SIDE:
            props["$browser"] = who.browser
        if event in _PAGE_URLS:
            props["$current_url"] = _PAGE_URLS[event]
        elif event in ("viewed_dashboard", "created_dashboard", "shared_dashboard"):
            props["$current_url"] = f"{_APP}/dashboards/{self.rng.randint(100, 140)}"
        props.update(extra)
        self.rows.append((ts, event, who.distinct_id, props, who.person_id))

    def session(self, who: Actor, day: date, events: Sequence[str]) -> None:
        """A background session on ``day``: ``logged_in`` first, then ``events`` in order."""
        names = ["logged_in", *events]
        for ts, name in zip(self.times(day, len(names), who.since), names, strict=True):
            self.add(who, ts, name, background=True)

    def one(self, who: Actor, day_ago: int, event: str, **extra: object) -> None:
        """One explicit (story) event at a random time on the day ``day_ago`` days back."""
        (ts,) = self.times(_days_ago(day_ago), 1, who.since)
        self.add(who, ts, event, **extra)

    def first_steps(self, who: Actor, events: Sequence[str], minutes: Sequence[int]) -> None:
        """The events a new person sends right after ``since``, ``minutes`` after it."""
        for event, minute in zip(events, minutes, strict=True):
            jitter = self.rng.randint(0, 59) if minute else 0
            self.add(who, who.since + timedelta(minutes=minute, seconds=jitter), event)

    # -- usage patterns ---------------------------------------------------------------------

    def pick(self, mix: Sequence[tuple[str, int]], n: int) -> list[str]:
        names = [name for name, _ in mix]
        weights = [w for _, w in mix]
        return self.rng.choices(names, weights=weights, k=n)

    def usage(
        self,
        who: Actor,
        first: int,
        last: int,
        *,
        weekday: float,
        weekend: float,
        per_day: tuple[int, int],
        mix: Sequence[tuple[str, int]] = _BACKGROUND,
        skip: Sequence[int] = (),
        force: Sequence[int] = (),
    ) -> list[int]:
        """Background sessions from ``first`` to ``last`` days ago (inclusive).

        A day is active with probability ``weekday``/``weekend``; ``skip`` days are never
        active and ``force`` days always are. Returns the active days (days ago)."""
        active = []
        for n in range(first, last - 1, -1):
            day = _days_ago(n)
            p = weekend if day.weekday() >= 5 else weekday
            if n in skip or (n not in force and self.rng.random() >= p):
                continue
            active.append(n)
            self.session(who, day, self.pick(mix, self.rng.randint(*per_day)))
        return active

    def api_calls(
        self,
        who: Actor,
        days: Sequence[int],
        per_day: tuple[int, int],
        sdk: Callable[[datetime], str],
        requests: Callable[[], object],
    ) -> None:
        """``used_api`` batches on each of ``days`` (days ago)."""
        for n in days:
            for ts in self.times(_days_ago(n), self.rng.randint(*per_day), who.since):
                self.add(
                    who,
                    ts,
                    "used_api",
                    sdk_version=sdk(ts),
                    request_count=requests(),
                    endpoint=self.rng.choice(("/api/query", "/api/events", "/api/export")),
                )


def _generate_events(rng: random.Random) -> list[tuple[datetime, str, str, dict, str | None]]:
    log = EventLog(rng)
    h = HISTORY_DAYS
    p = _PERSON

    def person(pid: str, domain: str, plan: PlanOf, browser: str = "Chrome", variants: tuple[str, ...] = ()) -> Actor:
        return Actor(p[pid].distinct_id, pid, domain, plan, browser, variants, since=p[pid].created_at)

    def anonymous(pid: str, domain: str | None, browser: str) -> Actor:
        """A person's pre-signup anonymous distinct id (events carry no person_id)."""
        return Actor(p[pid].anonymous_id, None, domain, _constant(None), browser)

    def visitor(distinct_id: str, domain: str | None, browser: str, plan: str | None = None) -> Actor:
        """A distinct id that maps to no person: it stands alone as its own user."""
        return Actor(distinct_id, None, domain, _constant(plan), browser)

    # Acme Analytics: busy, growing team. Alice is a power user and adds seats and invites;
    # Ben calls the API from the old 1.x SDK; Chloe joined 25 days ago and lives in the API.
    acme_variants = (" Acme.io", "ACME.IO", "acme.io ")
    acme = _constant("business")
    alice = person("person_001", "acme.io", acme, "Chrome", acme_variants)
    ben = person("person_002", "acme.io", acme, "Firefox", acme_variants)
    chloe = person("person_003", "acme.io", acme, "Chrome", acme_variants)
    log.usage(alice, h, 0, weekday=0.95, weekend=0.6, per_day=(7, 11), force=(0,))
    for n in range(h - 3, 0, -8):  # a new project now and then
        log.one(alice, n, "created_project")
    log.one(alice, 26, "invited_teammate")
    log.one(alice, 20, "added_seat", seats=12)
    log.one(alice, 6, "invited_teammate")
    log.one(alice, 6, "added_seat", seats=14)
    log.add(alice, AS_OF, "viewed_dashboard")  # exactly at as_of: inside every window
    ben_days = log.usage(ben, h, 0, weekday=0.85, weekend=0.0, per_day=(2, 5))
    log.api_calls(ben, ben_days, (2, 5), lambda _ts: "1.9.3", lambda: rng.randint(20, 400))
    log.one(ben, 12, "enabled_integration", integration="slack")
    log.one(ben, 3, "enabled_integration", integration="salesforce")
    log.first_steps(chloe, ("teammate_joined", "installed_sdk", "created_api_key"), (0, 25, 31))
    chloe_days = log.usage(chloe, 24, 0, weekday=1.0, weekend=0.4, per_day=(1, 3), mix=_ENGINEER, force=(0,))
    log.api_calls(chloe, chloe_days, (4, 8), lambda _ts: "2.4.0", lambda: rng.randint(10, 500))

    # Northwind Logistics: enterprise account, three active people. Diego is a power user who
    # grew the team 16..24 days ago; Emma works weekdays only and was on leave for a week;
    # Farah joined 23 days ago and makes many small API calls.
    nw_variants = ("Northwindlogistics.com ", "NorthwindLogistics.com")
    enterprise = _constant("enterprise")
    diego = person("person_004", "northwindlogistics.com", enterprise, "Edge", nw_variants)
    emma = person("person_005", "northwindlogistics.com", enterprise, "Chrome", nw_variants)
    farah = person("person_006", "northwindlogistics.com", enterprise, "Firefox", nw_variants)
    log.usage(diego, h, 1, weekday=0.95, weekend=0.35, per_day=(6, 10), force=(1,))
    for n in range(h - 5, 0, -9):
        log.one(diego, n, "created_project")
    log.one(diego, 24, "invited_teammate")
    log.one(diego, 22, "added_seat", seats=40)
    log.one(diego, 20, "enabled_integration", integration="snowflake")
    log.one(diego, 16, "added_seat", seats=45)
    log.first_steps(farah, ("teammate_joined",), (0,))
    log.usage(emma, h, 0, weekday=1.0, weekend=0.0, per_day=(8, 12), skip=(*range(20, 13, -1), *range(61, 54, -1)))
    for _ in range(6):  # a migration: many projects on two days
        log.one(emma, 3, "created_project")
    for _ in range(5):
        log.one(emma, 2, "created_project")
    farah_days = log.usage(farah, 22, 0, weekday=0.9, weekend=0.0, per_day=(2, 5))
    log.api_calls(
        farah,
        farah_days,
        (1, 3),
        lambda _ts: "3.0.1",
        lambda: rng.randint(10, 40) if rng.random() < 0.2 else rng.randint(1, 9),
    )

    # Bluebird Retail (team plan). Hiro is there almost daily but has been away since
    # Monday, and keeps hitting plan limits. Grace browsed pricing and enterprise pages
    # anonymously, signed up 21 days ago and has been talking to sales since.
    bb_variants = ("BLUEBIRDRETAIL.CO", " bluebirdretail.co")
    team = _constant("team")
    hiro = person("person_008", "bluebirdretail.co", team, "Chrome", bb_variants)
    grace = person("person_007", "bluebirdretail.co", team, "Safari", bb_variants)
    grace_anon = anonymous("person_007", "bluebirdretail.co", "Safari")
    log.usage(hiro, h, 3, weekday=1.0, weekend=0.5, per_day=(7, 10), force=(3,))
    for n in (27, 19, 11, 4):
        log.one(hiro, n, "hit_usage_limit", limit="events_per_month")
    log.one(hiro, 15, "enabled_integration", integration="bigquery")
    for n, event in (
        (26, "viewed_pricing_page"),
        (25, "viewed_enterprise_features"),
        (23, "viewed_pricing_page"),
        (22, "viewed_enterprise_features"),
    ):
        log.one(grace_anon, n, event)
    log.first_steps(grace, ("signed_up", "email_verified", "completed_onboarding"), (0, 2, 9))
    log.usage(grace, 20, 0, weekday=0.8, weekend=0.0, per_day=(2, 5))
    for n, event in (
        (12, "viewed_enterprise_features"),
        (9, "viewed_pricing_page"),
        (8, "viewed_enterprise_features"),
        (5, "viewed_enterprise_features"),
        (5, "viewed_pricing_page"),
        (2, "contacted_sales"),
    ):
        log.one(grace, n, event)

    # Ferncrest Software: Ivan builds on the API; he compared plans 13 days ago, upgraded from
    # team to business the next day (and moved to SDK 3.0.1), then added seats.
    upgraded = _at(12, 12, 40, 0)
    ferncrest = person("person_009", "ferncrest.dev", lambda ts: "business" if ts >= upgraded else "team", "Chrome")
    first = (AS_OF.date() - p["person_009"].created_at.date()).days
    log.first_steps(ferncrest, ("signed_up", "completed_onboarding", "created_api_key"), (0, 5, 20))
    ivan_days = log.usage(ferncrest, first, 0, weekday=0.9, weekend=0.1, per_day=(2, 5), force=(first, 12))
    log.api_calls(
        ferncrest,
        ivan_days,
        (2, 5),
        lambda ts: "3.0.1" if ts >= upgraded else "2.4.0",
        lambda: (str if rng.random() < 0.15 else int)(rng.randint(10, 300)),
    )
    log.one(ferncrest, 13, "viewed_pricing_page")
    log.one(ferncrest, 13, "viewed_pricing_page")
    log.add(ferncrest, _at(12, 12, 20, 11), "started_checkout", target_plan="business")
    log.add(ferncrest, upgraded, "upgraded_plan", from_plan="team", to_plan="business")
    log.one(ferncrest, 11, "added_seat", seats=5)
    log.one(ferncrest, 6, "hit_usage_limit", limit="api_requests")
    log.one(ferncrest, 5, "added_seat", seats=8)
    log.one(ferncrest, 2, "hit_usage_limit", limit="api_requests")

    # Quanta Cloud: heavy use until five weeks ago, a support ticket, a look at the
    # cancellation page, then silence.
    kara = person("person_010", "quantacloud.io", _constant("business"), "Chrome")
    log.usage(kara, h, 37, weekday=0.95, weekend=0.1, per_day=(5, 9), force=(h - 2, 89))
    log.one(kara, 38, "submitted_support_ticket")
    log.add(kara, _at(36, 15, 42, 7), "viewed_cancellation_page")

    # Lumen Labs (free plan): Leo builds on the API from SDK 2.4.0 and keeps coming back to
    # pricing and the enterprise page; he asked for a demo yesterday.
    lumen = person("person_011", "lumenlabs.ai", _constant("free"), "Firefox", (" LumenLabs.ai",))
    log.one(anonymous("person_011", None, "Firefox"), 43, "viewed_pricing_page")
    log.first_steps(
        lumen,
        ("signed_up", "email_verified", "completed_onboarding", "created_project", "created_api_key"),
        (0, 1, 6, 8, 15),
    )
    leo_days = log.usage(lumen, 41, 0, weekday=0.8, weekend=0.2, per_day=(2, 5), force=(1,))
    log.api_calls(lumen, [n for n in leo_days if n <= 35], (1, 4), lambda _ts: "2.4.0", lambda: rng.randint(10, 150))
    for n, event in (
        (10, "viewed_pricing_page"),
        (6, "viewed_pricing_page"),
        (6, "viewed_enterprise_features"),
        (4, "hit_usage_limit"),
        (3, "viewed_enterprise_features"),
        (1, "viewed_pricing_page"),
        (1, "requested_demo"),
    ):
        log.one(lumen, n, event)

    # Pipewise (trial): Mia read pricing anonymously (from her own site's domain), signed up
    # on the first day of the week and has been setting up projects ever since.
    pipewise = person("person_012", "pipewise.app", _constant("trial"), "Chrome")
    mia_anon = anonymous("person_012", "pipewise.com", "Chrome")
    log.one(mia_anon, 8, "viewed_pricing_page")
    log.one(mia_anon, 7, "viewed_pricing_page")
    log.first_steps(pipewise, ("signed_up", "email_verified", "completed_onboarding"), (0, 2, 17))
    for n, count in ((6, 2), (5, 3), (3, 3), (1, 2), (0, 2)):
        for _ in range(count):
            log.one(pipewise, n, "created_project")
    log.one(pipewise, 5, "installed_sdk")
    log.one(pipewise, 5, "connected_data_source")
    log.usage(pipewise, 6, 0, weekday=1.0, weekend=0.5, per_day=(2, 5))
    log.one(pipewise, 2, "requested_demo")

    # Kestrel Foods (trial): Noah signed up, built projects for three days and stopped.
    kestrel = person("person_013", "kestrelfoods.com", _constant("trial"), "Safari")
    log.add(anonymous("person_013", "kestrelfoods.com", "Safari"), _at(6, 9, 40, 12), "viewed_pricing_page")
    log.first_steps(kestrel, ("signed_up", "completed_onboarding"), (0, 7))
    for n, count in ((6, 3), (5, 4), (4, 3)):
        for _ in range(count):
            log.one(kestrel, n, "created_project")
    log.one(kestrel, 5, "viewed_pricing_page")
    log.one(kestrel, 4, "viewed_pricing_page")
    log.usage(kestrel, 6, 4, weekday=1.0, weekend=1.0, per_day=(1, 3))

    # Tidewater Media (free): Olivia drops by about once a week; lately she looked at
    # pricing and hit a limit, but the account hardly uses the product.
    tidewater = person("person_014", "tidewatermedia.com", _constant("free"), "Safari")
    log.usage(
        tidewater, h, 0, weekday=0.0, weekend=0.0, per_day=(0, 2), force=(*range(h - 1, 30, -7), 27, 20, 13, 9, 5, 3)
    )
    log.one(tidewater, 9, "viewed_pricing_page")
    log.one(tidewater, 5, "hit_usage_limit", limit="dashboards")
    log.one(tidewater, 3, "viewed_pricing_page")

    # Cobalt Systems: heavy use until a month ago, then one login 26 days ago.
    sam = person("person_015", "cobaltsystems.io", _constant("business"), "Edge")
    log.usage(sam, h, 31, weekday=0.95, weekend=0.0, per_day=(5, 9))
    log.session(sam, _days_ago(26), [])

    # Meridian Bank (prospect): three anonymous visitors who never signed up.
    scout = visitor("anon_e93a0c4b7f12", "meridianbank.com", "Chrome")
    for n, event in (
        (4, "viewed_pricing_page"),
        (3, "viewed_pricing_page"),
        (3, "viewed_enterprise_features"),
        (1, "requested_demo"),
    ):
        log.one(scout, n, event)
    log.one(visitor("anon_2d8b6f01c3a5", "meridianbank.com", "Edge"), 2, "viewed_pricing_page")
    browser = visitor("anon_a6c1e57d2b90", "MeridianBank.com", "Safari")
    log.one(browser, 1, "viewed_enterprise_features")
    log.one(browser, 1, "viewed_pricing_page")

    # Orchard Labs: an evaluator whose identify call never happened, a week of use in August.
    evaluator = visitor("anon_58f7d3e1a0c6", "orchardlabs.io", "Firefox", plan="trial")
    log.usage(evaluator, 55, 48, weekday=0.8, weekend=0.0, per_day=(1, 4), force=(55,))

    # Visitors from no account: a personal address, and one with no company at all.
    log.one(visitor("anon_91c0d4e6b3f7", "gmail.com", "Chrome"), 10, "viewed_pricing_page")
    nobody = visitor("anon_3b7e2a9f0d18", None, "Firefox")
    log.one(nobody, 11, "viewed_pricing_page")
    log.one(nobody, 11, "viewed_enterprise_features")

    return log.rows


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

Table = tuple[list[str], list[list[str]]]

SEED_FILES = {
    "standard_events": Path("reference/beton_standard_events.csv"),
    "mock_accounts": Path("mock/beton_mock_accounts.csv"),
    "mock_persons": Path("mock/beton_mock_persons.csv"),
    "mock_person_distinct_id": Path("mock/beton_mock_person_distinct_id.csv"),
    "mock_events": Path("mock/beton_mock_events.csv"),
}


def _json(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def build_mock_tables() -> dict[str, Table]:
    """All seed tables as (header, rows) of text cells, keyed like ``SEED_FILES``."""
    rng = random.Random(SEED)
    tables: dict[str, Table] = {}
    tables["standard_events"] = (["event_name", "category", "description"], [list(e) for e in STANDARD_EVENTS])
    tables["mock_accounts"] = (
        ["account_id", "name", "domain", "arr", "segment", "owner_email", "properties"],
        [
            [
                a.account_id,
                a.name,
                a.domain,
                "" if a.arr is None else str(a.arr),
                a.segment,
                a.owner_email,
                _json(
                    {"industry": a.industry, "employees": a.employees, "country": a.country}
                    | ({"plan": a.plan} if a.plan else {})
                ),
            ]
            for a in ACCOUNTS
        ],
    )
    tables["mock_persons"] = (
        ["id", "created_at", "properties", "is_identified"],
        [
            [
                p.person_id,
                _ts(p.created_at),
                _json({"email": p.email, "name": p.name, "job_title": p.job_title, "company_domain": p.domain}),
                "true",
            ]
            for p in PERSONS
        ],
    )
    pdi = []
    for p in PERSONS:
        pdi.append([p.person_id, p.distinct_id])
        if p.anonymous_id:
            pdi.append([p.person_id, p.anonymous_id])
    tables["mock_person_distinct_id"] = (["person_id", "distinct_id"], pdi)

    events = _generate_events(rng)
    # Stable order: time, then who, then what; the generation order breaks the rest.
    events.sort(key=lambda e: (e[0], e[2], e[1]))
    id_rng = random.Random(SEED + 1)
    tables["mock_events"] = (
        ["uuid", "event", "distinct_id", "timestamp", "properties", "person_id"],
        [
            [
                str(uuid.UUID(int=id_rng.getrandbits(128), version=4)),
                event,
                distinct_id,
                _ts(ts),
                _json(props),
                person_id or "",
            ]
            for ts, event, distinct_id, props, person_id in events
        ],
    )
    return tables


def write_mock_seeds(seeds_dir: Path) -> dict[str, int]:
    """Write the seed CSVs under ``seeds_dir``; return the data row count of each table."""
    seeds_dir = Path(seeds_dir)
    counts: dict[str, int] = {}
    for name, (header, rows) in build_mock_tables().items():
        path = seeds_dir / SEED_FILES[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        counts[name] = len(rows)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m beton_runner.datagen.mock", description="Write Beton Inspector's deterministic mock data seeds."
    )
    parser.add_argument(
        "seeds_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_SEEDS_DIR,
        help=f"seeds folder to write into (default: {DEFAULT_SEEDS_DIR})",
    )
    args = parser.parse_args(argv)
    counts = write_mock_seeds(args.seeds_dir)
    for name, n in counts.items():
        print(f"{args.seeds_dir / SEED_FILES[name]}: {n} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
