"""Input bounds (issue 14): each hostile or careless input is refused with a located problem, in
bounded time and memory, or handled; the figures of the issue's cases are rebuilt here."""

from __future__ import annotations

import csv
import io
import re
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from test_validation import find, make_park, problems_of, put, to_xlsx
from typer.testing import CliRunner

from footprint.park import loading, workbook
from footprint.park.errors import MAX_LISTED, ParkDataError
from footprint.park.loading import load_park


def _rewrite_member(path: Path, name: str, edit) -> None:
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[name] = edit(members[name])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)


def _sheet_member(path: Path, sheet: str) -> str:
    import openpyxl

    return f"xl/worksheets/sheet{openpyxl.load_workbook(path).sheetnames.index(sheet) + 1}.xml"


# ---- xlsx ------------------------------------------------------------------------------------


def test_xlsx_whose_dimension_understates_a_sheet_loses_no_row(tmp_path):
    """Excel opens such a file normally; openpyxl's streaming mode stops at the declared dimension."""
    import openpyxl

    extra = [{"facility_id": "smelter", "ref": "factor:alumina", "amount": 1 + n, "unit": "kg"} for n in range(56)]
    folder = make_park(tmp_path, lambda rows: rows["inputs"].extend(extra))
    with open(folder / "inputs.csv", newline="", encoding="utf-8") as fh:
        csv_rows = list(csv.DictReader(fh))
    expected = [i.amount for i in load_park(folder).inputs]
    to_xlsx(folder)
    book = folder / "park.xlsx"
    member = _sheet_member(book, "inputs")
    _rewrite_member(book, member, lambda xml: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:F20"/>', xml))
    streamed = list(openpyxl.load_workbook(book, read_only=True)["inputs"].iter_rows(values_only=True))
    assert len(streamed) == 20 and len(csv_rows) == 61  # the trap is armed: 19 of 61 rows would be read
    park = load_park(folder)
    assert len(park.inputs) == 61
    assert [i.amount for i in park.inputs] == expected == [float(r["amount"]) for r in csv_rows]


def test_xlsx_with_a_doctype_or_entities_is_refused(tmp_path):
    folder = to_xlsx(make_park(tmp_path))
    member = _sheet_member(folder / "park.xlsx", "inputs")
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    _rewrite_member(folder / "park.xlsx", member, lambda xml: xxe + re.sub(rb"^<\?xml[^>]*\?>", b"", xml))
    find(problems_of(folder), "park.xlsx[inputs]", None, None, None,
         f"{member} declares a DOCTYPE or entities; workbooks with those are refused")


def test_xlsx_cells_rows_and_size_are_capped(tmp_path, monkeypatch):
    folder = to_xlsx(make_park(tmp_path, put("outputs", 0, name="x" * 20_000)))
    find(problems_of(folder), "park.xlsx[outputs]", 2, "name", "x" * 20_000, "a cell of 20,000 characters")
    monkeypatch.setattr(workbook, "MAX_ROWS", 3)
    find(problems_of(folder), "park.xlsx[inputs]", 5, None, None, "the sheet has more than 3 rows")
    monkeypatch.undo()
    # a 424 KB workbook with a 400 MB cell (the issue's case) is refused from the zip directory
    big = tmp_path / "big"
    big.mkdir()
    shutil.copy(folder / "park.yaml", big / "park.yaml")
    with zipfile.ZipFile(folder / "park.xlsx") as src, zipfile.ZipFile(big / "park.xlsx", "w", zipfile.ZIP_DEFLATED,
                                                                        compresslevel=1) as dst:
        for name in src.namelist():
            if name != "xl/sharedStrings.xml":
                dst.writestr(name, src.read(name))
        head = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
        tail = b"</t></si></sst>"
        with dst.open("xl/sharedStrings.xml", "w") as fh:
            fh.write(head)
            for _ in range(200):
                fh.write(b"A" * 1024 * 1024)
            fh.write(tail)
    size = 200 * 1024 * 1024 + len(head) + len(tail)
    tracemalloc.start()
    try:
        problems = problems_of(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    find(problems, "park.xlsx", None, None, None, f"entry 'xl/sharedStrings.xml': {size:,} bytes uncompressed")
    assert peak < 20 * 1024 * 1024


# ---- park.yaml -------------------------------------------------------------------------------


def test_yaml_alias_bomb_is_refused_at_once(tmp_path):
    folder = make_park(tmp_path)
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 9)}]" for n in range(8)]
    bomb = "format: footprint-park/1\nid: p\nname: P\ncountry: CN\n" + "\n".join(lines) + "\n"
    assert len(bomb) < 1024
    (folder / "park.yaml").write_text(bomb)
    find(problems_of(folder), "park.yaml", 5, None, None, "anchors and aliases (&, *) are not accepted")


