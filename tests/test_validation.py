"""Invalid park data: every problem is reported in one run, located by file, row and column.

Each case starts from a small valid park, breaks one thing and checks that the loader reports it
with the file, the spreadsheet row (header = row 1), the column, the offending value and what was
expected. The CLI exits 2 on invalid data, shows no traceback and writes nothing to Brightway.
"""

from __future__ import annotations

import copy
import csv
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from parks import write_park
from typer.testing import CliRunner

from footprint.park.errors import ParkDataError, Problem
from footprint.park.loading import load_park

ROOT = Path(__file__).resolve().parents[1]
FOOTPRINT = Path(sys.executable).with_name("footprint")

# A small valid park. Spreadsheet rows: the first data row of each table is row 2.
BASE = {
    "facilities": [
        {"facility_id": "smelter"},  # row 2
        {"facility_id": "workshop"},  # row 3
        {"facility_id": "power-plant"},  # row 4
    ],
    "outputs": [
        {"product_id": "ingot", "facility_id": "smelter", "unit": "t", "amount": 100, "mass_kg": 1000},  # 2
        {"product_id": "part", "facility_id": "workshop", "unit": "piece", "amount": 5000, "mass_kg": 2},  # 3
        {"product_id": "power", "facility_id": "power-plant", "unit": "kWh", "amount": 100000},  # 4
    ],
    "inputs": [
        {"facility_id": "smelter", "ref": "power", "amount": 60000, "unit": "kWh", "data_type": "primary"},  # 2
        {"facility_id": "smelter", "ref": "factor:alumina", "amount": 200, "unit": "t"},  # 3
        {"facility_id": "workshop", "ref": "ingot", "amount": 10, "unit": "t", "transport_ref": "factor:truck",
         "distance_km": 50},  # 4
        {"facility_id": "workshop", "ref": "power", "amount": 20, "unit": "MWh"},  # 5
        {"facility_id": "power-plant", "ref": "factor:panel", "amount": 100000, "unit": "kWh"},  # 6
    ],
    "emissions": [
        {"facility_id": "smelter", "flow": "CO2", "amount": 1000, "kind": "combustion"},  # 2
        {"facility_id": "power-plant", "flow": "SF6", "amount": 0.1, "kind": "fugitive"},  # 3
    ],
    "factors": [
        {"code": "alumina", "unit": "kg", "fossil": 1.2},  # 2
        {"code": "truck", "unit": "tkm", "fossil": 0.1, "category": "transport"},  # 3
        {"code": "panel", "unit": "kWh", "fossil": 0.04},  # 4
    ],
}
TABLES = ("facilities", "outputs", "inputs", "emissions", "factors")


def make_park(folder: Path, edit: Callable[[dict], None] | None = None, park: dict | None = None) -> Path:
    rows = copy.deepcopy(BASE)
    if edit:
        edit(rows)
    return write_park(folder, park=park, **rows)


def problems_of(folder: Path) -> list[Problem]:
    with pytest.raises(ParkDataError) as info:
        load_park(folder)
    problems = info.value.problems
    assert problems, "ParkDataError without problems"
    return problems


def find(problems: list[Problem], file: str, row: int | None, column: str | None, value: object,
         fragment: str) -> Problem:
    """The problem at (file, row, column) with that value whose expectation contains `fragment`."""
    for p in problems:
        if (p.file, p.row, p.column, p.value) == (file, row, column, value) and fragment in p.expected:
            return p
    listing = "\n".join(f"  {p!r}" for p in problems)
    raise AssertionError(f"no problem {(file, row, column, value, fragment)!r} among:\n{listing}")


# ---- edits --------------------------------------------------------------------------------------


def put(table: str, index: int, **cells) -> Callable[[dict], None]:
    """Set cells of the row at `index` (spreadsheet row index + 2)."""
    return lambda rows: rows[table][index].update(cells)


def append(table: str, **cells) -> Callable[[dict], None]:
    return lambda rows: rows[table].append(cells)


def both(*edits: Callable[[dict], None]) -> Callable[[dict], None]:
    def run(rows: dict) -> None:
        for e in edits:
            e(rows)
    return run


def rewrite_csv(name: str, change: Callable[[list[list[str]]], None]) -> Callable[[Path], None]:
    """Edit a written CSV as a list of rows (header first)."""
    def run(folder: Path) -> None:
        path = folder / f"{name}.csv"
        with open(path, newline="", encoding="utf-8") as fh:
            table = list(csv.reader(fh))
        change(table)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(table)
    return run


def drop_column(name: str, column: str) -> Callable[[Path], None]:
    def change(table: list[list[str]]) -> None:
        i = table[0].index(column)
        for r in table:
            del r[i]
    return rewrite_csv(name, change)


