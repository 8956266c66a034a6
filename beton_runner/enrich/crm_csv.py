"""The CRM CSV import: enrichment from a company (and, optionally, contact) export of your CRM.

A column mapping says which CSV column holds which enrichment field. Presets know the headers
of HubSpot's and Salesforce's exports (docs/enrichment.md lists them); ``--map FIELD=HEADER``
overrides or adds to the preset. Companies match accounts by domain (a website URL works too),
contacts match persons by email.

Every problem in a file is collected before stopping, each with the file, the spreadsheet row
(the header is row 1) and the column, e.g.::

    companies.csv row 7, column 'Number of Employees': 'lots' is not a whole number
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from . import catalogue as cat
from .model import AccountEnrichment, AccountInput, EnrichError, EnrichmentResult, TechItem, UserEnrichment, UserInput
from .simulation import normalise_domain
from .titles import department_from_title, seniority_from_title

PROVIDER = "crm_csv"
MAX_REPORTED = 50


@dataclass(frozen=True)
class Field:
    name: str
    description: str
    hubspot: tuple[str, ...] = ()
    salesforce: tuple[str, ...] = ()
    required: bool = False


ACCOUNT_FIELDS: tuple[Field, ...] = (
    Field(
        "domain",
        "Company domain or website URL (matched to the account's domain)",
        ("Company Domain Name", "Website URL"),
        ("Website", "Account Website"),
        required=True,
    ),
    Field("name", "Company name (informational)", ("Company name", "Name"), ("Account Name", "Name")),
    Field("industry", "Industry, as written in the CRM", ("Industry",), ("Industry",)),
    Field(
        "employees",
        "Employee count (a whole number; sets employee_band)",
        ("Number of Employees",),
        ("Employees", "NumberOfEmployees"),
    ),
    Field("employee_band", "Employee band, one of the catalogue bands (when there is no count)", (), ()),
    Field(
        "annual_revenue",
        "Annual revenue in US dollars (sets revenue_band)",
        ("Annual Revenue",),
        ("Annual Revenue", "AnnualRevenue"),
    ),
    Field("revenue_band", "Revenue band, one of the catalogue bands (when there is no amount)", (), ()),
    Field(
        "hq_country",
        "Country of the headquarters (ISO code or name)",
        ("Country/Region", "Country"),
        ("Billing Country", "BillingCountry"),
    ),
    Field("funding_stage", "Funding stage", ("Funding Stage",), ("Funding Stage",)),
    Field("founded_year", "Year founded (four digits)", ("Year Founded",), ("Year Started", "YearStarted")),
    Field("description", "Company description", ("Description", "About Us"), ("Description", "Account Description")),
    Field("linkedin_url", "LinkedIn company page", ("LinkedIn Company Page",), ("LinkedIn URL",)),
    Field(
        "tech_stack", "Products the company uses, separated by ';' (or ',')", ("Web Technologies",), ("Technologies",)
    ),
)
CONTACT_FIELDS: tuple[Field, ...] = (
    Field("email", "Email (matched to the person's email)", ("Email",), ("Email",), required=True),
    Field("job_title", "Job title (sets seniority and department when those are absent)", ("Job Title",), ("Title",)),
    Field("seniority", "Seniority, one of the catalogue values", ("Seniority",), ("Seniority",)),
    Field("department", "Department", ("Department",), ("Department",)),
    Field(
        "buying_role",
        "Buying role, one of HubSpot's values (first of several separated by ';')",
        ("Buying Role",),
        ("Contact Role", "Role"),
    ),
)
PRESETS = ("auto", "hubspot", "salesforce")


def field_names(fields: tuple[Field, ...]) -> list[str]:
    return [f.name for f in fields]


def _aliases(field: Field, preset: str) -> list[str]:
    names = [field.name]
    if preset in ("auto", "hubspot"):
        names += field.hubspot
    if preset in ("auto", "salesforce"):
        names += field.salesforce
    return names


def _fold(header: str) -> str:
    return re.sub(r"[\s_\-/]+", " ", header.strip().casefold())


def parse_mapping(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["domain=Website", ...]`` -> ``{"domain": "Website"}`` (ConfigError-free: EnrichError)."""
    mapping: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise EnrichError(f"--map '{item}' is not FIELD=HEADER, e.g. --map 'domain=Company Domain Name'")
        key, header = item.split("=", 1)
        mapping[key.strip()] = header.strip()
    return mapping