def test_yaml_size_and_depth_are_capped(tmp_path):
    folder = make_park(tmp_path)
    (folder / "park.yaml").write_text("name: " + "x" * 70_000 + "\n")
    find(problems_of(folder), "park.yaml", None, None, None, "70,007 bytes; park.yaml may have at most 65,536")
    (folder / "park.yaml").write_text("a: " + "[" * 20_000 + "]" * 20_000 + "\n")
    find(problems_of(folder), "park.yaml", None, None, None, "nested too deeply")


# ---- CSV -------------------------------------------------------------------------------------


def test_csv_cells_rows_and_files_are_capped(tmp_path, monkeypatch):
    folder = make_park(tmp_path, put("outputs", 1, name="y" * 131_073))  # over the csv module's own limit
    find(problems_of(folder), "outputs.csv", 3, None, None, "a cell longer than 10,000 characters")
    folder = make_park(tmp_path / "b", put("facilities", 2, name="z" * 10_001))
    find(problems_of(folder), "facilities.csv", 4, "name", "z" * 10_001, "a cell of 10,001 characters")
    monkeypatch.setattr(loading, "MAX_ROWS", 4)
    find(problems_of(folder), "inputs.csv", 6, None, None, "the table has more than 4 rows; that is the limit")
    monkeypatch.undo()
    with open(folder / "inputs.csv", "r+b") as fh:  # sparse: 129 MiB that are never read
        fh.truncate(129 * 1024 * 1024)
    find(problems_of(folder), "inputs.csv", None, None, None,
         f"135,266,304 bytes; a table may have at most {loading.MAX_TABLE_BYTES:,}")


def test_problem_lists_are_capped_and_counted(tmp_path):
    bad = [{"facility_id": "smelter", "ref": "factor:alumina", "amount": "lots", "unit": "t"}] * 3000
    folder = make_park(tmp_path, lambda rows: rows["inputs"].extend(bad))
    with pytest.raises(ParkDataError) as e:
        load_park(folder)
    assert e.value.count == 3000 and len(e.value.problems) == MAX_LISTED
    assert e.value.problems[0].row == 7  # the first bad row follows the 5 good ones
    from footprint.cli.main import app

    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 2
    assert "3,000 problem(s)" in result.output and "… and 2,000 more" in result.output
    assert result.output.count("• inputs.csv, row ") == MAX_LISTED


@pytest.mark.parametrize("text, fragment", [
    ("1_864", "plain decimal notation"), ("３９５０", "plain decimal notation"), ("٢٤٠٠", "plain decimal notation"),
    ("0x10", "plain decimal notation"), ("1e308", "between 1e-15 and 1e+15"), ("1e-300", "between 1e-15"),
    ("-1e300", "between"), ("infinity", "expected a finite number"),
])
def test_numbers_are_plain_ascii_decimals_within_a_solvable_range(tmp_path, text, fragment):
    find(problems_of(make_park(tmp_path, put("inputs", 1, amount=text))), "inputs.csv", 3, "amount", text, fragment)


@pytest.mark.parametrize("text, value", [("1.5e3", 1500.0), (".5", 0.5), ("5.", 5.0), ("+2", 2.0), ("0", 0.0)])
def test_plain_numbers_are_accepted(tmp_path, text, value):
    assert load_park(make_park(tmp_path, put("inputs", 1, amount=text))).inputs[1].amount == value


def test_dates_and_ids_are_bounded_and_leave_no_database(tmp_path, project):
    import bw2data as bd

    from footprint.cli.main import app

    folder = make_park(tmp_path, park={"period": {"start": "2025-01-01", "end": "9999-12-31"}})
    find(problems_of(folder), "park.yaml", None, "period.end", "9999-12-31", "expected a date from 1990-01-01 to")
    long_id = "p" * 3000
    folder = make_park(tmp_path / "b", put("facilities", 0, facility_id="f" * 65), park={"id": long_id})
    problems = problems_of(folder)
    find(problems, "park.yaml", None, "id", long_id, "expected an id of at most 64 characters")
    find(problems, "facilities.csv", 2, "facility_id", "f" * 65, "at most 64 characters")
    assert CliRunner().invoke(app, ["validate", str(folder)]).exit_code == 2
    assert not any(d.startswith("park:ppp") for d in bd.databases)


@pytest.mark.parametrize("name", ["gpj.\u202eexe.png", "Steel\u200b plate", "\x1b[2K\x1b[1GVALID", "a\rb"])
def test_names_with_control_bidi_or_zero_width_characters_are_refused(tmp_path, name):
    problems = problems_of(make_park(tmp_path, put("outputs", 0, name=name)))
    p = find(problems, "outputs.csv", 2, "name", name, "contains the control or invisible character U+")
    assert "\x1b" not in str(p) and "\u202e" not in str(p) and "\u200b" not in str(p)