def write_file(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(data)


def remove_file(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


@dataclass
class Case:
    id: str
    expect: tuple  # file, row, column, value, fragment of the expectation
    edit: Callable[[dict], None] | None = None
    post: Callable[[Path], None] | None = None
    park: dict | None = None
    xlsx: bool = True  # the same problem is expected from park.xlsx (file → park.xlsx[<sheet>])


YAML_HEAD = "format: footprint-park/1\nid: p\nname: P\ncountry: CN\nbackground: open-factors\n"
YAML_PERIOD = "period: {start: 2025-01-01, end: 2025-12-31}\n"

CASES = [
    # columns
    Case("unknown column", ("facilities.csv", 1, "colour", "colour", "unknown column; expected columns: facility_id"),
         put("facilities", 0, colour="red")),
    Case("misspelt column", ("inputs.csv", 1, "distance", "distance", "unknown column"),
         put("inputs", 2, distance=5)),
    Case("missing column", ("outputs.csv", 1, "unit", None, "required column is missing"),
         post=drop_column("outputs", "unit")),
    Case("missing column inputs", ("inputs.csv", 1, "data_type", None, "required column is missing"),
         post=drop_column("inputs", "data_type")),
    Case("column twice", ("facilities.csv", 1, "name", "name", "column appears twice"),
         post=rewrite_csv("facilities", lambda t: [r.append(r[t[0].index("name")]) for r in t])),
    Case("too many cells", ("facilities.csv", 3, None, "Ent workshop,Plant workshop,workshop,extra",
                            "has 4 cells but the header has 3"),
         post=rewrite_csv("facilities", lambda t: t[2].append("extra"))),
    # refs and links
    Case("unknown product ref", ("inputs.csv", 5, "ref", "pwer", "unknown ref; expected a product_id of outputs.csv"),
         put("inputs", 3, ref="pwer")),
    Case("unknown factor ref", ("inputs.csv", 3, "ref", "factor:aluminia", "unknown factor; expected a code"),
         put("inputs", 1, ref="factor:aluminia")),
    Case("malformed bg ref", ("inputs.csv", 3, "ref", "bg:a:b:c", "expected bg:<code> or bg:<database>:<code>"),
         put("inputs", 1, ref="bg:a:b:c")),
    Case("empty bg code", ("inputs.csv", 3, "ref", "bg:", "expected bg:<code>"), put("inputs", 1, ref="bg:")),
    Case("unknown facility of input", ("inputs.csv", 4, "facility_id", "workshp", "unknown facility; expected a"),
         put("inputs", 2, facility_id="workshp")),
    Case("unknown facility of output", ("outputs.csv", 3, "facility_id", "worksop", "unknown facility"),
         put("outputs", 1, facility_id="worksop")),
    Case("unknown facility of emission", ("emissions.csv", 3, "facility_id", "pv", "unknown facility"),
         put("emissions", 1, facility_id="pv")),
    Case("facility without output", ("facilities.csv", 5, "facility_id", "warehouse", "facility has no output"),
         append("facilities", facility_id="warehouse")),
    # ids
    Case("duplicate facility", ("facilities.csv", 5, "facility_id", "smelter", "duplicate id; first used at row 2"),
         append("facilities", facility_id="smelter")),
    Case("duplicate product", ("outputs.csv", 5, "product_id", "ingot", "duplicate id; first used at row 2"),
         append("outputs", product_id="ingot", facility_id="workshop", unit="t", amount=1)),
    Case("duplicate factor", ("factors.csv", 5, "code", "truck", "duplicate id; first used at row 3"),
         append("factors", code="truck", unit="tkm", fossil=0.2)),
    Case("invalid product id", ("outputs.csv", 3, "product_id", "Part A", "expected an id of lower-case letters"),
         put("outputs", 1, product_id="Part A")),
    Case("invalid facility id", ("facilities.csv", 3, "facility_id", "Work_shop", "([a-z0-9-]+)"),
         put("facilities", 1, facility_id="Work_shop")),
    Case("invalid factor code", ("factors.csv", 2, "code", "alumina 2", "[a-z0-9-]+"),
         put("factors", 0, code="alumina 2")),
    Case("empty product id", ("outputs.csv", 3, "product_id", "", "expected an id"), put("outputs", 1, product_id="")),
    # amounts
    Case("negative input", ("inputs.csv", 3, "amount", "-200", "expected a number ≥ 0"), put("inputs", 1, amount=-200)),
    Case("non-numeric input", ("inputs.csv", 3, "amount", "two hundred", "expected a number"),
         put("inputs", 1, amount="two hundred")),
    Case("decimal comma", ("inputs.csv", 3, "amount", "200,5", "expected a number"), put("inputs", 1, amount="200,5")),
    Case("missing amount", ("inputs.csv", 3, "amount", None, "a number is required"), put("inputs", 1, amount="")),
    Case("infinite amount", ("inputs.csv", 3, "amount", "inf", "expected a finite number"),
         put("inputs", 1, amount="inf")),
    Case("nan amount", ("emissions.csv", 2, "amount", "nan", "expected a finite number"),
         put("emissions", 0, amount="nan")),
    Case("negative emission", ("emissions.csv", 2, "amount", "-1", "≥ 0"), put("emissions", 0, amount=-1)),
    Case("zero output", ("outputs.csv", 3, "amount", "0", "expected a number > 0"), put("outputs", 1, amount=0)),
    Case("negative output", ("outputs.csv", 3, "amount", "-5", "> 0"), put("outputs", 1, amount=-5)),
    Case("zero mass_kg", ("outputs.csv", 3, "mass_kg", "0", "expected a number > 0"), put("outputs", 1, mass_kg=0)),
    Case("non-numeric price", ("outputs.csv", 2, "price", "cheap", "expected a number"),
         put("outputs", 0, price="cheap")),
    Case("negative fossil factor", ("factors.csv", 2, "fossil", "-1.2", "≥ 0"), put("factors", 0, fossil=-1.2)),
    Case("non-numeric luc", ("factors.csv", 2, "luc", "n/a", "expected a number"), put("factors", 0, luc="n/a")),
    Case("zero distance", ("inputs.csv", 4, "distance_km", "0", "> 0"), put("inputs", 2, distance_km=0)),
    # units
    Case("unknown input unit", ("inputs.csv", 3, "unit", "tons", "unknown unit; expected one of g, kg, t"),
         put("inputs", 1, unit="tons")),
    Case("unknown output unit", ("outputs.csv", 4, "unit", "kwh", "unknown unit"), put("outputs", 2, unit="kwh")),
    Case("unknown factor unit", ("factors.csv", 2, "unit", "ton", "unknown unit"), put("factors", 0, unit="ton")),
    Case("product in another dimension", ("inputs.csv", 2, "unit", "kg",
                                          "power is measured in kWh (energy); expected a unit of that dimension"),
         put("inputs", 0, unit="kg")),
    Case("factor in another dimension", ("inputs.csv", 3, "unit", "MWh", "factor:alumina is measured in kg (mass)"),
         put("inputs", 1, unit="MWh")),
    Case("emission not a mass", ("emissions.csv", 2, "unit", "m3", "emissions are masses; expected g, kg or t"),
         put("emissions", 0, unit="m3")),
    # choices
    Case("bad data_type", ("inputs.csv", 3, "data_type", "measured", "expected one of primary, secondary"),
         put("inputs", 1, data_type="measured")),
    Case("data_type capitalised", ("inputs.csv", 2, "data_type", "Primary", "expected one of primary, secondary"),
         put("inputs", 0, data_type="Primary")),
    Case("empty data_type", ("inputs.csv", 2, "data_type", "", "expected one of primary, secondary"),
         put("inputs", 0, data_type="")),
    Case("bad emission kind", ("emissions.csv", 2, "kind", "stack", "expected one of combustion, process"),
         put("emissions", 0, kind="stack")),
    Case("bad dqr", ("factors.csv", 2, "dqr", "4", "expected one of 1, 2, 3"), put("factors", 0, dqr=4)),
    Case("bad factor category", ("factors.csv", 2, "category", "energy", "expected one of electricity"),
         put("factors", 0, category="energy")),
    Case("bad hs_code", ("outputs.csv", 2, "hs_code", "76A1", "customs code of 6–10 digits"),
         put("outputs", 0, hs_code="76A1")),
    Case("missing source", ("inputs.csv", 3, "source", None, "a value is required"), put("inputs", 1, source="")),
    Case("missing enterprise", ("facilities.csv", 2, "enterprise", None, "a value is required"),
         put("facilities", 0, enterprise="")),
    # allocation
    Case("two outputs without allocation", ("facilities.csv", 2, "allocation", None,
                                            "facility has 2 outputs (ingot, dross); expected allocation mass"),
         append("outputs", product_id="dross", facility_id="smelter", unit="t", amount=5, mass_kg=1000)),
    Case("unknown allocation", ("facilities.csv", 2, "allocation", "volume", "expected mass, economic or physical:"),
         both(put("facilities", 0, allocation="volume"),
              append("outputs", product_id="dross", facility_id="smelter", unit="t", amount=5))),
    Case("mass allocation without mass_kg", ("outputs.csv", 5, "mass_kg", None,
                                             "smelter allocates by mass; a value in column mass_kg is required"),
         both(put("facilities", 0, allocation="mass"),  # a piece has no implied mass (a t would: 1000 kg)
              append("outputs", product_id="dross", facility_id="smelter", unit="piece", amount=5))),
    Case("economic allocation without price", ("outputs.csv", 2, "price", None,
                                               "allocates by economic; a value in column price is required"),
         both(put("facilities", 0, allocation="economic"),
              append("outputs", product_id="dross", facility_id="smelter", unit="t", amount=5, price=100))),
    Case("physical allocation without its column", ("outputs.csv", 2, "al_content", None,
                                                    "allocates by physical:al_content; a value in column al_content"),
         both(put("facilities", 0, allocation="physical:al_content"),
              append("outputs", product_id="dross", facility_id="smelter", unit="t", amount=5))),
    Case("physical allocation with an empty cell", ("outputs.csv", 5, "al_content", None, "a value in column"),
         both(put("facilities", 0, allocation="physical:al_content"), put("outputs", 0, al_content=0.99),
              append("outputs", product_id="dross", facility_id="smelter", unit="t", amount=5, al_content=""))),
    Case("physical allocation non-numeric", ("outputs.csv", 5, "al_content", "high", "expected a number"),
         both(put("facilities", 0, allocation="physical:al_content"), put("outputs", 0, al_content=0.99),
              append("outputs", product_id="dross", facility_id="smelter", unit="t", amount=5, al_content="high"))),
    # transport
    Case("transport without distance", ("inputs.csv", 4, "distance_km", None,
                                        "a distance in km is required with transport_ref"),
         put("inputs", 2, distance_km="")),
    Case("distance without transport", ("inputs.csv", 4, "transport_ref", None, "no transport_ref"),
         put("inputs", 2, transport_ref="")),
    Case("transport of an energy product", ("inputs.csv", 5, "unit", "MWh", "transport needs the mass moved"),
         put("inputs", 3, transport_ref="factor:truck", distance_km=10)),
    Case("transport of pieces without mass_kg", ("inputs.csv", 7, "unit", "piece", "transport needs the mass moved"),
         both(put("outputs", 1, mass_kg=""),
              append("inputs", facility_id="smelter", ref="part", amount=10, unit="piece",
                     transport_ref="factor:truck", distance_km=10))),
    Case("transport of a non-mass factor", ("inputs.csv", 6, "unit", "kWh", "transport needs the mass moved"),
         put("inputs", 4, transport_ref="factor:truck", distance_km=10)),
    Case("transport factor not per tkm", ("inputs.csv", 4, "transport_ref", "factor:alumina",
                                          "factor is per kg; expected a per-tkm factor"),
         put("inputs", 2, transport_ref="factor:alumina")),
    Case("unknown transport factor", ("inputs.csv", 4, "transport_ref", "factor:lorry", "unknown factor"),
         put("inputs", 2, transport_ref="factor:lorry")),
    Case("transport_ref of no kind", ("inputs.csv", 4, "transport_ref", "truck", "expected factor:<code> or bg:<code>"),
         put("inputs", 2, transport_ref="truck")),
    # emission flows
    Case("unknown flow", ("emissions.csv", 2, "flow", "CO3", "unknown emission flow; expected one of CO2, CH4"),
         put("emissions", 0, flow="CO3")),
    Case("lower-case alias", ("emissions.csv", 2, "flow", "co2", "unknown emission flow"),
         put("emissions", 0, flow="co2")),
    Case("biosphere flow not a uuid", ("emissions.csv", 3, "flow", "biosphere3:sf6", "biosphere3:<uuid>"),
         put("emissions", 1, flow="biosphere3:sf6")),
    # balance (DESIGN §3)
    Case("balance", ("outputs.csv", 4, "amount", 100000.0,
                     "balance: park facilities use 110000 kWh of power but only 100000 kWh were produced; uses: "
                     "inputs.csv:2 smelter 60000 kWh; inputs.csv:5 workshop 50000 kWh"),
         put("inputs", 3, amount=50)),
    # park.yaml
    Case("period end before start", ("park.yaml", None, "period.end", "2024-12-31", "ends before it starts"),
         park={"period": {"start": "2025-01-01", "end": "2024-12-31"}}, xlsx=False),
    Case("unsupported format", ("park.yaml", None, "format", "footprint-park/3",
                                "expected footprint-park/1 or footprint-park/2"),
         park={"format": "footprint-park/3"}, xlsx=False),
    Case("no format", ("park.yaml", None, "format", None, "unsupported format; expected footprint-park/1 or "),
         post=write_file("park.yaml", (YAML_HEAD + YAML_PERIOD).replace("format: footprint-park/1\n", "").encode()),
         xlsx=False),
    Case("malformed yaml", ("park.yaml", 4, None, None, "is not valid YAML"),  # where YAML notices
         post=write_file("park.yaml", b"format: footprint-park/1\nid: p\nname: [unclosed\ncountry: CN\n"),
         xlsx=False),
    Case("yaml not a mapping", ("park.yaml", None, None, ["a", "b"], "expected a mapping of keys"),
         post=write_file("park.yaml", b"- a\n- b\n"), xlsx=False),
    Case("unknown yaml key", ("park.yaml", None, "colour", "red", "unknown key; expected one of format, id"),
         park={"colour": "red"}, xlsx=False),
    Case("missing yaml key", ("park.yaml", None, "period", None, "required"),
         post=write_file("park.yaml", YAML_HEAD.encode()), xlsx=False),
    Case("bad date", ("park.yaml", None, "period.start", "2025-13-01", "date"),
         park={"period": {"start": "2025-13-01", "end": "2025-12-31"}}, xlsx=False),
    Case("bad park id", ("park.yaml", None, "id", "Demo Park", "[a-z0-9-]+"), park={"id": "Demo Park"}, xlsx=False),
    Case("bad country", ("park.yaml", None, "country", "China", "ISO 3166-1 alpha-2"), park={"country": "China"},
         xlsx=False),
    # files
    Case("missing park.yaml", ("park.yaml", None, None, None, "missing: every park folder needs park.yaml"),
         post=remove_file("park.yaml"), xlsx=False),
    Case("missing inputs.csv", ("inputs.csv", None, None, None, "missing: a park needs facilities, outputs, inputs"),
         post=remove_file("inputs.csv"), xlsx=False),
    Case("empty csv", ("outputs.csv", 1, None, None, "the file is empty; expected a header row"),
         post=write_file("outputs.csv", b""), xlsx=False),
    Case("csv in GBK", ("outputs.csv", None, None, None, "cannot be decoded as UTF-8"),
         post=write_file("outputs.csv", "product_id,facility_id,name,unit,amount\n"
                                        "ingot,smelter,铝锭,t,100\n".encode("gbk")), xlsx=False),
    Case("park.yaml in GBK", ("park.yaml", None, None, None, "cannot be decoded as UTF-8"),
         post=write_file("park.yaml", (YAML_HEAD + YAML_PERIOD + "name_zh: 示范园区\n").encode("gbk")), xlsx=False),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_problem_is_located(tmp_path, case: Case):
    folder = make_park(tmp_path, case.edit, case.park)
    if case.post:
        case.post(folder)
    problems = problems_of(folder)
    p = find(problems, *case.expect)
    # the message shows the location and the value as a user reads it
    text = str(p)
    assert text.startswith(p.file)
    if p.row is not None:
        assert f"row {p.row}" in text
    if p.column:
        assert f"column {p.column}" in text
    if p.value not in (None, ""):
        assert repr(p.value) in text
    assert p.expected in text


XLSX_CASES = [c for c in CASES if c.xlsx]


def to_xlsx(folder: Path) -> Path:
    """Move the park's CSV tables into park.xlsx sheets of the same names (numbers as numbers)."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name in TABLES:
        path = folder / f"{name}.csv"
        if not path.exists():
            continue
        sheet = book.create_sheet(name)
        with open(path, newline="", encoding="utf-8") as fh:
            for n, cells in enumerate(csv.reader(fh)):
                sheet.append([c if n == 0 else _number(c) for c in cells])
        path.unlink()
    book.save(folder / "park.xlsx")
    return folder


def _number(text: str) -> object:
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        return value if value == value and abs(value) != float("inf") else text
    return text


@pytest.mark.parametrize("case", XLSX_CASES, ids=[c.id for c in XLSX_CASES])
def test_xlsx_gives_the_same_problems(tmp_path, case: Case):
    folder = make_park(tmp_path, case.edit, case.park)
    if case.post:
        case.post(folder)
    csv_problems = problems_of(folder)
    to_xlsx(folder)
    xlsx_problems = problems_of(folder)
    file, row, column, value, fragment = case.expect
    find(xlsx_problems, as_sheet(file), row, column, value, labels_as_sheets(fragment))

    def key(p: Problem) -> tuple:
        return (as_sheet(p.file), p.row, p.column, None if p.value is None else str(p.value),
                labels_as_sheets(p.expected))

    assert sorted(map(key, csv_problems), key=str) == sorted(map(key, xlsx_problems), key=str)


def as_sheet(file: str) -> str:
    return f"park.xlsx[{file.removesuffix('.csv')}]" if file.endswith(".csv") else file


def labels_as_sheets(text: str) -> str:
    """Row labels such as inputs.csv:4 become park.xlsx[inputs]:4 (table names in prose stay)."""
    return re.sub(r"\b([a-z]+)\.csv:(\d+)", r"park.xlsx[\1]:\2", text)


def test_valid_park_loads(tmp_path):
    data = load_park(make_park(tmp_path))
    assert [f.facility_id for f in data.facilities] == ["smelter", "workshop", "power-plant"]
    assert [i.origin.label for i in data.inputs] == [f"inputs.csv:{n}" for n in range(2, 7)]
    assert data.inputs[2].transport_ref == "factor:truck" and data.inputs[2].distance_km == 50


def test_valid_xlsx_park_loads(tmp_path):
    data = load_park(to_xlsx(make_park(tmp_path)))
    assert [o.product_id for o in data.outputs] == ["ingot", "part", "power"]
    assert data.outputs[0].amount == 100 and data.outputs[0].mass_kg == 1000
    assert data.inputs[2].origin.label == "park.xlsx[inputs]:4"


def test_bom_and_crlf_are_accepted(tmp_path):
    """Excel's 'CSV UTF-8' writes a byte-order mark and CRLF line endings."""
    folder = make_park(tmp_path, put("outputs", 0, name="铝锭, 99.7%", name_zh="铝锭"))
    expected = load_park(folder)
    for path in [*folder.glob("*.csv"), folder / "park.yaml"]:
        text = path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\n", "\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert (folder / "facilities.csv").read_bytes().startswith(b"\xef\xbb\xbfenterprise,")
    data = load_park(folder)
    assert data.model_dump(exclude={"park"}) == expected.model_dump(exclude={"park"})
    assert data.outputs[0].name == "铝锭, 99.7%"
    assert [i.origin.row for i in data.inputs] == [2, 3, 4, 5, 6]


def test_bom_and_crlf_problems_keep_their_rows(tmp_path):
    folder = make_park(tmp_path, put("inputs", 3, unit="kgs"))
    for path in folder.glob("*.csv"):
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\n", "\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    problems = problems_of(folder)
    find(problems, "inputs.csv", 5, "unit", "kgs", "unknown unit")
    assert not [p for p in problems if p.row == 1]  # the BOM is not part of the first column's name


def test_multiline_cell_keeps_rows_and_text(tmp_path):
    """A quoted cell with a line break (Alt+Enter in Excel) is one cell; rows count records."""
    folder = make_park(tmp_path, both(put("outputs", 0, name="Aluminium\ningot"), put("inputs", 3, amount=-1)))
    find(problems_of(folder), "inputs.csv", 5, "amount", "-1", "≥ 0")
    folder2 = make_park(tmp_path / "ok", put("outputs", 0, name="Aluminium\ningot"))
    assert load_park(folder2).outputs[0].name == "Aluminium\ningot"


def test_blank_rows_are_skipped_but_counted(tmp_path):
    folder = make_park(tmp_path, put("inputs", 3, unit="kgs"))
    rewrite_csv("inputs", lambda t: t.insert(2, ["", "", "", "", "", "", "", ""]))(folder)
    find(problems_of(folder), "inputs.csv", 6, "unit", "kgs", "unknown unit")


def test_missing_folder():
    problems = problems_of(Path("/nonexistent/park"))
    find(problems, "/nonexistent/park", None, None, None, "park folder not found")


def test_all_missing_tables_are_reported(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    problems = problems_of(folder)
    for name in ("park.yaml", "facilities.csv", "outputs.csv", "inputs.csv"):
        find(problems, name, None, None, None, "missing")


def test_xlsx_file_problems(tmp_path):
    folder = to_xlsx(make_park(tmp_path))
    import openpyxl

    book = openpyxl.load_workbook(folder / "park.xlsx")
    del book["inputs"]
    book.create_sheet("emissions_old")
    book["outputs"].delete_rows(1, book["outputs"].max_row)
    book.save(folder / "park.xlsx")
    problems = problems_of(folder)
    find(problems, "sheet inputs", None, None, None, "missing: a park needs facilities, outputs, inputs")
    find(problems, "park.xlsx[outputs]", 1, None, None, "the sheet is empty")

    (folder / "park.xlsx").write_bytes(b"not a zip file")
    find(problems_of(folder), "park.xlsx", None, None, None, "cannot be read as an Excel workbook")


def test_every_problem_reported_in_one_run(tmp_path):
    edit = both(
        put("facilities", 1, colour="red"),  # unknown column
        put("facilities", 2, facility_id="Power Plant"),  # invalid id
        append("facilities", facility_id="smelter"),  # duplicate id
        put("outputs", 1, amount=0),  # zero output
        put("outputs", 0, unit="tonnes"),  # unknown unit
        put("inputs", 0, data_type="measured"),  # bad data_type
        put("inputs", 1, amount=-3),  # negative amount
        put("inputs", 2, distance_km=""),  # transport without distance
        put("inputs", 3, ref="electricity"),  # unknown ref
        put("inputs", 4, unit="kg"),  # factor:panel is per kWh
        put("emissions", 0, flow="CO3"),  # unknown flow
        put("emissions", 1, amount="lots"),  # non-numeric
        put("factors", 1, fossil=-0.1),  # negative factor
    )
    folder = make_park(tmp_path, edit, park={"period": {"start": "2025-01-01", "end": "2024-01-01"}})
    problems = problems_of(folder)
    expected = [
        ("facilities.csv", 1, "colour", "colour", "unknown column"),
        ("facilities.csv", 4, "facility_id", "Power Plant", "expected an id"),
        ("facilities.csv", 5, "facility_id", "smelter", "duplicate id"),
        ("outputs.csv", 3, "amount", "0", "> 0"),
        ("outputs.csv", 2, "unit", "tonnes", "unknown unit"),
        ("outputs.csv", 4, "facility_id", "power-plant", "unknown facility"),  # its facility's id was invalid
        ("inputs.csv", 2, "data_type", "measured", "primary, secondary"),
        ("inputs.csv", 3, "amount", "-3", "≥ 0"),
        ("inputs.csv", 4, "distance_km", None, "required with transport_ref"),
        ("inputs.csv", 5, "ref", "electricity", "unknown ref"),
        ("inputs.csv", 6, "unit", "kg", "measured in kWh"),
        ("emissions.csv", 2, "flow", "CO3", "unknown emission flow"),
        ("emissions.csv", 3, "amount", "lots", "expected a number"),
        ("factors.csv", 3, "fossil", "-0.1", "≥ 0"),
        ("park.yaml", None, "period.end", "2024-01-01", "ends before it starts"),
    ]
    for e in expected:
        find(problems, *e)
    assert len({(p.file, p.row, p.column) for p in problems}) >= len(expected)
    # the exception text lists them all, one per line
    message = str(ParkDataError(problems))
    assert message.count("\n") == len(problems) - 1


# ---- checks at build time (need the Brightway project) ------------------------------------------


def build_problems(folder: Path) -> list[Problem]:
    from footprint.engine.inventory import build_foreground

    park = load_park(folder)
    with pytest.raises(ParkDataError) as info:
        build_foreground(park)
    return info.value.problems


BUILD_CASES = [
    Case("unknown bg code", ("inputs.csv", 7, "ref", "bg:electricity-xx", "no activity with code 'electricity-xx'"),
         append("inputs", facility_id="workshop", ref="bg:electricity-xx", amount=10, unit="kWh")),
    Case("unknown bg database", ("inputs.csv", 7, "ref", "bg:ecoinvent-3.10:abc",
                                 "unknown background database 'ecoinvent-3.10'; the project has:"),
         append("inputs", facility_id="workshop", ref="bg:ecoinvent-3.10:abc", amount=10, unit="kWh")),
    Case("unknown bg code in a named database", ("inputs.csv", 7, "ref", "bg:open-factors:steel",
                                                 "no activity with code 'steel' in database 'open-factors'"),
         append("inputs", facility_id="workshop", ref="bg:open-factors:steel", amount=10, unit="kg")),
    Case("unknown park background", ("inputs.csv", 7, "ref", "bg:electricity-cn",
                                     "unknown background database 'ecoinvent'"),
         append("inputs", facility_id="workshop", ref="bg:electricity-cn", amount=10, unit="kWh"),
         park={"background": "ecoinvent"}),
    Case("bg unit of another dimension", ("inputs.csv", 7, "unit", "kg", "bg:electricity-cn is measured in kWh"),
         append("inputs", facility_id="workshop", ref="bg:electricity-cn", amount=10, unit="kg")),
    Case("unknown bg transport", ("inputs.csv", 4, "transport_ref", "bg:freight-lorry", "no activity with code"),
         put("inputs", 2, transport_ref="bg:freight-lorry")),
    Case("bg transport not per tkm", ("inputs.csv", 4, "transport_ref", "bg:electricity-cn", "expected tkm"),
         put("inputs", 2, transport_ref="bg:electricity-cn")),
    Case("unknown biosphere flow", ("emissions.csv", 3, "flow", "biosphere3:00000000-0000-0000-0000-000000000000",
                                    "no such flow in biosphere3"),
         put("emissions", 1, flow="biosphere3:00000000-0000-0000-0000-000000000000")),
    Case("allocation values sum to zero", ("facilities.csv", 2, "allocation", "physical:al_content", "sum to zero"),
         both(put("facilities", 0, allocation="physical:al_content"), put("outputs", 0, al_content=0),
              append("outputs", product_id="dross", facility_id="smelter", unit="t", amount=5, al_content=0))),
]


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize("case", BUILD_CASES, ids=[c.id for c in BUILD_CASES])
def test_links_checked_at_build_time(tmp_path, case: Case):
    find(build_problems(make_park(tmp_path, case.edit, case.park)), *case.expect)


@pytest.mark.usefixtures("project")
def test_build_reports_all_link_problems(tmp_path):
    folder = make_park(tmp_path, both(
        append("inputs", facility_id="workshop", ref="bg:nope", amount=1, unit="kg"),
        append("inputs", facility_id="workshop", ref="bg:other-db:x", amount=1, unit="kg"),
        put("emissions", 1, flow="biosphere3:00000000-0000-0000-0000-000000000000"),
    ))
    problems = build_problems(folder)
    find(problems, "inputs.csv", 7, "ref", "bg:nope", "no activity")
    find(problems, "inputs.csv", 8, "ref", "bg:other-db:x", "unknown background database")
    find(problems, "emissions.csv", 3, "flow", "biosphere3:00000000-0000-0000-0000-000000000000", "no such flow")


@pytest.mark.usefixtures("project")
def test_valid_park_builds(tmp_path):
    from footprint.engine.background import biosphere_codes
    from footprint.engine.inventory import build_foreground
    from footprint.park.flows import ALIASES

    co2_fossil = biosphere_codes()[ALIASES["CO2"]]
    folder = make_park(tmp_path, both(
        append("inputs", facility_id="workshop", ref="bg:electricity-cn", amount=10, unit="MWh"),
        append("inputs", facility_id="workshop", ref="bg:open-factors:pp", amount=2, unit="t",
               transport_ref="bg:freight-road", distance_km=100),
        append("emissions", facility_id="smelter", flow="biosphere3:" + co2_fossil, amount=1),
    ))
    fg = build_foreground(load_park(folder))
    assert ("open-factors", "freight-road") in {e.target for e in fg.exchanges}


@pytest.mark.usefixtures("project")
def test_transport_of_a_background_item_needs_a_mass(tmp_path):
    """A bg: input in m3 has no mass for tonne-km: a located problem, not a crash at build time."""
    folder = make_park(tmp_path, append("inputs", facility_id="smelter", ref="bg:combustion-natural-gas",
                                        amount=1000, unit="m3", transport_ref="factor:truck", distance_km=100))
    find(problems_of(folder), "inputs.csv", 7, "unit", "m3", "transport needs the mass moved")


def test_transport_ref_grammar_of_a_background_item(tmp_path):
    folder = make_park(tmp_path, put("inputs", 2, transport_ref="bg:a:b:c"))
    find(problems_of(folder), "inputs.csv", 4, "transport_ref", "bg:a:b:c", "bg:<code> or bg:<database>:<code>")


@pytest.mark.usefixtures("project")
def test_loop_consuming_all_its_output(tmp_path):
    """Steam uses all the power and power uses all the steam: the system has no solution."""
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "heat-plant"}, {"facility_id": "pv-plant"}],
        outputs=[{"product_id": "steam", "facility_id": "heat-plant", "unit": "GJ", "amount": 1000},
                 {"product_id": "power", "facility_id": "pv-plant", "unit": "kWh", "amount": 50000}],
        inputs=[{"facility_id": "heat-plant", "ref": "power", "amount": 50, "unit": "MWh"},
                {"facility_id": "pv-plant", "ref": "steam", "amount": 1000, "unit": "GJ"},
                {"facility_id": "pv-plant", "ref": "factor:module", "amount": 50000, "unit": "kWh"}],
        factors=[{"code": "module", "unit": "kWh", "fossil": 0.04}],
    )
    (p,) = build_problems(folder)
    assert p.file == "outputs.csv" and p.column == "product_id"
    assert "steam" in p.value and "power" in p.value
    assert "consumes all of its own output" in p.expected


@pytest.mark.usefixtures("project")
def test_product_consuming_all_of_itself(tmp_path):
    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "steam", "facility_id": "plant", "unit": "GJ", "amount": 10}],
        inputs=[{"facility_id": "plant", "ref": "steam", "amount": 10, "unit": "GJ"}],
    )
    (p,) = build_problems(folder)
    assert (p.file, p.row, p.column, p.value) == ("outputs.csv", 2, "product_id", "steam")


