"""The Brightway project: biosphere3, IPCC 2021 GWP100 methods and the open-factors database.

bw2io's ``bw2setup()`` fails offline, so biosphere3 comes from ``create_default_biosphere3()``
and the methods from bw2io's bundled ``lcia_39_ecoinvent.zip``. Aggregated CO2e factors (a
park's factors.csv, open-factors rows without gases) are written as three project flows in
``footprint-co2e`` that carry characterisation factor 1 in exactly one part and in the total.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import pickle
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import bw2data as bd

from footprint.engine.home import PROJECT
from footprint.park import loading, units
from footprint.park.errors import ParkDataError, Problem
from footprint.park.flows import ALIASES, FACTOR_GASES

bd.config.is_test = True  # only switches off bw2data's tqdm bars; footprint shows its own progress
bd.config.vacuum = False  # a rewritten park database frees pages SQLite reuses; VACUUM would rewrite the file

PARTS = ("fossil", "biogenic", "luc")
SOURCE_METHODS = {
    "total": ("IPCC 2021", "climate change", "global warming potential (GWP100)"),
    "fossil": ("IPCC 2021", "climate change: fossil", "global warming potential (GWP100)"),
    "biogenic": ("IPCC 2021", "climate change: biogenic", "global warming potential (GWP100)"),
    "luc": ("IPCC 2021", "climate change: land use", "global warming potential (GWP100)"),
}
METHODS = {part: ("footprint", "IPCC 2021 GWP100", part) for part in SOURCE_METHODS}
CO2E_DB = "footprint-co2e"
CO2E_FLOWS = {part: f"co2e-{part}" for part in PARTS}
OPEN_FACTORS = "open-factors"
OPEN_FACTORS_CSV = Path(__file__).resolve().parents[2] / "inventories" / "background" / "open-factors.csv"
CATEGORY_OF_FACTOR = {
    "electricity": "electricity", "heat": "heat and steam", "fuel": "fuels", "material": "materials",
    "transport": "transport", "packaging": "packaging", "water": "water", "waste": "waste treatment",
}


def ensure_project(open_factors: Path | None = None) -> None:
    """Make the project ready; cheap when it already is (each step checks before it writes).

    ``open_factors`` replaces the bundled CSV, e.g. when recomputing from a calculation bundle.
    """
    if bd.projects.current != PROJECT:
        bd.projects.set_current(PROJECT)
    if "biosphere3" not in bd.databases:
        import bw2io

        with contextlib.redirect_stdout(io.StringIO()):  # bw2io prints each import strategy
            bw2io.create_default_biosphere3()
        _set_version("biosphere3", f"bw2io {bw2io.__version__} default biosphere3")
    if CO2E_DB not in bd.databases:
        _write_co2e_flows()
    if any(m not in bd.methods for m in METHODS.values()):
        _write_methods()
    _ensure_open_factors(open_factors or OPEN_FACTORS_CSV)


def _write_co2e_flows() -> None:
    db = bd.Database(CO2E_DB)
    db.register(description="footprint: carriers of aggregated kg CO2e factors, one per IPCC 2021 part")
    _set_version(CO2E_DB, "footprint-co2e/1")
    db.write({
        (CO2E_DB, code): {
            "name": f"Carbon dioxide equivalent, {part} (aggregated factor)",
            "unit": "kilogram",
            "type": "emission",
            "categories": ("air",),
        }
        for part, code in CO2E_FLOWS.items()
    })


@lru_cache(maxsize=1)
def biosphere_codes() -> dict[tuple[str, tuple[str, ...]], str]:
    """(name, categories) → biosphere3 code, for every flow."""
    return {(name, tuple(data.get("categories", ()))): code
            for code, name, data in activity_rows(("code", "name", "data"), "biosphere3")}


def activity_rows(columns: tuple[str, ...], database: str, codes: list[str] | None = None,
                  column: str = "code") -> Iterator[tuple]:
    """Columns of a database's activities (those whose ``column``, code or name, is one of ``codes``), read on
    bw2data's SQLite cursor with ``data`` unpickled as bw2data's field does: peewee writes SQL for each value of
    an ``IN`` list and builds an object per row, ~50 µs per activity, a third of linking a 1,000-product park."""
    from bw2data.backends import ActivityDataset as AD
    from bw2data.backends import sqlite3_lci_db

    if column not in ("code", "name"):
        raise ValueError(f"activity_rows selects by code or name, not {column!r}")
    select = f"SELECT {', '.join(columns)} FROM {AD._meta.table_name} WHERE database = ?"
    chunks = [None] if codes is None else [codes[i:i + 900] for i in range(0, len(codes), 900)]
    data = columns.index("data") if "data" in columns else None
    for chunk in chunks:
        sql = select if chunk is None else f"{select} AND {column} IN ({', '.join('?' * len(chunk))})"
        for row in sqlite3_lci_db.execute_sql(sql, [database, *(chunk or [])]):
            if data is not None:
                row = (*row[:data], pickle.loads(bytes(row[data])), *row[data + 1:])
            yield row


def flow_codes(flows: list[tuple[str, tuple[str, ...]]]) -> dict[tuple[str, tuple[str, ...]], str]:
    """(name, categories) → biosphere3 code of these flows only, as ``biosphere_codes`` gives them without reading
    all of biosphere3's ~4,000 flows (the emission aliases, once per park)."""
    wanted = set(flows)
    rows = activity_rows(("code", "name", "data"), "biosphere3", sorted({name for name, _ in flows}), column="name")
    return {key: code for code, name, data in rows if (key := (name, tuple(data.get("categories", ())))) in wanted}


