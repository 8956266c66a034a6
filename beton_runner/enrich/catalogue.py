"""The curated catalogues every enrichment value comes from.

The simulation draws only from these lists; the CRM CSV import maps onto them where it can
(employee and revenue bands, tech-stack categories, seniority, buying roles). Tests check that
every simulated value is a member. Order matters: bands are ascending, categories are listed
in the order a tech stack is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

INDUSTRIES: tuple[str, ...] = (
    "Software",
    "Financial Services",
    "Healthcare",
    "Retail",
    "E-commerce",
    "Logistics",
    "Manufacturing",
    "Media",
    "Education",
    "Energy",
    "Insurance",
    "Food & Beverage",
    "Biotech",
    "Artificial Intelligence",
    "Telecommunications",
    "Real Estate",
    "Professional Services",
    "Travel & Hospitality",
    "Marketing & Advertising",
    "Non-profit",
)


@dataclass(frozen=True)
class Band:
    label: str
    low: float
    high: float | None  # inclusive; None = no upper bound


# LinkedIn's company-size bands.
EMPLOYEE_BANDS: tuple[Band, ...] = (
    Band("1-10", 1, 10),
    Band("11-50", 11, 50),
    Band("51-200", 51, 200),
    Band("201-500", 201, 500),
    Band("501-1,000", 501, 1000),
    Band("1,001-5,000", 1001, 5000),
    Band("5,001-10,000", 5001, 10000),
    Band("10,001+", 10001, None),
)

# Annual revenue in US dollars; low inclusive, high exclusive.
REVENUE_BANDS: tuple[Band, ...] = (
    Band("< $1M", 0, 1e6),
    Band("$1M-$10M", 1e6, 1e7),
    Band("$10M-$50M", 1e7, 5e7),
    Band("$50M-$100M", 5e7, 1e8),
    Band("$100M-$500M", 1e8, 5e8),
    Band("$500M-$1B", 5e8, 1e9),
    Band("$1B+", 1e9, None),
)

# ISO 3166 alpha-2 code -> the name shown in the enrichment.
COUNTRIES: dict[str, str] = {
    "US": "United States",
    "GB": "United Kingdom",
    "DE": "Germany",
    "FR": "France",
    "NL": "Netherlands",
    "SE": "Sweden",
    "ES": "Spain",
    "IT": "Italy",
    "IE": "Ireland",
    "CA": "Canada",
    "AU": "Australia",
    "NZ": "New Zealand",
    "IN": "India",
    "SG": "Singapore",
    "JP": "Japan",
    "BR": "Brazil",
    "IL": "Israel",
    "CH": "Switzerland",
    "DK": "Denmark",
    "NO": "Norway",
    "FI": "Finland",
    "PL": "Poland",
    "AT": "Austria",
    "BE": "Belgium",
    "PT": "Portugal",
}
# Where simulated headquarters are drawn from when the CRM does not say (weighted).
HQ_WEIGHTS: dict[str, int] = {
    "US": 40,
    "GB": 10,
    "DE": 8,
    "FR": 6,
    "NL": 4,
    "CA": 5,
    "AU": 4,
    "SE": 3,
    "ES": 3,
    "IE": 2,
    "IN": 4,
    "SG": 2,
    "IL": 2,
    "CH": 2,
    "DK": 1,
    "PL": 2,
    "BR": 2,
}

FUNDING_STAGES: tuple[str, ...] = (
    "Bootstrapped",
    "Pre-seed",
    "Seed",
    "Series A",
    "Series B",
    "Series C",
    "Series D+",
    "Private equity",
    "Public",
)

# Employee-band index ranges -> plausible funding stages and founding years.
SIZE_CLASSES: tuple[tuple[range, tuple[str, ...], tuple[int, int]], ...] = (
    (range(0, 2), ("Bootstrapped", "Pre-seed", "Seed", "Seed", "Series A"), (2014, 2024)),
    (range(2, 3), ("Bootstrapped", "Seed", "Series A", "Series A", "Series B"), (2008, 2021)),
    (range(3, 5), ("Bootstrapped", "Series B", "Series B", "Series C", "Series D+"), (1998, 2018)),
    (range(5, 6), ("Series D+", "Private equity", "Public", "Public"), (1970, 2012)),
    (range(6, 8), ("Public", "Public", "Private equity"), (1890, 2005)),
)


# Employee-band index -> the column of TechProduct.weights (small, mid, large).
def tech_size_column(band_index: int) -> int:
    return 0 if band_index < 2 else 1 if band_index < 5 else 2


# Revenue per employee drawn between these (US dollars), by nothing but the domain.
REVENUE_PER_EMPLOYEE = (90_000, 420_000)

SENIORITIES: tuple[str, ...] = (
    "C-Level",
    "VP",
    "Director",
    "Manager",
    "Senior",
    "Individual Contributor",
    "Entry",
)
DEPARTMENTS: tuple[str, ...] = (
    "Executive",
    "Engineering",
    "Data & Analytics",
    "Product",
    "Design",
    "Sales",
    "Marketing",
    "Customer Success",
    "Operations",
    "Finance",
    "IT & Security",
    "People",
)
# HubSpot's "Buying Role" property values (the simulation uses the first six).
BUYING_ROLES: tuple[str, ...] = (
    "Decision Maker",
    "Executive Sponsor",
    "Budget Holder",
    "Champion",
    "Influencer",
    "End User",
    "Blocker",
    "Legal & Compliance",
    "Other",
)
# Seniority -> the buying roles a person of that seniority plausibly plays.
BUYING_ROLES_BY_SENIORITY: dict[str, tuple[str, ...]] = {
    "C-Level": ("Executive Sponsor", "Decision Maker"),
    "VP": ("Decision Maker", "Budget Holder"),
    "Director": ("Budget Holder", "Champion"),
    "Manager": ("Champion", "Influencer"),
    "Senior": ("Influencer", "Champion", "End User"),
    "Individual Contributor": ("End User", "Influencer"),
    "Entry": ("End User",),
}


@dataclass(frozen=True)
class TechProduct:
    name: str
    weights: tuple[int, int, int]  # weight for small, mid, large companies


@dataclass(frozen=True)
class TechCategory:
    name: str
    presence: tuple[float, float, float]  # probability the category is known, by size
    products: tuple[TechProduct, ...]


def _p(name: str, small: int, mid: int, large: int) -> TechProduct:
    return TechProduct(name, (small, mid, large))


TECH_CATEGORIES: tuple[TechCategory, ...] = (
    TechCategory(
        "CRM",
        (0.8, 0.95, 1.0),
        (
            _p("Salesforce", 1, 4, 8),
            _p("HubSpot", 6, 4, 1),
            _p("Pipedrive", 4, 1, 0),
            _p("Microsoft Dynamics 365", 0, 1, 3),
            _p("Zoho CRM", 2, 1, 0),
        ),
    ),
    TechCategory(
        "Data warehouse",
        (0.35, 0.75, 0.95),
        (
            _p("Snowflake", 1, 4, 6),
            _p("BigQuery", 3, 3, 3),
            _p("Amazon Redshift", 1, 2, 3),
            _p("Databricks", 0, 2, 4),
            _p("ClickHouse", 2, 2, 1),
            _p("PostgreSQL", 5, 2, 0),
        ),
    ),
    TechCategory(
        "Cloud",
        (1.0, 1.0, 1.0),
        (
            _p("AWS", 5, 5, 5),
            _p("Google Cloud", 3, 3, 2),
            _p("Microsoft Azure", 1, 2, 4),
        ),
    ),
    TechCategory(
        "Billing",
        (0.6, 0.7, 0.6),
        (
            _p("Stripe", 8, 5, 2),
            _p("Chargebee", 2, 3, 1),
            _p("Recurly", 1, 2, 1),
            _p("Zuora", 0, 1, 4),
            _p("Paddle", 3, 1, 0),
        ),
    ),
    TechCategory(
        "Support",
        (0.6, 0.85, 0.9),
        (
            _p("Zendesk", 2, 4, 6),
            _p("Intercom", 5, 4, 1),
            _p("Freshdesk", 2, 2, 1),
            _p("Help Scout", 3, 1, 0),
        ),
    ),
    TechCategory(
        "Product analytics",
        (0.5, 0.7, 0.7),
        (
            _p("PostHog", 5, 3, 1),
            _p("Amplitude", 1, 3, 4),
            _p("Mixpanel", 3, 3, 2),
            _p("Heap", 1, 2, 2),
        ),
    ),
    TechCategory(
        "Communication",
        (0.95, 1.0, 1.0),
        (
            _p("Slack", 8, 6, 4),
            _p("Microsoft Teams", 1, 3, 6),
        ),
    ),
    TechCategory(
        "Marketing automation",
        (0.4, 0.7, 0.85),
        (
            _p("HubSpot Marketing Hub", 5, 3, 1),
            _p("Marketo", 0, 2, 5),
            _p("Customer.io", 3, 2, 1),
            _p("Braze", 0, 1, 3),
        ),
    ),
)
TECH_CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in TECH_CATEGORIES) + ("Other",)
# product name (case-insensitive) -> category, for CRM imports that list bare product names
TECH_PRODUCT_CATEGORY: dict[str, str] = {p.name.casefold(): c.name for c in TECH_CATEGORIES for p in c.products}


@dataclass(frozen=True)
class IntentTopic:
    key: str
    topic: str
    category: str  # competitor | hiring | research | pricing | company_event


COMPETITORS: tuple[str, ...] = ("Amplitude", "Mixpanel", "Heap", "Pendo", "FullStory")
INTENT_TOPICS: tuple[IntentTopic, ...] = (
    *(IntentTopic(f"competitor_{c.lower()}", f"Evaluating a competitor: {c}", "competitor") for c in COMPETITORS),
    IntentTopic("hiring_revops", "Hiring for a role: Revenue Operations", "hiring"),
    IntentTopic("hiring_data_engineers", "Hiring for a role: Data Engineers", "hiring"),
    IntentTopic("hiring_product_analysts", "Hiring for a role: Product Analysts", "hiring"),
    IntentTopic("hiring_sdrs", "Hiring for a role: Sales Development Reps", "hiring"),
    IntentTopic("pricing_analytics_tools", "Pricing-page visits: product analytics vendors", "pricing"),
    IntentTopic("pricing_data_platforms", "Pricing-page visits: customer data platforms", "pricing"),
    IntentTopic("research_cdp", "Researching: customer data platforms", "research"),
    IntentTopic("research_warehouse_migration", "Researching: data warehouse migration", "research"),
    IntentTopic("research_soc2", "Researching: SOC 2 and security reviews", "research"),
    IntentTopic("research_usage_billing", "Researching: usage-based billing", "research"),
    IntentTopic("research_self_serve", "Researching: self-serve onboarding", "research"),
    IntentTopic("event_new_vp_sales", "Company news: new VP of Sales", "company_event"),
    IntentTopic("event_expansion", "Company news: expanding into new markets", "company_event"),
    IntentTopic("event_funding", "Company news: raised a funding round", "company_event"),
)
INTENT_TOPIC_KEYS: tuple[str, ...] = tuple(t.key for t in INTENT_TOPICS)
INTENT_CATEGORIES: tuple[str, ...] = ("competitor", "hiring", "research", "pricing", "company_event")
INTENT_STRENGTH = (35, 98)  # inclusive range of a signal's strength (0-100 scale)
INTENT_RECENCY_DAYS = (0, 45)  # inclusive range of days since the signal was observed
INTENT_SIGNALS_PER_ACCOUNT = (1, 4)

# What an industry's companies do, for the LinkedIn-style description.
INDUSTRY_ACTIVITIES: dict[str, tuple[str, ...]] = {
    "Software": (
        "builds cloud software for teams that run on data",
        "develops developer tools and APIs",
        "makes workflow software for fast-growing companies",
    ),
    "Financial Services": (
        "provides banking and payment services to businesses and consumers",
        "offers lending, savings and treasury products",
    ),
    "Healthcare": ("runs hospitals and outpatient clinics", "delivers connected care to patients and providers"),
    "Retail": ("operates stores and an online shop", "sells apparel and home goods in stores and online"),
    "E-commerce": ("runs an online marketplace", "sells direct to consumers online"),
    "Logistics": ("moves freight by road, rail and sea", "runs warehousing and last-mile delivery"),
    "Manufacturing": ("designs and manufactures industrial equipment", "makes components for the automotive industry"),
    "Media": ("publishes news and video for a global audience", "produces podcasts, video and newsletters"),
    "Education": ("builds learning platforms for schools and universities", "runs online courses for professionals"),
    "Energy": ("develops solar and wind projects", "supplies renewable energy to homes and businesses"),
    "Insurance": ("underwrites property and casualty insurance", "offers digital-first insurance for small businesses"),
    "Food & Beverage": ("produces and distributes packaged foods", "runs a food brand sold in grocery chains"),
    "Biotech": ("develops therapeutics with machine learning", "runs a platform for lab automation"),
    "Artificial Intelligence": (
        "builds machine-learning models for enterprises",
        "develops AI assistants for knowledge work",
    ),
    "Telecommunications": ("runs mobile and broadband networks", "provides cloud communications APIs"),
    "Real Estate": ("manages commercial property portfolios", "runs a property search and rental platform"),
    "Professional Services": (
        "advises companies on strategy and operations",
        "provides IT consulting and systems integration",
    ),
    "Travel & Hospitality": ("operates hotels and travel booking services", "builds software for travel agencies"),
    "Marketing & Advertising": ("runs performance marketing campaigns for brands", "builds advertising technology"),
    "Non-profit": ("funds and runs community programmes", "advocates for open access to education"),
}
DESCRIPTION_CLOSERS: tuple[str, ...] = (
    "The company is known for a data-driven culture and a fast-moving product team.",
    "Its teams care about reliable reporting, automation and a single view of the customer.",
    "It is investing in self-serve tools so every team can answer its own questions.",
    "Customers praise its service, and leadership has made operational efficiency a priority.",
)


def employee_band(employees: float | None) -> str | None:
    """The band an employee count falls in (None for a missing or non-positive count)."""
    if employees is None or employees != employees or employees < 1:
        return None
    for band in EMPLOYEE_BANDS:
        if band.high is None or employees <= band.high:
            return band.label
    return None  # pragma: no cover - the last band is open-ended


def revenue_band(revenue: float | None) -> str | None:
    """The band an annual revenue (US dollars) falls in (None for missing or negative)."""
    if revenue is None or revenue != revenue or revenue < 0:
        return None
    for band in REVENUE_BANDS:
        if band.high is None or revenue < band.high:
            return band.label
    return None  # pragma: no cover


def with_article(country: str) -> str:
    """ "the United States", "Germany"."""
    return f"the {country}" if country in ("United States", "United Kingdom", "Netherlands") else country


def country_name(value: str | None) -> str | None:
    """A catalogue country name from an ISO code or a name (case-insensitive); else the text as given."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if text.upper() in COUNTRIES:
        return COUNTRIES[text.upper()]
    for name in COUNTRIES.values():
        if name.casefold() == text.casefold():
            return name
    return text


def canonical(value: str | None, options: tuple[str, ...]) -> str | None:
    """The catalogue spelling of ``value`` (case- and space-insensitive), or None when absent."""
    if value is None:
        return None
    folded = " ".join(str(value).split()).casefold()
    for option in options:
        if option.casefold() == folded:
            return option
    return None
