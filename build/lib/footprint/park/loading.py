"""Park folder (park.yaml + CSV tables, or park.xlsx) → validated models (DESIGN §2).

Every problem of a park is collected before anything is raised, so one run lists them all,
each located by file, spreadsheet row (header = row 1) and column.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from footprint.park import units, workbook
from footprint.park.errors import MAX_LISTED, ParkDataError, Problem
from footprint.park.flows import ALIASES, BIOSPHERE_PREFIX
from footprint.park.models import (
    FORMATS,
    INPUT_CATEGORIES,
    AttributeCertificate,
    Emission,
    Exclusion,
    Facility,
    Factor,
    Input,
    Output,
    Park,
    ParkData,
    Row,
)
from footprint.text import describe, unsafe_character

ID = re.compile(r"^[a-z0-9-]+$")
# Bounds on what a park may hold (README, "Bounds"): each refusal is a located problem.
MAX_ID_CHARS = 64  # a park id names a Brightway database and files
MAX_TABLE_BYTES = 128 * 1024 * 1024  # one CSV file
MAX_YAML_BYTES = 64 * 1024  # park.yaml is a dozen keys
MAX_ROWS = workbook.MAX_ROWS  # per table, CSV or sheet
MAX_CELL_CHARS = 10_000
# plain ASCII decimal notation: no '_', no other scripts' digits, no 'inf'/'nan', no hex
NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$")
MAGNITUDE = (1e-15, 1e15)  # a non-zero number's range: sums and products of them stay far from overflow
PERIOD_RANGE = (date(1990, 1, 1), date(2099, 12, 31))
TEXT_ALLOWED = "\n\t"  # line breaks and tabs may stand in a cell; no other control or invisible character
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HS_CODE = re.compile(r"^\d{4}(\.?\d{2}){1,3}$")
FACTOR_CATEGORIES = ("electricity", "heat", "fuel", "material", "transport", "packaging", "water", "waste")

# table → {column: required}
COLUMNS: dict[str, dict[str, bool]] = {
    "facilities": {"facility_id": True, "enterprise": True, "enterprise_id": False, "name": True, "allocation": False},
    "outputs": {
        "product_id": True, "facility_id": True, "name": True, "name_zh": False, "unit": True, "amount": True,
        "mass_kg": False, "price": False, "hs_code": False,
    },
    "inputs": {
        "facility_id": True, "ref": True, "amount": True, "unit": True, "data_type": True, "source": True,
        "transport_ref": False, "distance_km": False, "gsd": False,
    },
    "emissions": {"facility_id": True, "flow": True, "amount": True, "unit": True, "kind": True, "source": True,
                  "gsd": False},
    "factors": {
        "code": True, "name": True, "unit": True, "fossil": True, "biogenic": True, "luc": True, "source": True,
        "dqr": False, "category": False, "gsd": False,
    },
}
# Format 2 (DESIGN §2 "Format version 2"): columns added to the tables above, and two new tables.
COLUMNS_2: dict[str, dict[str, bool]] = {
    "facilities": {"allocation_reason": False, "address": False, "unlocode": False, "latitude": False,
                   "longitude": False, "installation_id": False},
    "outputs": {"kind": False, "fossil_carbon_kg": False, "biogenic_carbon_kg": False},
    "inputs": {"category": False, "transport_data_type": False},
    "emissions": {},
    "factors": {"boundary": False, "gwp": False, "data_type": False, "pds": False, "ter": False, "ger": False,
                "tir": False},
    "exclusions": {"facility_id": True, "item": True, "estimate": True, "basis": True, "source": True},
    "electricity": {"facility_id": True, "instrument": True, "technology": True, "mwh": True, "status": True,
                    "vintage_start": True, "vintage_end": True, "certificate_ids": False, "source": True},
}
TABLES_2 = ("exclusions", "electricity")
PARK_KEYS_2 = ("exemption_limit_percent", "electricity_method", "grid_factor", "residual_mix_factor")
BOUNDARIES = ("cradle-to-gate", "gate-to-gate", "combustion-only", "direct-only")
GWP_SETS = ("AR6", "AR5", "AR4", "unknown")
INSTRUMENTS = ("GEC", "I-REC", "PPA", "direct-line")
UNLOCODE = re.compile(r"^[A-Z]{2} ?[A-Z2-9]{3}$")
REQUIRED_TABLES = ("facilities", "outputs", "inputs")
TABLE_NAMES = (*COLUMNS, *TABLES_2)
FILE_NAMES = ("park.yaml", "park.xlsx", *(f"{name}.csv" for name in TABLE_NAMES))  # every file the format defines


class _Table:
    """Rows of one table as {column: text}, with the name used in messages."""

    def __init__(self, name: str, file: str, header: list[str], rows: list[tuple[int, dict[str, str]]]):
        self.name, self.file, self.header, self.rows = name, file, header, rows


class _Checker:
    """Collects problems and parses cells, recording a problem instead of raising."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.count = 0  # all problems found; only the first MAX_LISTED are kept

    def add(self, file: str, row: int | None, column: str | None, value: object, expected: str) -> None:
        self.count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(Problem(file, row, column, value, expected))

    def number(self, t: _Table, n: int, r: dict[str, str], col: str, *, minimum: float | None = None,
               strict: bool = False, required: bool = True) -> float | None:
        text = r.get(col, "")
        if text == "":
            if required:
                self.add(t.file, n, col, None, "a number is required")
            return None
        if not NUMBER.match(text):
            try:
                finite = math.isfinite(float(text))
            except ValueError:
                finite = True
            self.add(t.file, n, col, text, "expected a finite number" if not finite else
                     "expected a number in plain decimal notation (ASCII digits 0-9, '.' as the decimal point, "
                     "optionally e±exponent)")
            return None
        value = float(text)
        if value and not MAGNITUDE[0] <= abs(value) <= MAGNITUDE[1]:
            self.add(t.file, n, col, text, f"expected a number between {MAGNITUDE[0]:g} and {MAGNITUDE[1]:g} in "
                                           "magnitude, or 0")
            return None
        if minimum is not None and (value < minimum or (strict and value == minimum)):
            self.add(t.file, n, col, text, f"expected a number {'>' if strict else '≥'} {minimum:g}")
            return None
        return value

    def ident(self, t: _Table, n: int, r: dict[str, str], col: str) -> str | None:
        text = r.get(col, "")
        if not ID.match(text):
            self.add(t.file, n, col, text, "expected an id of lower-case letters, digits and '-' ([a-z0-9-]+)")
            return None
        if len(text) > MAX_ID_CHARS:
            self.add(t.file, n, col, text, f"expected an id of at most {MAX_ID_CHARS} characters")
            return None
        return text

    def cells(self, t: _Table) -> None:
        """Every cell within the length cap and free of control, bidi and invisible characters."""
        for n, r in t.rows:
            if unsafe_character("\n".join(r.values()), TEXT_ALLOWED) is None and \
                    all(len(text) <= MAX_CELL_CHARS for text in r.values()):
                continue  # the usual row, checked in one pass
            for col, text in r.items():
                if len(text) > MAX_CELL_CHARS:
                    self.add(t.file, n, col, text, f"a cell of {len(text):,} characters; at most {MAX_CELL_CHARS:,}")
                elif (bad := unsafe_character(text, TEXT_ALLOWED)) is not None:
                    self.add(t.file, n, col, text, f"contains the control or invisible character {describe(bad)}; "
                                                   "remove it (it can make text read differently from what it is)")

    def text(self, t: _Table, n: int, r: dict[str, str], col: str) -> str | None:
        text = r.get(col, "")
        if text == "":
            self.add(t.file, n, col, None, "a value is required")
            return None
        return text

    def unit(self, t: _Table, n: int, r: dict[str, str], col: str = "unit") -> str | None:
        text = r.get(col, "")
        if not units.is_known(text):
            self.add(t.file, n, col, text, f"unknown unit; expected one of {', '.join(units.UNITS)}")
            return None
        return text

    def choice(self, t: _Table, n: int, r: dict[str, str], col: str, options: tuple[str, ...]) -> str | None:
        text = r.get(col, "")
        if text not in options:
            self.add(t.file, n, col, text, f"expected one of {', '.join(options)}")
            return None
        return text