# ---- command line -------------------------------------------------------------------------------


def databases() -> dict:
    import bw2data as bd

    return {name: dict(meta) for name, meta in bd.databases.items()}


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def runner():
    return CliRunner()


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize("command", ["validate", "calc"])
def test_cli_invalid_park_exits_2_without_traceback(tmp_path, runner, command):
    from footprint.cli.main import app

    folder = make_park(tmp_path, both(put("inputs", 1, amount=-200), put("emissions", 0, flow="CO3")))
    before = databases()
    result = runner.invoke(app, [command, str(folder)])
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert "Invalid park data: 2 problem(s)" in text
    assert "inputs.csv, row 3, column amount: got '-200': expected a number ≥ 0" in text
    assert "emissions.csv, row 2, column flow: got 'CO3': unknown emission flow" in text
    assert "Traceback" not in result.output
    assert databases() == before


@pytest.mark.usefixtures("project")
@pytest.mark.parametrize("command", ["validate", "calc"])
def test_cli_unknown_background_exits_2_and_writes_nothing(tmp_path, runner, command):
    from footprint.cli.main import app
    from footprint.engine.inventory import database_name

    folder = make_park(tmp_path, append("inputs", facility_id="workshop", ref="bg:electricity-xx", amount=1,
                                        unit="kWh"))
    park_id = load_park(folder).park.id
    before = databases()
    result = runner.invoke(app, [command, str(folder)])
    assert result.exit_code == 2, result.output
    assert "inputs.csv, row 7, column ref: got 'bg:electricity-xx'" in flat(result.output)
    assert "Traceback" not in result.output
    assert databases() == before
    assert database_name(park_id) not in before