def node_ids(database: str, codes: set[str] | None = None) -> dict[str, int]:
    """code → Brightway node id for a database (optionally only some codes)."""
    from bw2data.backends import ActivityDataset as AD

    query = AD.select(AD.code, AD.id).where(AD.database == database)
    if codes is not None:
        found = {}
        code_list = sorted(codes)
        for start in range(0, len(code_list), 500):
            chunk = code_list[start:start + 500]
            found.update({r.code: r.id for r in query.where(AD.code.in_(chunk))})
        return found
    return {r.code: r.id for r in query}


def biogenic_co2_flows() -> list[int]:
    """Node ids of biosphere3's "Carbon dioxide, non-fossil" flows (every compartment): biogenic CO2,
    characterised 0 by IPCC 2021 and reported apart (DESIGN §3 v2)."""
    from bw2data.backends import ActivityDataset as AD

    query = AD.select(AD.id).where((AD.database == "biosphere3") & (AD.name == "Carbon dioxide, non-fossil"))
    return [r.id for r in query]


def _write_methods() -> None:
    path = Path(__import__("bw2io").__file__).parent / "data" / "lcia" / "lcia_39_ecoinvent.zip"
    with zipfile.ZipFile(path) as archive:
        shipped = {tuple(m["name"]): m for m in json.load(archive.open("data.json"))}
    bio = node_ids("biosphere3")
    co2e = node_ids(CO2E_DB)
    for part, name in METHODS.items():
        source = shipped[SOURCE_METHODS[part]]
        cfs = [(bio[e["input"][1]], float(e["amount"])) for e in source["exchanges"]]
        cfs += [(co2e[code], 1.0) for p, code in CO2E_FLOWS.items() if part in (p, "total")]
        method = bd.Method(name)
        method.register(
            unit="kg CO2-Eq",
            description=f"{' | '.join(SOURCE_METHODS[part])} as shipped in bw2io {path.name}, plus factor 1 "
            f"for footprint's aggregated CO2e flows of this part.",
            source=path.name,
        )
        method.write(cfs)


def method_factors(part: str) -> dict[int, float]:
    """Biosphere node id → characterisation factor of one part's method."""
    return {int(flow): float(cf) for flow, cf in bd.Method(METHODS[part]).load()}


def method_identity() -> dict:
    """Names of the four methods and a SHA-256 of their factors keyed by (database, code), so
    the same factors give the same hash in any data directory."""
    from bw2data.backends import ActivityDataset as AD

    keys = {r.id: (r.database, r.code) for r in AD.select(AD.id, AD.database, AD.code)
            .where(AD.database.in_(["biosphere3", CO2E_DB]))}
    factors = {part: sorted([*keys[flow], cf] for flow, cf in method_factors(part).items()) for part in METHODS}
    digest = hashlib.sha256(json.dumps(factors, sort_keys=True).encode()).hexdigest()
    return {"methods": {part: list(name) for part, name in METHODS.items()},
            "source": {part: list(name) for part, name in SOURCE_METHODS.items()}, "factors_sha256": digest}


# ---- open-factors ---------------------------------------------------------------------------

OPEN_COLUMNS = ("code", "name", "unit", "category", "location", "scope", "co2", "ch4", "n2o", "fossil", "biogenic",
                "luc", "source", "reference", "year", "dqr", "comment")