# ---- reading files --------------------------------------------------------------------------


def _read_csv(path: Path, name: str, chk: _Checker) -> _Table | None:
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        chk.add(path.name, None, None, None, f"{size:,} bytes; a table may have at most {MAX_TABLE_BYTES:,}")
        return None
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        chk.add(path.name, None, None, None,
                f"cannot be decoded as UTF-8 (byte {e.object[e.start]:#04x} at offset {e.start}); save it as CSV UTF-8")
        return None
    reader = csv.reader(io.StringIO(text, newline=""))  # keeps line breaks inside quoted cells
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        chk.add(path.name, 1, None, None, "the file is empty; expected a header row")
        return None
    rows: list[tuple[int, dict[str, str]]] = []
    n = 1
    try:
        for n, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(rows) == MAX_ROWS:
                chk.add(path.name, n, None, None, f"the table has more than {MAX_ROWS:,} rows; that is the limit")
                break
            if len(cells) > len(header):
                chk.add(path.name, n, None, ",".join(cells), f"has {len(cells)} cells but the header has {len(header)}")
                continue
            rows.append((n, {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}))
    except csv.Error as e:  # the csv module's own cap (131,072 characters) or a malformed quote
        chk.add(path.name, n + 1, None, None, f"a cell longer than {MAX_CELL_CHARS:,} characters"
                if "field larger" in str(e) else f"is not readable CSV ({e})")
    return _Table(name, path.name, header, rows)


def _read_xlsx(path: Path, chk: _Checker) -> dict[str, _Table]:
    """The park's sheets, every row of each (footprint.park.workbook: no <dimension> is trusted)."""
    try:
        sheets, problems = workbook.read_workbook(path, TABLE_NAMES)
    except workbook.WorkbookError as e:
        chk.add(e.problem.file, e.problem.row, e.problem.column, e.problem.value, e.problem.expected)
        return {}
    for p in problems:
        chk.add(p.file, p.row, p.column, p.value, p.expected)
    tables = {}
    for name in TABLE_NAMES:
        sheet = sheets.get(name)
        if sheet is None:
            continue
        if not sheet.rows:
            chk.add(sheet.file, 1, None, None, "the sheet is empty; expected a header row")
            continue
        header = sheet.rows[0][1] if sheet.rows[0][0] == 1 else []
        rows = []
        for n, cells in sheet.rows[1:] if header else sheet.rows:
            if len(cells) > len(header):  # as in a CSV: a value beyond the header must not be dropped silently
                chk.add(sheet.file, n, None, ",".join(cells),
                        f"has {len(cells)} cells but the header has {len(header)}")
                continue
            rows.append((n, {h: cells[i] if i < len(cells) else "" for i, h in enumerate(header)}))
        tables[name] = _Table(name, sheet.file, header, rows)
    return tables


