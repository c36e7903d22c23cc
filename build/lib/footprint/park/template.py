"""The park workbook template: ``park.xlsx`` with every sheet and column of format 2, lists, and one example.

What a manufacturer downloads to fill in (``footprint template --out park.xlsx``, and the web app's
template link, the same bytes): a ``park`` sheet with park.yaml's keys, one sheet per table with
every column of DESIGN §2 and filled example rows (a consistent small park, so the workbook loads
with ``load_park`` as it is), a ``lists`` sheet with the units and the words each coded column accepts
(unit columns offer them as a drop-down), and a ``guide`` sheet saying what each column means.
Sheets other than ``park`` and the tables are ignored by the loader. The file is deterministic.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import zipfile

from footprint.park import units
from footprint.park.flows import ALIASES
from footprint.park.loading import BOUNDARIES, COLUMNS, COLUMNS_2, FACTOR_CATEGORIES, GWP_SETS, INSTRUMENTS, TABLE_NAMES
from footprint.park.models import FORMATS, INPUT_CATEGORIES

EXAMPLE_ENTERPRISE = "91320000EXAMPLE0001"

PARK: list[tuple[str, object, str]] = [  # key, example value, meaning
    ("format", FORMATS[1], "format version; keep footprint-park/2"),
    ("id", "example-park", "park id: lower-case letters, digits and '-'"),
    ("name", "Example Industrial Park", "park name"),
    ("name_zh", "示例产业园", "Chinese name (optional)"),
    ("country", "CN", "ISO 3166-1 alpha-2 country code"),
    ("region", "CN-JS", "ISO 3166-2 region (optional)"),
    ("period.start", "2025-01-01", "first day of the reporting period (YYYY-MM-DD, as text)"),
    ("period.end", "2025-12-31", "last day of the reporting period"),
    ("background", "open-factors", "background database of bg: references without a database"),
    ("electricity_method", "location-based", "headline electricity method: market-based or location-based"),
    ("exemption_limit_percent", 5, "largest share of a footprint that exclusions may reach, in percent"),
    ("grid_factor", "", "grid electricity factor ref (optional; default: the region's life-cycle grid factor)"),
    ("residual_mix_factor", "", "residual mix factor ref (optional; default: the region's residual mix)"),
]

EXAMPLE: dict[str, dict[str, object] | list[dict[str, object]]] = {
    "facilities": {"facility_id": "casting-plant", "enterprise": "Example Castings Co., Ltd.",
                   "enterprise_id": EXAMPLE_ENTERPRISE, "name": "Aluminium die-casting line", "allocation": "",
                   "allocation_reason": "", "address": "1 Example Road, Nanjing, Jiangsu", "unlocode": "CN NKG",
                   "latitude": 32.06, "longitude": 118.79, "installation_id": ""},
    "outputs": {"product_id": "al-housing", "facility_id": "casting-plant", "name": "Die-cast aluminium housing",
                "name_zh": "压铸铝壳体", "kind": "product", "unit": "kg", "amount": 100000, "mass_kg": "",
                "price": "", "hs_code": "761699", "fossil_carbon_kg": "", "biogenic_carbon_kg": ""},
    "inputs": [{"facility_id": "casting-plant", "ref": "factor:al-ingot", "amount": 104000, "unit": "kg",
                "data_type": "secondary", "category": "materials",
                "source": "Purchase invoices 2025 (ingot deliveries)", "transport_ref": "bg:freight-road",
                "distance_km": 300, "transport_data_type": "secondary", "gsd": ""},
               {"facility_id": "casting-plant", "ref": "bg:electricity-cn-east", "amount": 350, "unit": "MWh",
                "data_type": "primary", "category": "", "source": "State Grid bills 2025, meter CP-01 (grid "
                "electricity: valued by the park's electricity method)", "transport_ref": "", "distance_km": "",
                "transport_data_type": "", "gsd": ""}],
    "emissions": {"facility_id": "casting-plant", "flow": "CO2", "amount": 180000, "unit": "kg",
                  "kind": "combustion", "source": "Gas meter of the melting furnaces x IPCC 2006 factor", "gsd": ""},
    "factors": {"code": "al-ingot", "name": "Aluminium ingot, supplier average", "unit": "kg", "fossil": 16.5,
                "biogenic": 0, "luc": 0, "source": "Supplier declaration 2024 (replace with your source)", "dqr": "",
                "category": "material", "boundary": "cradle-to-gate", "gwp": "AR6", "data_type": "secondary",
                "pds": "", "ter": 2, "ger": 3, "tir": 2, "gsd": ""},
    "exclusions": {"facility_id": "casting-plant", "item": "Release agents", "estimate": 400,
                   "basis": "2 t x at most 0.2 kg CO2e/kg (assumed upper bound)", "source": "Purchase invoices 2025"},
    "electricity": {"facility_id": "casting-plant", "instrument": "GEC", "technology": "pv", "mwh": 200,
                    "status": "retired", "vintage_start": "2025-01-01", "vintage_end": "2025-12-31",
                    "certificate_ids": "GEC-EXAMPLE-000001..000200", "source": "GEC cancellation record (example)"},
}

MEANING: dict[str, str] = {
    "facility_id": "id of the facility ([a-z0-9-]+), unique in the park; other sheets refer to it",
    "enterprise": "reporting company's name", "enterprise_id": "company id, e.g. unified social credit code",
    "name": "name", "name_zh": "Chinese name", "allocation": "if the facility has several products: mass, economic "
    "or physical:<numeric column of outputs>", "allocation_reason": "required with economic: why no physical "
    "relationship serves", "address": "address (certificates print it)", "unlocode": "UN/LOCODE, e.g. CN NKG",
    "latitude": "decimal degrees", "longitude": "decimal degrees", "installation_id": "CBAM installation id",
    "product_id": "id of the product ([a-z0-9-]+), unique in the park", "kind": "outputs: product or waste; "
    "emissions: combustion, process, fugitive or land-use-change",
    "unit": "a unit of the lists sheet", "amount": "total in the reporting period, in unit",
    "mass_kg": "mass of one unit in kg (for mass allocation and transport of non-mass units)",
    "price": "price of one unit (economic allocation; one currency per facility)", "hs_code": "customs code, 6-10 "
    "digits", "fossil_carbon_kg": "fossil carbon in one unit, kg C (empty: not assessed)",
    "biogenic_carbon_kg": "biogenic carbon in one unit, kg C (empty: not assessed)",
    "ref": "what was consumed: a product_id of this park, factor:<code> of the factors sheet, or bg:<code>",
    "data_type": "primary (measured) or secondary (database, estimate)", "category": "inputs: materials, packaging, "
    "electricity, heat, fuels, transport, water, waste-treatment or services (empty: derived); factors: see lists",
    "source": "where the number comes from: meter, invoice, report, database and year",
    "transport_ref": "per tonne-km transport activity of the delivery (optional)",
    "distance_km": "one-way distance of the delivery, with transport_ref", "transport_data_type": "primary or "
    "secondary, of the transport leg", "gsd": "geometric standard deviation for Monte Carlo (optional, > 1)",
    "flow": "an emission alias of the lists sheet, or biosphere3:<uuid>", "code": "factor code ([a-z0-9-]+)",
    "fossil": "kg CO2e per unit, fossil", "biogenic": "kg CO2e per unit, biogenic", "luc": "kg CO2e per unit, land "
    "use change (may be negative)", "dqr": "PACT data quality rating 1-3 (format 1)", "boundary": "cradle-to-gate, "
    "gate-to-gate, combustion-only or direct-only", "gwp": "GWP set of the source: AR6, AR5, AR4 or unknown",
    "pds": "primary data share 0-1 of a supplier-specific PCF", "ter": "technological quality 1-5 (1 best)",
    "ger": "geographical quality 1-5", "tir": "temporal quality 1-5", "item": "what was left out",
    "estimate": "kg CO2e in the period, an upper estimate", "basis": "how the estimate was made",
    "instrument": "GEC, I-REC, PPA or direct-line", "technology": "pv, wind, hydro, biomass, ...",
    "mwh": "MWh covered", "status": "retired (cancelled for own use) or sold", "vintage_start": "first day of "
    "generation covered (YYYY-MM-DD)", "vintage_end": "last day of generation covered",
    "certificate_ids": "certificate numbers or ranges",
}

LISTS: dict[str, list[str]] = {
    "unit": list(units.UNITS),
    "dimension": [units.dimension(u) for u in units.UNITS],
    "emission flow": list(ALIASES),
    "emission kind": ["combustion", "process", "fugitive", "land-use-change"],
    "output kind": ["product", "waste"],
    "data_type": ["primary", "secondary"],
    "input category": list(INPUT_CATEGORIES),
    "factor category": list(FACTOR_CATEGORIES),
    "boundary": list(BOUNDARIES),
    "gwp": list(GWP_SETS),
    "instrument": list(INSTRUMENTS),
    "certificate status": ["retired", "sold"],
}
FIXED_TIME = dt.datetime(2025, 1, 1)
ZIP_TIME = (2025, 1, 1, 0, 0, 0)


def columns(table: str) -> list[str]:
    """Every column of a table in format 2, required ones first as the format lists them."""
    return list({**COLUMNS.get(table, {}), **COLUMNS_2[table]})


def required(table: str, column: str) -> bool:
    return {**COLUMNS.get(table, {}), **COLUMNS_2[table]}[column]


@functools.cache
def workbook_bytes() -> bytes:
    """The template as bytes (identical on every call, so made once per process)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE7EE")
    sheet = book.active
    sheet.title = "park"
    sheet.append(["key", "value", "meaning"])
    for key, value, meaning in PARK:
        sheet.append([key, value, meaning])
    _style(sheet, bold, fill, [24, 28, 80])
    lists = len(LISTS["unit"]) + 1
    for table in TABLE_NAMES:
        sheet = book.create_sheet(table)
        cols = columns(table)
        sheet.append(cols)
        example = EXAMPLE[table]
        for row in example if isinstance(example, list) else [example]:
            sheet.append([row.get(c, "") for c in cols])
        _style(sheet, bold, fill, [max(12, min(40, len(c) + 4)) for c in cols])
        for i, c in enumerate(cols):
            if c == "unit":
                letter = sheet.cell(row=1, column=i + 1).column_letter
                check = DataValidation(type="list", formula1=f"=lists!$A$2:$A${lists}", allow_blank=True)
                check.add(f"{letter}2:{letter}100000")
                sheet.add_data_validation(check)
    sheet = book.create_sheet("lists")
    names = list(LISTS)
    sheet.append(names)
    for n in range(max(len(v) for v in LISTS.values())):
        sheet.append([LISTS[k][n] if n < len(LISTS[k]) else "" for k in names])
    _style(sheet, bold, fill, [18] * len(names))
    sheet = book.create_sheet("guide")
    sheet.append(["sheet", "column", "required", "meaning"])
    sheet.append(["park", "key, value", "yes", "park.yaml's keys, one per row (the meaning column is ignored)"])
    for table in TABLE_NAMES:
        for c in columns(table):
            sheet.append([table, c, "yes" if required(table, c) else "", MEANING.get(c, "")])
    sheet.append(["(all)", "", "", "Replace the example rows with your data. Other sheets (lists, guide) are "
                                   "ignored; empty optional cells mean absent; rows are counted as the sheet shows "
                                   "them (header = row 1)."])
    _style(sheet, bold, fill, [14, 22, 10, 100])
    book.properties.creator = "footprint"
    book.properties.created = FIXED_TIME
    raw = io.BytesIO()
    book.save(raw)
    return _fixed_times(raw.getvalue())


def _style(sheet, bold, fill, widths: list[int]) -> None:  # noqa: ANN001 - openpyxl objects
    from openpyxl.utils import get_column_letter

    for cell in sheet[1]:
        cell.font, cell.fill = bold, fill
    sheet.freeze_panes = "A2"
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width


def _fixed_times(data: bytes) -> bytes:
    """The same workbook with fixed member times and save time, so every template is the same bytes."""
    import re

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"<dcterms:modified([^>]*)>[^<]*</dcterms:modified>",
                              rb"<dcterms:modified\1>2025-01-01T00:00:00Z</dcterms:modified>", body)
            member = zipfile.ZipInfo(info.filename, ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(member, body)
    return out.getvalue()
