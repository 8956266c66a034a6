"""The CRM CSV import provider: HubSpot- and Salesforce-style exports, column mapping, and errors
that name the file, the row and the column."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_enrich_shared import fresh_copy, run_command, sql

from beton_runner.cli.enrich import enrich_command
from beton_runner.enrich.crm_csv import CrmCsvProvider
from beton_runner.enrich.model import AccountInput, EnrichError, UserInput

ACCOUNTS = [
    AccountInput("acc_001", "Acme Analytics", "acme.io", "Software", 220, "US"),
    AccountInput("acc_002", "Northwind Logistics", "northwindlogistics.com", "Logistics", 3400, "DE"),
    AccountInput("acc_007", "Lumen Labs", "lumenlabs.ai"),
]
USERS = [
    UserInput("person_001", "alice.chen@acme.io", "Alice Chen", "Head of Analytics", "acc_001"),
    UserInput("person_004", "Diego.Ramirez@northwindlogistics.com", "Diego Ramírez", "VP Operations", "acc_002"),
    UserInput("person_006", "farah.khan@northwindlogistics.com", "Farah Khan", "Platform Engineer", "acc_002"),
]


def write(path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


HUBSPOT_COMPANIES = [
    [
        "Record ID",
        "Company name",
        "Company Domain Name",
        "Industry",
        "Number of Employees",
        "Annual Revenue",
        "Country/Region",
        "Year Founded",
        "Description",
        "Web Technologies",
        "Lifecycle Stage",
    ],
    [
        "101",
        "Acme Analytics",
        "acme.io",
        "Computer Software",
        "240",
        "31,500,000",
        "United States",
        "2015",
        'Acme builds "analytics", dashboards,\nand alerts — for teams in Zürich & 東京',
        "Salesforce;Snowflake;Slack;Gong",
        "customer",
    ],
    [
        "102",
        "Northwind",
        "https://www.NorthwindLogistics.com/",
        "Logistics and Supply Chain",
        "3,400",
        "$1.2e9",
        "DE",
        "1998",
        "",
        "",
        "customer",
    ],
    ["103", "Unknown Co", "nobody-here.example", "Retail", "10", "", "", "", "", "", "lead"],
]


@pytest.fixture
def hubspot_file(tmp_path) -> Path:
    return write(tmp_path / "hubspot-companies.csv", HUBSPOT_COMPANIES)


def test_hubspot_companies(hubspot_file):
    result = CrmCsvProvider(hubspot_file, preset="hubspot").enrich(ACCOUNTS, USERS)
    by_id = {a.account_id: a for a in result.accounts}
    assert set(by_id) == {"acc_001", "acc_002"}
    acme = by_id["acc_001"]
    assert acme.provider == "crm_csv" and acme.domain == "acme.io"
    assert acme.industry == "Computer Software"
    assert (acme.employees, acme.employee_band) == (240, "201-500")
    assert (acme.annual_revenue, acme.revenue_band) == (31_500_000, "$10M-$50M")
    assert acme.hq_country == "United States" and acme.founded_year == 2015
    assert acme.description == 'Acme builds "analytics", dashboards,\nand alerts — for teams in Zürich & 東京'
    north = by_id["acc_002"]
    assert north.domain == "northwindlogistics.com"  # a website URL matched by its domain
    assert (north.employees, north.employee_band, north.revenue_band) == (3400, "1,001-5,000", "$1B+")
    assert north.hq_country == "Germany" and north.description is None
    tech = [(t.category, t.product, t.position) for t in result.tech if t.account_id == "acc_001"]
    assert tech == [
        ("CRM", "Salesforce", 1),
        ("Data warehouse", "Snowflake", 2),
        ("Communication", "Slack", 3),
        ("Other", "Gong", 4),
    ]
    assert result.intent == [] and result.users == []
    assert any("1 company row(s)" in n and "nobody-here.example" in n for n in result.notes)
    assert any("1 account(s) have no row" in n for n in result.notes)


def test_salesforce_accounts_and_contacts(tmp_path):
    accounts = write(
        tmp_path / "sf-accounts.csv",
        [
            ["Account Name", "Website", "Industry", "Employees", "Annual Revenue", "Billing Country", "Year Started"],
            ["Lumen Labs", "http://lumenlabs.ai", "Technology", "18", "2400000", "France", "2019"],
        ],
    )
    contacts = write(
        tmp_path / "sf-contacts.csv",
        [
            ["First Name", "Last Name", "Title", "Email", "Department", "Contact Role"],
            ["Alice", "Chen", "Head of Analytics", "Alice.Chen@acme.io", "", "Champion"],
            [
                "Diego",
                "Ramírez",
                "VP Operations",
                "diego.ramirez@northwindlogistics.com",
                "Operations",
                "Decision Maker;Budget Holder",
            ],
            ["Farah", "Khan", "", "farah.khan@northwindlogistics.com", "Engineering", ""],
            ["Zoe", "Nobody", "CEO", "zoe@elsewhere.example", "", ""],
        ],
    )
    result = CrmCsvProvider(accounts, contacts, preset="salesforce").enrich(ACCOUNTS, USERS)
    (lumen,) = result.accounts
    assert (lumen.account_id, lumen.employee_band, lumen.revenue_band, lumen.founded_year) == (
        "acc_007",
        "11-50",
        "$1M-$10M",
        2019,
    )
    people = {u.user_id: u for u in result.users}
    assert (people["person_001"].seniority, people["person_001"].department, people["person_001"].buying_role) == (
        "Director",
        "Data & Analytics",
        "Champion",
    )  # from the title; role as given
    assert (people["person_004"].seniority, people["person_004"].buying_role) == ("VP", "Decision Maker")
    assert (people["person_006"].seniority, people["person_006"].department, people["person_006"].buying_role) == (
        None,
        "Engineering",
        None,
    )  # no title: no invented seniority
    assert people["person_004"].email == "diego.ramirez@northwindlogistics.com"
    assert any("1 contact row(s)" in n for n in result.notes)


def test_explicit_mapping_and_semicolon_files(tmp_path):
    path = write(
        tmp_path / "export.csv",
        [
            ["Firma", "Webseite", "Mitarbeiter", "Branche"],
            ["Acme", "acme.io", "1.200", "Software"],
        ],
        delimiter=";",
    )
    with pytest.raises(EnrichError) as error:
        CrmCsvProvider(path, mapping={"domain": "Webseite", "employees": "Mitarbeiter", "industry": "Branche"}).enrich(
            ACCOUNTS, USERS
        )
    assert "export.csv row 2, column 'Mitarbeiter': '1.200' is not a whole number" in str(error.value)
    path = write(
        tmp_path / "export.csv",
        [["Firma", "Webseite", "Mitarbeiter", "Branche"], ["Acme", "acme.io", "1200", "Software"]],
        delimiter=";",
    )
    result = CrmCsvProvider(
        path, mapping={"domain": "Webseite", "employees": "Mitarbeiter", "industry": "Branche"}
    ).enrich(ACCOUNTS, USERS)
    assert [(a.account_id, a.employee_band, a.industry) for a in result.accounts] == [
        ("acc_001", "1,001-5,000", "Software")
    ]


def test_every_problem_is_reported_with_row_and_column(tmp_path):
    path = write(
        tmp_path / "companies.csv",
        [
            ["Company Domain Name", "Number of Employees", "Annual Revenue", "Year Founded", "LinkedIn Company Page"],
            ["acme.io", "lots", "12M", "2015", "https://www.linkedin.com/company/acme"],
            ["northwindlogistics.com", "-3", "100", "3020", "https://example.com/northwind"],
            ["", "10", "", "", ""],
            ["acme.io", "10", "", "", ""],
            ["not a domain", "10", "", "", ""],
        ],
    )
    with pytest.raises(EnrichError) as error:
        CrmCsvProvider(path).enrich(ACCOUNTS, USERS)
    message = str(error.value)
    expected = [
        "companies.csv row 2, column 'Number of Employees': 'lots' is not a whole number",
        "companies.csv row 2, column 'Annual Revenue': '12M' is not an amount",
        "companies.csv row 3, column 'Number of Employees': -3 is out of range: must be at least 0",
        "companies.csv row 3, column 'Year Founded': 3020 is out of range",
        "companies.csv row 3, column 'LinkedIn Company Page': 'https://example.com/northwind' is not a linkedin.com URL",
        "companies.csv row 4, column 'Company Domain Name': is empty",
        "companies.csv row 5, column 'Company Domain Name': 'acme.io' is also on row 2",
        "companies.csv row 6, column 'Company Domain Name': 'not a domain' is not a domain",
    ]
    for line in expected:
        assert line in message, line
    assert message.startswith("8 problem(s) in the CRM file(s):")


def test_missing_required_column_names_it_and_the_headers_found(tmp_path):
    path = write(tmp_path / "companies.csv", [["Name", "Industry"], ["Acme", "Software"]])
    with pytest.raises(EnrichError) as error:
        CrmCsvProvider(path, preset="hubspot").enrich(ACCOUNTS, USERS)
    message = str(error.value)
    assert "companies.csv row 1: required column 'domain' is missing" in message
    assert "'Company Domain Name'" in message and "'Website URL'" in message
    assert "the columns are: 'Name', 'Industry'" in message
    contacts = write(tmp_path / "contacts.csv", [["Name", "Job Title"], ["Alice", "CTO"]])
    with pytest.raises(EnrichError, match=r"contacts.csv row 1: required column 'email' is missing"):
        CrmCsvProvider(None, contacts).enrich(ACCOUNTS, USERS)


def test_contact_values_outside_the_catalogue(tmp_path):
    contacts = write(
        tmp_path / "contacts.csv",
        [
            ["Email", "Job Title", "Seniority", "Buying Role"],
            ["alice.chen@acme.io", "Head of Analytics", "Boss", "champion"],
            ["not-an-email", "CTO", "", ""],
            ["farah.khan@northwindlogistics.com", "", "", "Kingmaker"],
        ],
    )
    with pytest.raises(EnrichError) as error:
        CrmCsvProvider(None, contacts).enrich(ACCOUNTS, USERS)
    message = str(error.value)
    assert "contacts.csv row 2, column 'Seniority': 'Boss' is not one of: C-Level, VP" in message
    assert "contacts.csv row 3, column 'Email': 'not-an-email' is not an email address" in message
    assert "contacts.csv row 4, column 'Buying Role': 'Kingmaker' is not one of: Decision Maker" in message
    assert "row 2, column 'Buying Role'" not in message  # 'champion' is HubSpot's 'Champion'


def test_broken_files(tmp_path):
    mapped = write(tmp_path / "companies.csv", [["Site"], ["acme.io"]])
    with pytest.raises(
        EnrichError,
        match=r"companies.csv row 1, column 'Website': --map domain=Website: no such column; "
        r"the columns are: 'Site'",
    ):
        CrmCsvProvider(mapped, mapping={"domain": "Website"}).enrich(ACCOUNTS, USERS)
    with pytest.raises(EnrichError, match=r"--map: unknown field\(s\) domian"):
        CrmCsvProvider(mapped, mapping={"domian": "Site"})
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("Company Domain Name,Description\nacme.io,Café\n".encode("latin-1"))
    with pytest.raises(EnrichError, match=r"latin1.csv: not UTF-8 text \(byte \d+, line 2\)"):
        CrmCsvProvider(latin).enrich(ACCOUNTS, USERS)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("Company Domain Name,Industry\nacme.io,Software, Inc\n", encoding="utf-8")
    with pytest.raises(EnrichError, match=r"ragged.csv row 2: has 3 cells but the header has 2 columns"):
        CrmCsvProvider(ragged).enrich(ACCOUNTS, USERS)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(EnrichError, match=r"empty.csv: the file is empty"):
        CrmCsvProvider(empty).enrich(ACCOUNTS, USERS)


def test_excel_bom_and_crlf_are_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        '\ufeffCompany Domain Name,Description\r\nacme.io,"Line one\r\nLine two, with comma"\r\n'.encode("utf-8")
    )
    (acme,) = CrmCsvProvider(path).enrich(ACCOUNTS, USERS).accounts
    assert acme.description == "Line one\r\nLine two, with comma"


def test_cli_errors_are_one_clean_message(tmp_path, mock_build):
    path = write(tmp_path / "companies.csv", [["Company Domain Name", "Number of Employees"], ["acme.io", "many"]])
    project = fresh_copy(mock_build, tmp_path, "cli")
    result = CliRunner().invoke(
        enrich_command,
        ["--accounts-csv", str(path), "--no-refresh-marts"],
        env={"BETON_DUCKDB_PATH": str(project.duckdb_path), "BETON_PROJECT_DIR": str(project.dir)},
    )
    assert result.exit_code == 1
    assert "companies.csv row 2, column 'Number of Employees': 'many' is not a whole number" in result.stderr
    assert "Traceback" not in result.stderr
    tables = sql(project, "select count(*) as n from information_schema.tables where table_schema = 'beton_enrichment'")
    assert tables["n"].iloc[0] == 0  # nothing written on error


def test_cli_import_writes_the_tables(tmp_path, mock_build, hubspot_file):
    project = fresh_copy(mock_build, tmp_path, "import")
    result = run_command(
        "beton_runner.cli.enrich",
        "enrich_command",
        ["--accounts-csv", str(hubspot_file), "--preset", "hubspot", "--no-refresh-marts"],
        project=project,
    )
    assert result.returncode == 0, result.stderr
    assert "2 of 15" in result.stdout
    assert "matched no account by domain (nobody-here.example)" in result.stderr
    intel = sql(project, "select * from beton_enrichment.account_enrichment order by account_id")
    assert intel["account_id"].tolist() == ["acc_001", "acc_002"]
    assert set(intel["provider"]) == {"crm_csv"}
    assert intel.loc[0, "description"] == HUBSPOT_COMPANIES[1][8]
    tech = sql(
        project,
        "select product from beton_enrichment.account_tech_stack where account_id = 'acc_001' order by position",
    )
    assert tech["product"].tolist() == ["Salesforce", "Snowflake", "Slack", "Gong"]
    runs = sql(project, "select provider, source, accounts from beton_enrichment.enrichment_runs")
    assert runs.values.tolist() == [["crm_csv", "hubspot-companies.csv", 2]]