class _PlainLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a 1 KB alias bomb would otherwise expand to gigabytes."""

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 - PyYAML's signature
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (&, *) are not accepted",
                                              event.start_mark)
        return super().compose_node(parent, index)


def _park_sheet(path: Path, chk: _Checker) -> tuple[dict | None, dict[str, int]]:
    """park.yaml's keys from the ``park`` sheet of a park.xlsx (columns key, value and an unread meaning;
    ``period.start``, ``period.end``), and the row of each key for messages."""
    where = f"{path.name}[park]"
    try:
        sheets, problems = workbook.read_workbook(path, ("park",))
    except workbook.WorkbookError as e:
        chk.add(e.problem.file, e.problem.row, e.problem.column, e.problem.value, e.problem.expected)
        return None, {}
    for p in problems:
        chk.add(p.file, p.row, p.column, p.value, p.expected)
    sheet = sheets.get("park")
    if sheet is None:
        chk.add("park.yaml", None, None, None, f"missing: a park needs park.yaml, or a sheet 'park' in {path.name} "
                                               f"({path.parent})")
        return None, {}
    header = sheet.rows[0][1] if sheet.rows and sheet.rows[0][0] == 1 else []
    if header not in (["key", "value"], ["key", "value", "meaning"]):
        chk.add(where, 1, None, ",".join(header), "expected the header row key, value (and meaning, not read)")
        return None, {}
    data: dict = {}
    rows: dict[str, int] = {}
    for n, cells in sheet.rows[1:]:
        if len(cells) > len(header) or not cells[0]:
            chk.add(where, n, None, ",".join(cells), "expected a key and its value")
            continue
        key, value = cells[0], (cells[1] if len(cells) > 1 else "").removesuffix(" 00:00:00")
        if key in rows:
            chk.add(where, n, "key", key, f"appears twice (also row {rows[key]})")
            continue
        rows[key] = n
        if value == "":
            continue
        if key.startswith("period."):
            data.setdefault("period", {})[key.removeprefix("period.")] = value
        else:
            data[key] = value
    return data, rows


def _read_park_yaml(folder: Path, chk: _Checker) -> Park | None:
    path = folder / "park.yaml"
    if not path.exists() and (folder / "park.xlsx").exists():
        data, rows = _park_sheet(folder / "park.xlsx", chk)
        return None if data is None else _park(data, "park.xlsx[park]", rows, chk)
    if not path.exists():
        chk.add("park.yaml", None, None, None, f"missing: every park folder needs park.yaml ({folder})")
        return None
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        chk.add("park.yaml", None, None, None, f"{size:,} bytes; park.yaml may have at most {MAX_YAML_BYTES:,}")
        return None
    try:
        data = yaml.load(path.read_bytes().decode("utf-8-sig"), Loader=_PlainLoader)  # noqa: S506 - safe, no aliases
    except UnicodeDecodeError:
        chk.add("park.yaml", None, None, None, "cannot be decoded as UTF-8")
        return None
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        chk.add("park.yaml", None if line is None else line + 1, None, None, f"is not valid YAML: {e}")
        return None
    except RecursionError:
        chk.add("park.yaml", None, None, None, "is nested too deeply; expected a mapping of keys")
        return None
    return _park(data, "park.yaml", {}, chk)


def _park(data: object, where: str, rows: dict[str, int], chk: _Checker) -> Park | None:
    """park.yaml's keys (from the file, or the workbook's park sheet) → Park; problems at ``where``."""
    def add(key: str | None, value: object, expected: str) -> None:
        chk.add(where, rows.get(key or "") or rows.get((key or "").split(".")[0]), key, value, expected)

    if not isinstance(data, dict):
        add(None, data, "expected a mapping of keys (format, id, name, country, period, ...)")
        return None
    if data.get("format") not in FORMATS:
        add("format", data.get("format"), f"unsupported format; expected {' or '.join(FORMATS)}")
        return None
    unknown = set(data) - set(Park.model_fields)
    if data["format"] == FORMATS[0]:
        for key in sorted(set(data) & set(PARK_KEYS_2)):
            add(key, data[key], f"belongs to format {FORMATS[1]}; set format: {FORMATS[1]}")
            unknown.add(key)
    for key in sorted(unknown):
        add(key, data[key], f"unknown key; expected one of {', '.join(Park.model_fields)}")
    try:
        park = Park.model_validate({k: v for k, v in data.items() if k not in unknown})
    except ValidationError as e:
        for err in e.errors():
            value = None if err["type"] == "missing" else err.get("input")  # not the whole mapping
            add(".".join(str(x) for x in err["loc"]), value, err["msg"])
        return None
    if not ID.match(park.id):
        add("id", park.id, "expected an id of [a-z0-9-]+")
    elif len(park.id) > MAX_ID_CHARS:
        add("id", park.id, f"expected an id of at most {MAX_ID_CHARS} characters")
    for key in ("name", "name_zh", "region", "background"):
        text = getattr(park, key) or ""
        if len(text) > MAX_CELL_CHARS or (bad := unsafe_character(text, TEXT_ALLOWED)) is not None:
            add(key, text, f"at most {MAX_CELL_CHARS:,} characters" if len(text) > MAX_CELL_CHARS
                else f"contains the control or invisible character {describe(bad)}; remove it")
    for key in ("start", "end"):
        day = getattr(park.period, key)
        if not PERIOD_RANGE[0] <= day <= PERIOD_RANGE[1]:
            add(f"period.{key}", str(day), f"expected a date from {PERIOD_RANGE[0]} to {PERIOD_RANGE[1]}")
    if not re.match(r"^[A-Z]{2}$", park.country):
        add("country", park.country, "expected an ISO 3166-1 alpha-2 code such as CN")
    if park.period.end < park.period.start:
        add("period.end", str(park.period.end), f"the period ends before it starts ({park.period.start})")
    for key in ("grid_factor", "residual_mix_factor"):
        ref = getattr(park, key)
        if ref is not None and not _is_factor_ref(ref):
            add(key, ref, "expected factor:<code>, bg:<code> or bg:<database>:<code>")
    return park


def park_files(folder: str | Path) -> list[Path]:
    """The files of a park folder that ``load_park`` reads: park.yaml, then park.xlsx or else the CSV tables."""
    folder = Path(folder)
    tables = ["park.xlsx"] if (folder / "park.xlsx").exists() else [f"{name}.csv" for name in TABLE_NAMES]
    return [folder / name for name in ("park.yaml", *tables) if (folder / name).is_file()]


def _is_factor_ref(ref: str) -> bool:
    """factor:<code>, bg:<code> or bg:<database>:<code>, every part non-empty."""
    parts = ref.split(":")
    return (parts[0] == "factor" and len(parts) == 2 and bool(parts[1])) or (
        parts[0] == "bg" and len(parts) in (2, 3) and all(parts[1:]))


def _read_tables(folder: Path, chk: _Checker) -> dict[str, _Table]:
    xlsx = folder / "park.xlsx"
    if xlsx.exists():
        tables = _read_xlsx(xlsx, chk)
        missing = [f"sheet {t}" for t in REQUIRED_TABLES if t not in tables]
        where = xlsx.name
    else:
        tables = {}
        for name in TABLE_NAMES:
            path = folder / f"{name}.csv"
            if path.exists():
                table = _read_csv(path, name, chk)
                if table:
                    tables[name] = table
        missing = [f"{t}.csv" for t in REQUIRED_TABLES if not (folder / f"{t}.csv").exists()]
        where = str(folder)
    for m in missing:
        chk.add(m, None, None, None, f"missing: a park needs {', '.join(REQUIRED_TABLES)} (looked in {where})")
    return tables


def _check_header(t: _Table, allowed_extra: set[str], chk: _Checker, version: int = 2) -> None:
    """Unknown, missing and repeated columns; format-2 columns in a format-1 park are named as such."""
    spec = {**COLUMNS.get(t.name, {}), **(COLUMNS_2[t.name] if version >= 2 else {})}
    for col in t.header:
        if col in COLUMNS_2[t.name] and version < 2:
            chk.add(t.file, 1, col, col, f"column of format {FORMATS[1]}; set format: {FORMATS[1]} in park.yaml")
        elif col not in spec and col not in allowed_extra:
            chk.add(t.file, 1, col, col, f"unknown column; expected columns: {', '.join(spec)}")
    for col, required in spec.items():
        if required and col not in t.header:
            chk.add(t.file, 1, col, None, "required column is missing")
    seen = set()
    for col in t.header:
        if col in seen:
            chk.add(t.file, 1, col, col, "column appears twice")
        seen.add(col)


# ---- rows → models --------------------------------------------------------------------------


def _facilities(t: _Table, chk: _Checker) -> list[Facility]:
    out = []
    for n, r in t.rows:
        fid, ent, name = chk.ident(t, n, r, "facility_id"), chk.text(t, n, r, "enterprise"), chk.text(t, n, r, "name")
        alloc = r.get("allocation") or None
        if alloc and alloc not in ("mass", "economic") and not re.match(r"^physical:\S+$", alloc):
            chk.add(t.file, n, "allocation", alloc, "expected mass, economic or physical:<column of outputs.csv>")
            alloc = None
        lat = chk.number(t, n, r, "latitude", required=False)
        lon = chk.number(t, n, r, "longitude", required=False)
        if lat is not None and not -90 <= lat <= 90:
            chk.add(t.file, n, "latitude", r["latitude"], "expected degrees between -90 and 90")
        if lon is not None and not -180 <= lon <= 180:
            chk.add(t.file, n, "longitude", r["longitude"], "expected degrees between -180 and 180")
        unlocode = r.get("unlocode") or None
        if unlocode and not UNLOCODE.match(unlocode):
            chk.add(t.file, n, "unlocode", unlocode, "expected a UN/LOCODE: country code and 3 characters, e.g. CN NKG")
        if fid and ent and name:
            out.append(Facility(origin=Row(file=t.file, row=n), facility_id=fid, enterprise=ent,
                                enterprise_id=r.get("enterprise_id") or None, name=name, allocation=alloc,
                                allocation_reason=r.get("allocation_reason") or None,
                                address=r.get("address") or None, unlocode=unlocode, latitude=lat, longitude=lon,
                                installation_id=r.get("installation_id") or None))
    return out


def _outputs(t: _Table, physical: set[str], chk: _Checker) -> list[Output]:
    out = []
    for n, r in t.rows:
        pid, fid, name = chk.ident(t, n, r, "product_id"), chk.text(t, n, r, "facility_id"), chk.text(t, n, r, "name")
        unit = chk.unit(t, n, r)
        amount = chk.number(t, n, r, "amount", minimum=0, strict=True)
        mass = chk.number(t, n, r, "mass_kg", minimum=0, strict=True, required=False)
        price = chk.number(t, n, r, "price", minimum=0, strict=True, required=False)
        phys = {}
        for col in sorted(physical & set(t.header)):
            value = chk.number(t, n, r, col, minimum=0, required=False)
            if value is not None:
                phys[col] = value
        hs = r.get("hs_code") or None
        if hs and not HS_CODE.match(hs):
            chk.add(t.file, n, "hs_code", hs, "expected a customs code of 6–10 digits, e.g. 760429 or 7604.29")
            hs = None
        if unit and units.dimension(unit) == "mass":  # the unit says the mass (format 2 rule, any format)
            implied = units.factor(unit, "kg")
            if mass is not None and not math.isclose(mass, implied, rel_tol=1e-9):
                chk.add(t.file, n, "mass_kg", r["mass_kg"], f"one {unit} is {implied:g} kg; leave mass_kg empty or "
                                                             f"give {implied:g}")
            mass = implied
        kind = chk.choice(t, n, r, "kind", ("product", "waste")) if r.get("kind") else "product"
        carbon = {c: chk.number(t, n, r, c, minimum=0, required=False)
                  for c in ("fossil_carbon_kg", "biogenic_carbon_kg")}
        if pid and fid and name and unit and amount is not None and kind:
            out.append(Output(origin=Row(file=t.file, row=n), product_id=pid, facility_id=fid, name=name,
                              name_zh=r.get("name_zh") or None, unit=unit, amount=amount, mass_kg=mass, price=price,
                              hs_code=hs, physical=phys, kind=kind, **carbon))
    return out


def _gsd(t: _Table, n: int, r: dict[str, str], chk: _Checker) -> float | None:
    """Optional geometric standard deviation of a row (≥ 1), used instead of the pedigree rule."""
    return chk.number(t, n, r, "gsd", minimum=1, required=False)


def _inputs(t: _Table, chk: _Checker) -> list[Input]:
    out = []
    for n, r in t.rows:
        fid, ref, source = chk.text(t, n, r, "facility_id"), chk.text(t, n, r, "ref"), chk.text(t, n, r, "source")
        amount = chk.number(t, n, r, "amount", minimum=0)
        unit = chk.unit(t, n, r)
        dtype = chk.choice(t, n, r, "data_type", ("primary", "secondary"))
        tref = r.get("transport_ref") or None
        dist = chk.number(t, n, r, "distance_km", minimum=0, strict=True, required=False)
        if tref and dist is None and r.get("distance_km", "") == "":
            chk.add(t.file, n, "distance_km", None, "a distance in km is required with transport_ref")
        if dist is not None and not tref:
            chk.add(t.file, n, "transport_ref", None, "distance_km is given but no transport_ref (factor:… or bg:…)")
        if tref and not (tref.startswith("factor:") or tref.startswith("bg:")):
            chk.add(t.file, n, "transport_ref", tref, "expected factor:<code> or bg:<code> of a per-tonne-km activity")
            tref = None
        category = r.get("category") or None
        if category and category not in INPUT_CATEGORIES:
            chk.add(t.file, n, "category", category, f"expected one of {', '.join(INPUT_CATEGORIES)}")
            category = None
        tdtype = "secondary"
        if r.get("transport_data_type"):
            tdtype = chk.choice(t, n, r, "transport_data_type", ("primary", "secondary"))
            if not r.get("transport_ref"):
                chk.add(t.file, n, "transport_data_type", r["transport_data_type"],
                        "a transport data type needs a transport leg (transport_ref and distance_km)")
        if fid and ref and source and amount is not None and unit and dtype and tdtype:
            out.append(Input(origin=Row(file=t.file, row=n), facility_id=fid, ref=ref, amount=amount, unit=unit,
                             data_type=dtype, source=source, transport_ref=tref, distance_km=dist,
                             gsd=_gsd(t, n, r, chk), category=category, transport_data_type=tdtype))
    return out


def _emissions(t: _Table, chk: _Checker) -> list[Emission]:
    out = []
    for n, r in t.rows:
        fid, flow, source = chk.text(t, n, r, "facility_id"), chk.text(t, n, r, "flow"), chk.text(t, n, r, "source")
        if flow and flow not in ALIASES:
            uuid = flow.removeprefix(BIOSPHERE_PREFIX)
            if not (flow.startswith(BIOSPHERE_PREFIX) and UUID.match(uuid)):
                chk.add(t.file, n, "flow", flow,
                        f"unknown emission flow; expected one of {', '.join(ALIASES)} or biosphere3:<uuid>")
                flow = None
        amount = chk.number(t, n, r, "amount", minimum=0)
        unit = chk.unit(t, n, r)
        if unit and units.dimension(unit) != "mass":
            chk.add(t.file, n, "unit", unit, "emissions are masses; expected g, kg or t")
            unit = None
        kind = chk.choice(t, n, r, "kind", ("combustion", "process", "fugitive", "land-use-change"))
        if fid and flow and source and amount is not None and unit and kind:
            out.append(Emission(origin=Row(file=t.file, row=n), facility_id=fid, flow=flow, amount=amount, unit=unit,
                                kind=kind, source=source, gsd=_gsd(t, n, r, chk)))
    return out


def _factors(t: _Table, chk: _Checker) -> list[Factor]:
    out = []
    for n, r in t.rows:
        code, name, source = chk.ident(t, n, r, "code"), chk.text(t, n, r, "name"), chk.text(t, n, r, "source")
        unit = chk.unit(t, n, r)
        fossil = chk.number(t, n, r, "fossil", minimum=0)
        biogenic = chk.number(t, n, r, "biogenic", minimum=0)
        luc = chk.number(t, n, r, "luc")
        dqr = None
        if r.get("dqr"):
            dqr = chk.choice(t, n, r, "dqr", ("1", "2", "3"))
        category = r.get("category") or None
        if category and category not in FACTOR_CATEGORIES:
            chk.add(t.file, n, "category", category, f"expected one of {', '.join(FACTOR_CATEGORIES)}")
            category = None
        v2 = _factor_quality(t, n, r, chk)
        if code and name and source and unit and None not in (fossil, biogenic, luc) and v2 is not None:
            out.append(Factor(origin=Row(file=t.file, row=n), code=code, name=name, unit=unit, fossil=fossil,
                              biogenic=biogenic, luc=luc, source=source, dqr=int(dqr) if dqr else None,
                              category=category, gsd=_gsd(t, n, r, chk), **v2))
    return out


def _factor_quality(t: _Table, n: int, r: dict[str, str], chk: _Checker) -> dict | None:
    """Format-2 columns of a factor row (boundary, gwp, data_type, pds, ter/ger/tir); None if one is bad.

    Shared by factors.csv and open-factors.csv, so both read these columns the same way."""
    out: dict[str, Any] = {}
    ok = True
    for col, options, default in (("boundary", BOUNDARIES, "cradle-to-gate"), ("gwp", GWP_SETS, "unknown"),
                                  ("data_type", ("primary", "secondary"), "secondary")):
        out[col] = chk.choice(t, n, r, col, options) if r.get(col) else default
        ok = ok and out[col] is not None
    out["pds"] = chk.number(t, n, r, "pds", minimum=0, required=False)
    if out["pds"] is not None and out["pds"] > 1:
        chk.add(t.file, n, "pds", r["pds"], "expected the supplier PCF's primary data share as a fraction 0–1")
        ok = False
    elif r.get("pds") and out["data_type"] != "primary":
        chk.add(t.file, n, "pds", r["pds"],
                "a primary data share belongs to a supplier-specific PCF (data_type primary)")
        ok = False
    ok = ok and (out["pds"] is not None or not r.get("pds"))
    for col in ("ter", "ger", "tir"):
        out[col] = None
        if r.get(col):
            value = chk.choice(t, n, r, col, ("1", "2", "3", "4", "5"))
            out[col] = int(value) if value else None
            ok = ok and value is not None
    return out if ok else None


def factor_quality(file: str, n: int, row: dict[str, str]) -> tuple[dict | None, list[Problem]]:
    """The format-2 columns of one factor row of another file (open-factors.csv), with its problems."""
    chk = _Checker()
    return _factor_quality(_Table("factors", file, list(row), [(n, row)]), n, row, chk), chk.problems


def _exclusions(t: _Table, chk: _Checker) -> list[Exclusion]:
    out = []
    for n, r in t.rows:
        fields = {c: chk.text(t, n, r, c) for c in ("facility_id", "item", "basis", "source")}
        estimate = chk.number(t, n, r, "estimate", minimum=0)
        if None not in fields.values() and estimate is not None:
            out.append(Exclusion(origin=Row(file=t.file, row=n), estimate=estimate, **fields))
    return out


def _electricity(t: _Table, period_start: date | None, period_end: date | None, chk: _Checker
                 ) -> list[AttributeCertificate]:
    out = []
    for n, r in t.rows:
        fid, tech = chk.text(t, n, r, "facility_id"), chk.text(t, n, r, "technology")
        source = chk.text(t, n, r, "source")
        instrument = chk.choice(t, n, r, "instrument", INSTRUMENTS)
        status = chk.choice(t, n, r, "status", ("retired", "sold"))
        mwh = chk.number(t, n, r, "mwh", minimum=0, strict=True)
        start, end = _date(t, n, r, "vintage_start", chk), _date(t, n, r, "vintage_end", chk)
        if start and end and end < start:
            chk.add(t.file, n, "vintage_end", r["vintage_end"], f"the vintage ends before it starts ({start})")
            end = None
        elif start and end and period_start and period_end and (end < period_start or start > period_end):
            chk.add(t.file, n, "vintage_start", r["vintage_start"],
                    f"the vintage {start} to {end} lies outside the reporting period {period_start} to {period_end}")
            end = None
        if fid and tech and source and instrument and status and mwh is not None and start and end:
            out.append(AttributeCertificate(origin=Row(file=t.file, row=n), facility_id=fid, instrument=instrument,
                                            technology=tech.lower(), mwh=mwh, status=status, vintage_start=start,
                                            vintage_end=end, certificate_ids=r.get("certificate_ids") or None,
                                            source=source))
    return out


def _date(t: _Table, n: int, r: dict[str, str], col: str, chk: _Checker) -> date | None:
    text = r.get(col, "").removesuffix(" 00:00:00")  # a spreadsheet date cell
    try:
        return date.fromisoformat(text)
    except ValueError:
        chk.add(t.file, n, col, text or None, "expected a date YYYY-MM-DD")
        return None


# ---- cross-table rules ----------------------------------------------------------------------


def _duplicates(items: list, key: Callable[[Any], str], column: str, chk: _Checker) -> None:
    first: dict[str, Row] = {}
    for item in items:
        k = key(item)
        if k in first:
            chk.add(item.origin.file, item.origin.row, column, k, f"duplicate id; first used at row {first[k].row}")
        else:
            first[k] = item.origin


def _check_links(data: dict[str, list], chk: _Checker, broken: dict[str, set[str]], version: int = 1) -> None:
    """Links between tables. ``broken`` holds the ids of rows that failed their own checks: a
    reference to one of them is not reported again (that row's problem is already listed)."""
    facilities = {f.facility_id: f for f in data["facilities"]}
    products = {o.product_id: o for o in data["outputs"]}
    factors = {f.code: f for f in data["factors"]}
    outputs_of: dict[str, list[Output]] = defaultdict(list)
    for o in data["outputs"]:
        if o.kind == "product":  # a waste output takes no part in allocation
            outputs_of[o.facility_id].append(o)
    for table in ("outputs", "inputs", "emissions", "exclusions", "electricity"):
        for item in data[table]:
            if item.facility_id not in facilities and item.facility_id not in broken["facilities"]:
                chk.add(item.origin.file, item.origin.row, "facility_id", item.facility_id,
                        "unknown facility; expected a facility_id of facilities.csv")
    for f in data["facilities"]:
        outs = outputs_of.get(f.facility_id, [])
        if not outs and f.facility_id not in broken["outputs_of"]:
            chk.add(f.origin.file, f.origin.row, "facility_id", f.facility_id,
                    "facility has no output in outputs.csv of kind product; its inputs and emissions would belong "
                    "to no product")
        elif len(outs) > 1:
            _check_allocation(f, outs, chk)
            if f.allocation == "economic" and not f.allocation_reason and version >= 2:
                chk.add(f.origin.file, f.origin.row, "allocation_reason", None,
                        "economic allocation needs a reason: why no physical relationship serves (ISO 14044 4.3.4.2)")
    for i in data["inputs"]:
        if i.ref not in broken["outputs"] and i.ref.removeprefix("factor:") not in broken["factors"]:
            _check_ref(i, products, factors, chk)


def _broken_ids(tables: dict[str, _Table], data: dict[str, list]) -> dict[str, set[str]]:
    """Ids written in a table's rows that did not become valid models."""
    def raw(name: str, column: str) -> set[str]:
        return {r.get(column, "") for _, r in tables[name].rows} if name in tables else set()

    return {
        "facilities": raw("facilities", "facility_id") - {f.facility_id for f in data["facilities"]},
        "outputs": raw("outputs", "product_id") - {o.product_id for o in data["outputs"]},
        "outputs_of": {r.get("facility_id", "") for _, r in tables["outputs"].rows if r.get("kind") != "waste"}
        if "outputs" in tables else set(),
        "factors": raw("factors", "code") - {f.code for f in data["factors"]},
        "facilities_of_outputs": {r.get("facility_id", "") for _, r in tables["outputs"].rows
                                  if r.get("product_id", "") not in {o.product_id for o in data["outputs"]}}
        if "outputs" in tables else set(),
    }


def _check_allocation(f: Facility, outs: list[Output], chk: _Checker) -> None:
    if f.allocation is None:
        chk.add(f.origin.file, f.origin.row, "allocation", None,
                f"facility has {len(outs)} outputs ({', '.join(o.product_id for o in outs)}); "
                "expected allocation mass, economic or physical:<column>")
        return
    column = {"mass": "mass_kg", "economic": "price"}.get(f.allocation, f.allocation.removeprefix("physical:"))
    for o in outs:
        value = o.mass_kg if column == "mass_kg" else o.price if column == "price" else o.physical.get(column)
        if value is None:
            chk.add(o.origin.file, o.origin.row, column, None,
                    f"facility {f.facility_id} allocates by {f.allocation}; a value in column {column} is required")


def _item_unit(ref: str, products: dict[str, Output], factors: dict[str, Factor]) -> str | None:
    if ref.startswith("factor:"):
        f = factors.get(ref.removeprefix("factor:"))
        return f.unit if f else None
    p = products.get(ref)
    return p.unit if p else None


def _check_ref(i: Input, products: dict[str, Output], factors: dict[str, Factor], chk: _Checker) -> None:
    where = (i.origin.file, i.origin.row)
    if i.ref.startswith("factor:"):
        if i.ref.removeprefix("factor:") not in factors:
            chk.add(*where, "ref", i.ref, "unknown factor; expected a code of factors.csv")
            return
    elif i.ref.startswith("bg:"):
        parts = i.ref.split(":")
        if len(parts) not in (2, 3) or not all(parts[1:]):
            chk.add(*where, "ref", i.ref, "expected bg:<code> or bg:<database>:<code>")
            return
    elif i.ref not in products:
        chk.add(*where, "ref", i.ref,
                "unknown ref; expected a product_id of outputs.csv, factor:<code> or bg:[<database>:]<code>")
        return
    target = _item_unit(i.ref, products, factors)
    if target and units.dimension(i.unit) != units.dimension(target):
        chk.add(*where, "unit", i.unit,
                f"{i.ref} is measured in {target} ({units.dimension(target)}); expected a unit of that dimension")
        return
    if i.transport_ref:
        _check_transport(i, products, factors, chk)


def _check_transport(i: Input, products: dict[str, Output], factors: dict[str, Factor], chk: _Checker) -> None:
    where = (i.origin.file, i.origin.row)
    if i.transport_ref.startswith("factor:"):
        f = factors.get(i.transport_ref.removeprefix("factor:"))
        if f is None:
            chk.add(*where, "transport_ref", i.transport_ref, "unknown factor; expected a code of factors.csv")
        elif f.unit != "tkm":
            chk.add(*where, "transport_ref", i.transport_ref, f"factor is per {f.unit}; expected a per-tkm factor")
    elif len(parts := i.transport_ref.split(":")) not in (2, 3) or not all(parts[1:]):
        chk.add(*where, "transport_ref", i.transport_ref, "expected bg:<code> or bg:<database>:<code>")
    if units.dimension(i.unit) == "mass":
        return
    product = products.get(i.ref)
    if product is None or product.mass_kg is None:
        chk.add(*where, "unit", i.unit,
                "transport needs the mass moved: give the amount in g, kg or t, or mass_kg on the park product")


def transport_tkm(i: Input, products: dict[str, Output]) -> float:
    """Tonne-kilometres of an input's delivery: mass (t) × one-way distance (DESIGN §3)."""
    if units.dimension(i.unit) == "mass":
        tonnes = i.amount * units.factor(i.unit, "t")
    else:
        product = products[i.ref]
        tonnes = i.amount * units.factor(i.unit, product.unit) * product.mass_kg / 1000.0
    return tonnes * i.distance_km


def _check_balance(data: dict[str, list], chk: _Checker) -> None:
    """Σ uses of a park product by park facilities ≤ its output (no double-claimed green power)."""
    products = {o.product_id: o for o in data["outputs"]}
    uses: dict[str, list[tuple[Input, float]]] = defaultdict(list)
    for i in data["inputs"]:
        p = products.get(i.ref)
        if p and units.dimension(i.unit) == units.dimension(p.unit):
            uses[i.ref].append((i, i.amount * units.factor(i.unit, p.unit)))
    for pid, used in uses.items():
        p = products[pid]
        total = sum(a for _, a in used)
        if total > p.amount * (1 + 1e-12):
            listing = "; ".join(f"{i.origin.label} {i.facility_id} {a:g} {p.unit}" for i, a in used)
            chk.add(p.origin.file, p.origin.row, "amount", p.amount,
                    f"balance: park facilities use {total:g} {p.unit} of {pid} but only {p.amount:g} {p.unit} "
                    f"were produced; uses: {listing}")


def _check_generation(data: dict[str, list], chk: _Checker, broken: dict[str, set[str]]) -> None:
    """A generator's sold attributes plus its electricity used in the park cannot exceed what it
    generated (DESIGN §3 v2), or the same green kWh would be claimed twice. A generator with an
    output row that failed its own checks is not judged (that row's problem is already listed)."""
    sold: dict[str, list[AttributeCertificate]] = defaultdict(list)
    for c in data["electricity"]:
        if c.status == "sold":
            sold[c.facility_id].append(c)
    for fid, certs in sold.items():
        if fid in broken["facilities_of_outputs"]:
            continue
        power = [o for o in data["outputs"] if o.facility_id == fid and o.unit in ("kWh", "MWh")]
        generated = sum(o.amount * units.factor(o.unit, "MWh") for o in power)
        ids = {o.product_id for o in power}
        in_park = sum(i.amount * units.factor(i.unit, "MWh") for i in data["inputs"]
                      if i.ref in ids and units.dimension(i.unit) == "energy")
        total = sum(c.mwh for c in certs)
        if total + in_park > generated * (1 + 1e-12):
            first = certs[0].origin
            chk.add(first.file, first.row, "mwh", total,
                    f"facility {fid} sold the attributes of {total:g} MWh and supplied {in_park:g} MWh in the park, "
                    f"but generated {generated:g} MWh (electricity outputs in kWh or MWh); rows "
                    f"{', '.join(str(c.origin.row) for c in certs)}")


def load_park(folder: str | Path) -> ParkData:
    """Read and validate a park folder; raise ParkDataError with every problem found."""
    folder = Path(folder)
    chk = _Checker()
    if not folder.is_dir():
        raise ParkDataError([Problem(str(folder), None, None, None, "park folder not found")])
    park = _read_park_yaml(folder, chk)
    tables = _read_tables(folder, chk)
    for table in tables.values():
        chk.cells(table)
    version = park.version if park else 2  # an unreadable park.yaml: check columns as permissively as format 2
    data: dict[str, list] = {name: [] for name in TABLE_NAMES}
    physical = set()
    if "facilities" in tables:
        _check_header(tables["facilities"], set(), chk, version)
        data["facilities"] = _facilities(tables["facilities"], chk)
        physical = {f.allocation.removeprefix("physical:") for f in data["facilities"]
                    if f.allocation and f.allocation.startswith("physical:")}
    period = (park.period.start, park.period.end) if park else (None, None)
    parsers = {"outputs": lambda t: _outputs(t, physical, chk), "inputs": lambda t: _inputs(t, chk),
               "emissions": lambda t: _emissions(t, chk), "factors": lambda t: _factors(t, chk),
               "exclusions": lambda t: _exclusions(t, chk), "electricity": lambda t: _electricity(t, *period, chk)}
    for name, parse in parsers.items():
        if name not in tables:
            continue
        if name in TABLES_2 and version < 2:
            chk.add(tables[name].file, None, None, None, f"table of format {FORMATS[1]}; set format: {FORMATS[1]} "
                                                         "in park.yaml")
            continue
        _check_header(tables[name], physical if name == "outputs" else set(), chk, version)
        data[name] = parse(tables[name])
    _duplicates(data["facilities"], lambda f: f.facility_id, "facility_id", chk)
    _duplicates(data["outputs"], lambda o: o.product_id, "product_id", chk)
    _duplicates(data["factors"], lambda f: f.code, "code", chk)
    broken = _broken_ids(tables, data)
    _check_links(data, chk, broken, version)
    _check_balance(data, chk)
    _check_generation(data, chk, broken)
    if chk.problems or park is None:
        raise ParkDataError(chk.problems, chk.count)
    return ParkData(folder=str(folder.resolve()), park=park, **data)