def test_ansi_escapes_never_reach_the_terminal(tmp_path):
    from footprint.cli.main import app

    folder = make_park(tmp_path, put("outputs", 0, name="\x1b[2K\x1b[1G[bold green]VALID"))
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\\x1b[2K" in result.output and "[bold green]VALID" in result.output


def test_calc_csv_export_neutralises_formulas(tmp_path, project):
    from footprint.cli.main import app

    folder = make_park(tmp_path, lambda rows: (rows["outputs"][0].update(name="=cmd|' /C calc'!A0"),
                                               rows["outputs"][1].update(name="+HYPERLINK(\"http://x\")"),
                                               rows["facilities"][0].update(enterprise="@SUM(1)")))
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(app, ["calc", str(folder), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["product_id"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert rows["ingot"]["name"] == "'=cmd|' /C calc'!A0" and rows["ingot"]["enterprise"] == "'@SUM(1)"
    assert rows["part"]["name"] == "'+HYPERLINK(\"http://x\")"
    assert float(rows["ingot"]["total"]) > 0  # numbers stay numbers


# ---- verify, certify, registry ---------------------------------------------------------------


def test_verify_refuses_an_oversized_page_before_rendering(tmp_path, monkeypatch):
    """A 1 KB unsigned PDF with a 200 × 200 inch page would be 4.8 GB at 200 dpi."""
    import pypdfium2 as pdfium

    from footprint.certificates import verification
    from footprint.cli.main import app

    doc = pdfium.PdfDocument.new()
    doc.new_page(200 * 72, 200 * 72)
    buffer = io.BytesIO()
    doc.save(buffer)
    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(buffer.getvalue())
    assert pdf.stat().st_size < 1024

    def never(*_args, **_kwargs):
        raise AssertionError("a page was rendered")

    monkeypatch.setattr(pdfium.PdfPage, "render", never)
    with pytest.raises(ValueError, match=r"page 1 is 200.0 × 200.0 inches; a certificate page is at most A3"):
        verification.qr_payloads(pdf.read_bytes())
    verdict = verification.verify(pdf, [], None)
    assert ("pages", False) in [(c.name, c.ok) for c in verdict.checks] and not verdict.valid
    result = CliRunner().invoke(app, ["verify", str(pdf)])
    assert result.exit_code == 1 and "page 1 is 200.0 × 200.0 inches" in result.output


def test_negative_total_is_refused_unless_self_declared_and_then_said(tmp_path, project):
    """A factor with luc = -1000 gives a negative total: review flags it, certify refuses it with an
    approval, and a self-declared (here: draft) certificate prints that it is negative and not verified."""
    import subprocess

    from footprint.certificates import certification
    from footprint.engine.background import factor_totals
    from footprint.engine.calculation import Solution, calculate
    from footprint.engine.checks import review
    from footprint.engine.inventory import build_foreground, write_foreground

    folder = make_park(tmp_path, put("factors", 0, luc=-1000))
    park = load_park(folder)
    fg = build_foreground(park)
    write_foreground(fg)
    results = calculate(fg, 0, None, Solution(fg))
    ingot = results.product("ingot")
    # by hand: 200 t alumina per 100 t ingot = 2000 kg alumina per t, each -1000 kg CO2e of LUC
    assert ingot.luc == pytest.approx(2000 * -1000, rel=1e-6) and ingot.total < 0
    found = [f for f in review(fg, results, factor_totals()) if f.product_id == "ingot" and f.severity == "error"]
    assert found and "negative (a net removal)" in found[0].message and found[0].rows == ["outputs.csv:2"]
    with pytest.raises(certification.NegativeTotal, match=re.escape(f"ingot: {ingot.total:.4g} kg CO2e/t")):
        certification.refuse_negative(results, ["ingot", "part"])
    certification.refuse_negative(results, ["power"])  # a positive product passes
    from footprint.registry.issuer import load_issuer

    issuer = load_issuer(Path(__file__).resolve().parents[1] / "inventories" / "demo-issuer.yaml")
    written = certification.certify(park, issuer, results, tmp_path / "out", ["ingot"], "en")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(written[0].path), "-"], capture_output=True, text=True).stdout
        assert "Negative total (a net removal claimed) — not verified" in " ".join(text.split())


def test_registry_commands_without_a_reachable_database_exit_2_without_a_traceback(tmp_path, monkeypatch):
    import socket

    from footprint.cli.main import app

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("FOOTPRINT_DATABASE_URL", f"postgresql://footprint@127.0.0.1:{port}/registry")
    for args in (["audit", "verify"], ["revoke", "DEMO-X-2026-00001-A", "--reason", "test"],
                 ["registry", "export", "--out", str(tmp_path / "e.json")]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Registry unavailable" in result.output and "Traceback" not in result.output
        assert str(port) in result.output