@pytest.mark.usefixtures("project")
def test_cli_singular_loop_exits_2(tmp_path, runner):
    from footprint.cli.main import app

    folder = write_park(
        tmp_path,
        facilities=[{"facility_id": "plant"}],
        outputs=[{"product_id": "steam", "facility_id": "plant", "unit": "GJ", "amount": 10}],
        inputs=[{"facility_id": "plant", "ref": "steam", "amount": 10, "unit": "GJ"}],
    )
    before = databases()
    result = runner.invoke(app, ["calc", str(folder)])
    assert result.exit_code == 2, result.output
    assert "consumes all of its own output" in flat(result.output)
    assert databases() == before


@pytest.mark.usefixtures("project")
def test_cli_debug_shows_the_exception(tmp_path, runner):
    from footprint.cli.main import app

    folder = make_park(tmp_path, put("inputs", 1, amount=-200))
    result = runner.invoke(app, ["--debug", "validate", str(folder)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ParkDataError)


@pytest.mark.usefixtures("project")
def test_cli_valid_park(tmp_path, runner):
    from footprint.cli.main import app

    folder = make_park(tmp_path)
    before = databases()
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Valid: park test-park-" in flat(result.output)
    assert "3 facilities, 3 products, 5 inputs, 2 emissions, 3 factors" in flat(result.output)
    assert databases() == before


@pytest.mark.usefixtures("project")
def test_cli_bom_crlf_park_validates(tmp_path, runner):
    from footprint.cli.main import app

    folder = make_park(tmp_path)
    for path in [*folder.glob("*.csv"), folder / "park.yaml"]:
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\n", "\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 0, result.output


def run_footprint(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FOOTPRINT_HOME": os.environ["FOOTPRINT_HOME"], "COLUMNS": "200"}
    env.pop("BRIGHTWAY2_DIR", None)
    return subprocess.run([str(FOOTPRINT), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


@pytest.mark.skipif(not FOOTPRINT.exists(), reason="footprint script not installed in this environment")
def test_cli_process_invalid_park(tmp_path):
    folder = make_park(tmp_path, put("outputs", 1, amount=0), park={"format": "footprint-park/9"})
    done = run_footprint("validate", str(folder))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    err = flat(done.stderr)
    assert "outputs.csv, row 3, column amount: got '0': expected a number > 0" in err
    assert "park.yaml, column format: got 'footprint-park/9': unsupported format" in err

    debug = run_footprint("--debug", "validate", str(folder))
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    assert "ParkDataError" in debug.stderr


@pytest.mark.skipif(not FOOTPRINT.exists(), reason="footprint script not installed in this environment")
def test_cli_process_missing_folder(tmp_path):
    done = run_footprint("validate", str(tmp_path / "nope"))
    assert done.returncode == 2
    assert "park folder not found" in flat(done.stderr)
    assert "Traceback" not in done.stderr


def test_a_broken_row_is_reported_once_not_again_by_each_reference(tmp_path):
    """An output with a bad unit is one problem, not one more for every row that uses the product."""
    import shutil

    from conftest import DEMO

    park = tmp_path / "park"
    shutil.copytree(DEMO, park)
    outputs = park / "outputs.csv"
    lines = outputs.read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith("pv-electricity,") and ",kWh," in lines[1]
    lines[1] = lines[1].replace(",kWh,", ",kwh,", 1)
    outputs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ParkDataError) as e:
        load_park(park)
    assert [(p.file, p.row, p.column, p.value) for p in e.value.problems] == [("outputs.csv", 2, "unit", "kwh")]