@dataclass
class _Table:
    path: Path
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (spreadsheet row number, cells)


def _read_csv(path: Path) -> _Table:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EnrichError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise EnrichError(
            f"{path.name}: not UTF-8 text (byte {exc.start + 1}, line {line}); "
            "export the file as 'CSV UTF-8' and try again"
        ) from None
    if not text.strip():
        raise EnrichError(f"{path.name}: the file is empty; expected a header row and one row per record")
    first_line = text.splitlines()[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        headers = [h.strip() for h in next(reader)]
        rows: list[tuple[int, list[str]]] = []
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            rows.append((number, cells))
    except csv.Error as exc:
        raise EnrichError(f"{path.name} row {reader.line_num}: malformed CSV ({exc})") from None
    return _Table(path, headers, rows)


class _Issues:
    def __init__(self):
        self.items: list[str] = []

    def add(self, table: _Table, row: int | None, column: str | None, message: str) -> None:
        where = (
            table.path.name + (f" row {row}" if row is not None else "") + (f", column '{column}'" if column else "")
        )
        self.items.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = self.items[:MAX_REPORTED]
        more = len(self.items) - len(shown)
        lines = "\n".join(f"  {item}" for item in shown) + (f"\n  … and {more} more" if more > 0 else "")
        raise EnrichError(
            f"{len(self.items)} problem(s) in the CRM file(s):\n{lines}\n"
            "Fix the file or the column mapping (--preset, --map FIELD=HEADER); see docs/enrichment.md."
        )


def _resolve_columns(
    table: _Table, fields: tuple[Field, ...], preset: str, mapping: dict[str, str], issues: _Issues
) -> dict[str, int]:
    """field name -> column index; problems (unknown fields, absent headers, missing required
    columns) go to ``issues``."""
    by_fold: dict[str, int] = {}
    for index, header in enumerate(table.headers):
        by_fold.setdefault(_fold(header), index)
    known = {f.name: f for f in fields}
    resolved: dict[str, int] = {}
    for key, header in mapping.items():
        if key not in known:
            continue  # mappings for the other file's fields are checked by the caller
        index = by_fold.get(_fold(header))
        if index is None:
            issues.add(
                table,
                1,
                header,
                f"--map {key}={header}: no such column; the columns are: " + ", ".join(repr(h) for h in table.headers),
            )
        else:
            resolved[key] = index
    for field in fields:
        if field.name in resolved or field.name in mapping:
            continue
        for alias in _aliases(field, preset):
            index = by_fold.get(_fold(alias))
            if index is not None:
                resolved[field.name] = index
                break
        else:
            if field.required:
                expected = ", ".join(repr(a) for a in _aliases(field, preset))
                issues.add(
                    table,
                    1,
                    None,
                    f"required column '{field.name}' is missing: expected one of {expected} "
                    f"(or --map {field.name}=HEADER); the columns are: " + ", ".join(repr(h) for h in table.headers),
                )
    return resolved


def _number(text: str) -> float | None:
    cleaned = re.sub(r"[\s$€£,]", "", text)
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", cleaned):
        return None
    return float(cleaned)


class _Row:
    """Typed access to one CSV row's mapped cells; bad values become issues naming row and column."""

    def __init__(self, table: _Table, number: int, cells: list[str], columns: dict[str, int], issues: _Issues):
        self.table, self.number, self.cells, self.columns, self.issues = table, number, cells, columns, issues

    def header(self, field: str) -> str:
        return self.table.headers[self.columns[field]]

    def text(self, field: str) -> str | None:
        index = self.columns.get(field)
        if index is None:
            return None
        if index >= len(self.cells):
            return None
        value = self.cells[index].strip()
        return value or None

    def error(self, field: str, message: str) -> None:
        self.issues.add(self.table, self.number, self.header(field), message)

    def whole(self, field: str, low: int, high: int | None = None) -> int | None:
        value = self.text(field)
        if value is None:
            return None
        number = _number(value)
        if number is None or number != int(number):
            self.error(field, f"'{value}' is not a whole number")
            return None
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.error(field, f"{value} is out of range: must be {bound}")
            return None
        return int(number)

    def amount(self, field: str) -> float | None:
        value = self.text(field)
        if value is None:
            return None
        number = _number(value)
        if number is None:
            self.error(field, f"'{value}' is not an amount (digits, optionally with '$' and ',')")
            return None
        if number < 0:
            self.error(field, f"{value} is negative")
            return None
        return number

    def one_of(self, field: str, options: tuple[str, ...], *, first_of_list: bool = False) -> str | None:
        value = self.text(field)
        if value is None:
            return None
        if first_of_list:
            value = value.split(";")[0].strip()
        found = cat.canonical(value, options)
        if found is None:
            self.error(field, f"'{value}' is not one of: {', '.join(options)}")
        return found


class CrmCsvProvider:
    """Enrichment from a CRM export (companies, and optionally contacts)."""

    name = PROVIDER

    def __init__(
        self,
        accounts_csv: Path | None,
        contacts_csv: Path | None = None,
        *,
        preset: str = "auto",
        mapping: dict[str, str] | None = None,
    ):
        if accounts_csv is None and contacts_csv is None:
            raise EnrichError("the crm-csv provider needs --accounts-csv FILE and/or --contacts-csv FILE")
        if preset not in PRESETS:
            raise EnrichError(f"unknown preset '{preset}'; use one of {', '.join(PRESETS)}")
        self.accounts_csv = Path(accounts_csv) if accounts_csv else None
        self.contacts_csv = Path(contacts_csv) if contacts_csv else None
        self.preset = preset
        self.mapping = dict(mapping or {})
        known = set(field_names(ACCOUNT_FIELDS)) | set(field_names(CONTACT_FIELDS))
        unknown = sorted(set(self.mapping) - known)
        if unknown:
            raise EnrichError(
                f"--map: unknown field(s) {', '.join(unknown)}; fields: companies: "
                f"{', '.join(field_names(ACCOUNT_FIELDS))}; contacts: {', '.join(field_names(CONTACT_FIELDS))}"
            )

    @property
    def source(self) -> str:
        return ", ".join(p.name for p in (self.accounts_csv, self.contacts_csv) if p is not None)

    def enrich(self, accounts: list[AccountInput], users: list[UserInput]) -> EnrichmentResult:
        result = EnrichmentResult(provider=self.name)
        issues = _Issues()
        if self.accounts_csv is not None:
            self._accounts(accounts, result, issues)
        if self.contacts_csv is not None:
            self._contacts(users, result, issues)
        issues.raise_if_any()
        return result

    def _each_row(
        self, path: Path, fields: tuple[Field, ...], issues: _Issues, handle: Callable[[_Row], None]
    ) -> _Table:
        table = _read_csv(path)
        columns = _resolve_columns(table, fields, self.preset, self.mapping, issues)
        if any(f.required and f.name not in columns for f in fields):
            return table
        for number, cells in table.rows:
            if len(cells) > len(table.headers) and any(c.strip() for c in cells[len(table.headers) :]):
                issues.add(
                    table,
                    number,
                    None,
                    f"has {len(cells)} cells but the header has {len(table.headers)} columns "
                    "(a value with a comma or a line break that is not quoted?)",
                )
                continue
            handle(_Row(table, number, cells, columns, issues))
        return table

    def _accounts(self, accounts: list[AccountInput], result: EnrichmentResult, issues: _Issues) -> None:
        by_domain: dict[str, list[AccountInput]] = {}
        for account in accounts:
            domain = normalise_domain(account.domain)
            if domain:
                by_domain.setdefault(domain, []).append(account)
        seen: dict[str, int] = {}
        unmatched: list[str] = []
        this_year = date.today().year

        def handle(row: _Row) -> None:
            raw_domain = row.text("domain")
            domain = normalise_domain(raw_domain)
            if domain is None:
                row.error("domain", "is empty; every company needs a domain or website")
                return
            if "." not in domain or " " in domain:
                row.error("domain", f"'{raw_domain}' is not a domain or website URL")
                return
            if domain in seen:
                row.error("domain", f"'{domain}' is also on row {seen[domain]}; keep one row per company")
                return
            seen[domain] = row.number
            employees = row.whole("employees", 0)
            band = (
                cat.employee_band(employees)
                if employees
                else row.one_of("employee_band", tuple(b.label for b in cat.EMPLOYEE_BANDS))
            )
            revenue = row.amount("annual_revenue")
            revenue_label = (
                cat.revenue_band(revenue)
                if revenue is not None
                else row.one_of("revenue_band", tuple(b.label for b in cat.REVENUE_BANDS))
            )
            founded = row.whole("founded_year", 1800, this_year + 1)
            linkedin = row.text("linkedin_url")
            if linkedin is not None and not re.match(r"^(https?://)?([a-z0-9-]+\.)*linkedin\.com/", linkedin, re.I):
                row.error("linkedin_url", f"'{linkedin}' is not a linkedin.com URL")
                linkedin = None
            products = [p.strip() for p in re.split(r"[;,]", row.text("tech_stack") or "") if p.strip()]
            matches = by_domain.get(domain, [])
            if not matches:
                unmatched.append(domain)
                return
            for account in matches:
                result.accounts.append(
                    AccountEnrichment(
                        account_id=account.account_id,
                        domain=domain,
                        provider=self.name,
                        industry=row.text("industry"),
                        employee_band=band,
                        employees=employees,
                        revenue_band=revenue_label,
                        annual_revenue=revenue,
                        hq_country=cat.country_name(row.text("hq_country")),
                        funding_stage=cat.canonical(row.text("funding_stage"), cat.FUNDING_STAGES)
                        or row.text("funding_stage"),
                        founded_year=founded,
                        description=row.text("description"),
                        linkedin_url=linkedin,
                    )
                )
                order = {name: i for i, name in enumerate(cat.TECH_CATEGORY_NAMES)}
                items = sorted(
                    {(cat.TECH_PRODUCT_CATEGORY.get(p.casefold(), "Other"), p) for p in products},
                    key=lambda item: (order[item[0]], item[1].casefold()),
                )
                result.tech.extend(
                    TechItem(account.account_id, position, category, product)
                    for position, (category, product) in enumerate(items, start=1)
                )

        assert self.accounts_csv is not None
        self._each_row(self.accounts_csv, ACCOUNT_FIELDS, issues, handle)
        if unmatched:
            sample = ", ".join(unmatched[:5]) + (" …" if len(unmatched) > 5 else "")
            result.notes.append(
                f"{len(unmatched)} company row(s) in {self.accounts_csv.name} matched no account by domain ({sample})"
            )
        missing = len({a.account_id for a in accounts} - {a.account_id for a in result.accounts})
        if missing:
            result.notes.append(f"{missing} account(s) have no row in {self.accounts_csv.name} and stay unenriched")

    def _contacts(self, users: list[UserInput], result: EnrichmentResult, issues: _Issues) -> None:
        by_email: dict[str, list[UserInput]] = {}
        for user in users:
            if user.email and user.email.strip():
                by_email.setdefault(user.email.strip().casefold(), []).append(user)
        seen: dict[str, int] = {}
        unmatched = 0

        def handle(row: _Row) -> None:
            nonlocal unmatched
            email = (row.text("email") or "").casefold()
            if not email:
                row.error("email", "is empty; every contact needs an email")
                return
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                row.error("email", f"'{row.text('email')}' is not an email address")
                return
            if email in seen:
                row.error("email", f"'{email}' is also on row {seen[email]}; keep one row per contact")
                return
            seen[email] = row.number
            title = row.text("job_title")
            seniority = (
                row.one_of("seniority", cat.SENIORITIES) if row.text("seniority") else seniority_from_title(title)
            )
            department = row.text("department") or department_from_title(title)
            department = cat.canonical(department, cat.DEPARTMENTS) or department
            role = row.one_of("buying_role", cat.BUYING_ROLES, first_of_list=True)
            matches = by_email.get(email, [])
            if not matches:
                unmatched += 1
            for user in matches:
                result.users.append(
                    UserEnrichment(user.user_id, user.account_id, email, self.name, seniority, department, role)
                )

        assert self.contacts_csv is not None
        self._each_row(self.contacts_csv, CONTACT_FIELDS, issues, handle)
        if unmatched:
            result.notes.append(f"{unmatched} contact row(s) in {self.contacts_csv.name} matched no person by email")