# format 2 adds the factor columns of DESIGN §2 "Format version 2"; an older CSV (e.g. in a bundle) still reads
OPEN_COLUMNS_2 = (*OPEN_COLUMNS, "boundary", "gwp", "data_type", "pds", "ter", "ger", "tir")


def read_open_factors(path: Path) -> list[dict]:
    """Rows of open-factors.csv as Brightway datasets; located errors for any bad row."""
    problems: list[Problem] = []
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) not in (OPEN_COLUMNS, OPEN_COLUMNS_2):
        raise ParkDataError([Problem(path.name, 1, None, reader.fieldnames, f"expected columns {OPEN_COLUMNS_2}")])
    datasets = []
    bio = biosphere_codes()
    for n, r in enumerate(reader, start=2):
        gases = {g: _number(r, g, path.name, n, problems) for g in FACTOR_GASES}
        parts = {p: _number(r, p, path.name, n, problems) for p in PARTS}
        has_gas = any(v is not None for v in gases.values())
        has_parts = any(v is not None for v in parts.values())
        if not (has_gas or has_parts):  # both: gases of combustion plus an aggregated upstream part
            problems.append(Problem(path.name, n, "co2", None, "expected gas columns, CO2e part columns or both"))
            continue
        quality, found = loading.factor_quality(path.name, n, r)
        problems += found
        if quality is None:
            continue
        if not units.is_known(r["unit"]) or r["category"] not in CATEGORY_OF_FACTOR or not r["source"]:
            problems.append(Problem(path.name, n, "unit", r["unit"], "expected a known unit, category and source"))
            continue
        exchanges = [{"input": (OPEN_FACTORS, r["code"]), "amount": 1.0, "type": "production"}]
        for gas, value in gases.items():
            if value:
                name, cats = ALIASES[FACTOR_GASES[gas]]
                exchanges.append({"input": ("biosphere3", bio[(name, cats)]), "amount": value, "type": "biosphere"})
        exchanges += co2e_exchanges(parts)
        datasets.append({
            "database": OPEN_FACTORS, "code": r["code"], "name": r["name"], "reference product": r["name"],
            "unit": units.PARK_TO_BRIGHTWAY[r["unit"]], "location": r["location"] or "GLO", "type": "process",
            "category": r["category"], "scope": r["scope"], "source": r["source"], "reference": r["reference"],
            "year": r["year"], "dqr": int(r["dqr"]) if r["dqr"] else None, "comment": r["comment"],
            "gases": has_gas, **quality, "exchanges": exchanges,
        })
    if problems:
        raise ParkDataError(problems)
    return datasets


def _number(row: dict, col: str, file: str, n: int, problems: list[Problem]) -> float | None:
    if not row[col]:
        return None
    try:
        value = float(row[col])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(Problem(file, n, col, row[col], "expected a finite number"))
        return None
    return value


def co2e_exchanges(parts: dict[str, float | None]) -> list[dict]:
    """Biosphere exchanges that make an aggregated factor count exactly its three parts."""
    return [{"input": (CO2E_DB, CO2E_FLOWS[p]), "amount": v, "type": "biosphere"} for p, v in parts.items() if v]


def _ensure_open_factors(path: Path) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if bd.databases.get(OPEN_FACTORS, {}).get("sha256") == digest:
        return
    datasets = read_open_factors(path)
    db = bd.Database(OPEN_FACTORS)
    db.write({(OPEN_FACTORS, d["code"]): d for d in datasets})
    bd.databases[OPEN_FACTORS]["sha256"] = digest
    _set_version(OPEN_FACTORS, f"sha256:{digest[:12]}")


def _set_version(name: str, version: str) -> None:
    """Label a database with a version that is the same in every data directory."""
    if name not in bd.databases:
        bd.Database(name).register()
    bd.databases[name]["version"] = version
    bd.databases.flush()


def factor_totals(database: str = OPEN_FACTORS) -> dict[str, tuple[str, str, float]]:
    """code → (name, park unit, kg CO2e per unit) of a single-level factor database like open-factors."""
    cfs = method_factors("total")
    out = {}
    for act in bd.Database(database):
        total = sum(exc["amount"] * cfs.get(exc.input.id, 0.0) for exc in act.biosphere())
        out[act["code"]] = (act["name"], units.from_brightway(act["unit"]) or act["unit"], total)
    return out


def database_versions(names: set[str]) -> dict[str, str]:
    """A version label per database, as recorded when footprint wrote it."""
    return {n: str(bd.databases[n].get("version") or bd.databases[n].get("modified", "")) for n in sorted(names)}
