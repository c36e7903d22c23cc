"""The EU CBAM view of a park: specific embedded emissions per installation and CN code.

This is not the product carbon footprint. CBAM (Regulation (EU) 2023/956; monitoring rules of
Implementing Regulation (EU) 2023/1773, Annex III) draws the boundary around the installation:

* **direct** emissions of the production process: the gases CBAM covers for the good's sector
  (CO2; PFCs for aluminium; N2O for fertilisers) from ``emissions.csv`` and from fuels burnt in
  stationary sources (open-factors ``fuel`` rows with a CO2 column), plus imported measurable heat
  at its producer's CO2 per TJ — and nothing upstream of fuels, no transport, no mobile machinery;
* **precursors**: a CBAM good consumed (a park product with a CBAM CN code, resolved through the
  park; or a bought one, from the supplier's communication or the Commission's default values,
  which ``cbam.yaml`` names and this module marks);
* **indirect**: electricity consumed × its CO2 emission factor (grid: the factor row's CO2; park
  power: the generator's own direct CO2 per MWh, a direct technical connection).

All of a production process's emissions go to its goods (activity level = tonnes of CBAM goods);
residues such as scrap carry none, and other non-CBAM co-products take their park allocation share
away. What the park data cannot say (which purchases are precursors, their CN codes and values,
vehicles, the installation's city, the carbon price, the verifier) comes from ``cbam.yaml`` in the
park folder.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from footprint.park import units
from footprint.park.errors import ParkDataError, Problem
from footprint.park.models import Facility, Input, Output, ParkData

SETTINGS_FILE = "cbam.yaml"
SETTINGS_FORMAT = "footprint-cbam/1"
MAX_SETTINGS_BYTES = 256 * 1024  # a few entries per facility
DEFAULTS_CSV = Path(__file__).resolve().parents[2] / "inventories" / "background" / "cbam-defaults.csv"

REGULATIONS = {
    "scope": "Regulation (EU) 2023/956 (CBAM), Annex I (goods and greenhouse gases)",
    "method": "Implementing Regulation (EU) 2023/1773, Annex III (determination of embedded emissions)",
    "gwp": "Implementing Regulation (EU) 2023/1773, Annex VIII, section 3: GWP100 of the IPCC Fifth Assessment "
           "Report, the values of the EU ETS monitoring rules (Implementing Regulation (EU) 2018/2066, Annex VI, "
           "section 3, Table 6, as amended by Implementing Regulation (EU) 2020/2085)",
    "defaults": "Implementing Regulation (EU) 2025/2621 (default values for the definitive period), "
                "per row of inventories/background/cbam-defaults.csv",
}
#: t CO2e per t of gas (EU ETS / CBAM monitoring rules, AR5); CH4, SF6 and HFCs are not CBAM gases
GWP = {"CO2": 1.0, "N2O": 265.0, "CF4": 6630.0, "C2F6": 11100.0}
#: greenhouse gases CBAM covers per sector (Regulation (EU) 2023/956, Annex I)
GASES = {"cement": ("CO2",), "electricity": ("CO2",), "fertilisers": ("CO2", "N2O"), "hydrogen": ("CO2",),
         "iron and steel": ("CO2",), "aluminium": ("CO2", "CF4", "C2F6")}

_IRON_STEEL_PRODUCTS = [f"72{n:02d}" for n in range(8, 30)] + [f"73{n:02d}" for n in range(1, 12)] + ["7318", "7326"]
#: CN code prefix → (sector, aggregated goods category) of Annex I; the longest prefix decides, None = excluded
CN_GOODS: dict[str, tuple[str, str] | None] = {
    "25070080": ("cement", "Calcined clay"), "252310": ("cement", "Cement clinker"),
    "252321": ("cement", "Cement"), "252329": ("cement", "Cement"), "252390": ("cement", "Cement"),
    "252330": ("cement", "Aluminous cement"), "271600": ("electricity", "Electricity"),
    "280800": ("fertilisers", "Nitric acid"), "2814": ("fertilisers", "Ammonia"),
    "283421": ("fertilisers", "Mixed fertilisers"), "310210": ("fertilisers", "Urea"),
    "3102": ("fertilisers", "Mixed fertilisers"), "3105": ("fertilisers", "Mixed fertilisers"), "310560": None,
    "280410": ("hydrogen", "Hydrogen"),
    "260112": ("iron and steel", "Sintered ore"), "7201": ("iron and steel", "Pig iron"),
    "720211": ("iron and steel", "FeMn"), "720219": ("iron and steel", "FeMn"),
    "720241": ("iron and steel", "FeCr"), "720249": ("iron and steel", "FeCr"), "720260": ("iron and steel", "FeNi"),
    "7203": ("iron and steel", "DRI"), "7205": ("iron and steel", "Iron or steel products"),
    "7206": ("iron and steel", "Crude steel"), "7207": ("iron and steel", "Crude steel"),
    **{p: ("iron and steel", "Iron or steel products") for p in _IRON_STEEL_PRODUCTS},
    "7601": ("aluminium", "Unwrought aluminium"),
    **{f"76{n:02d}": ("aluminium", "Aluminium products") for n in (*range(3, 15), 16)},
}
#: CN headings of waste and scrap: residues of a process, never goods of it
RESIDUE_HEADINGS = ("7204", "7602", "7404", "7503", "7802", "7902", "3915", "4707", "2618", "2619")
ELECTRICITY_UNITS = ("kWh", "MWh")
HEAT_UNITS = ("MJ", "GJ", "TJ")


def cn_digits(code: str) -> str:
    return "".join(ch for ch in code if ch.isdigit())


def cn_good(code: str | None) -> tuple[str, str] | None:
    """(sector, aggregated goods category) of a CN code under CBAM, or None outside it."""
    if not code:
        return None
    digits = cn_digits(code)
    for n in range(len(digits), 3, -1):
        if digits[:n] in CN_GOODS:
            return CN_GOODS[digits[:n]]
    return None


def is_residue(output: Output) -> bool:
    """Scrap and other residues of a process carry no embedded emissions (CBAM attributes them to the goods)."""
    return output.kind == "waste" or (
        output.hs_code is not None and cn_digits(output.hs_code)[:4] in RESIDUE_HEADINGS)


# ---- settings (cbam.yaml) and default values --------------------------------------------


@dataclass(frozen=True)
class Precursor:
    """A bought precursor: an inputs.csv row, its CN code and origin, and its embedded emissions (t/t)."""

    row: int
    ref: str
    cn_code: str
    country: str
    data: str  # actual (supplier's CBAM communication), default (Commission value) or estimate
    direct: float
    indirect: float | None
    source: str


@dataclass
class FacilitySettings:
    installation: dict[str, str] = field(default_factory=dict)
    mobile_combustion: set[int] = field(default_factory=set)
    precursors: dict[int, Precursor] = field(default_factory=dict)
    carbon_price: dict[str, Any] | None = None
    production_route: str | None = None


@dataclass
class Settings:
    verifier: dict[str, str] | None
    carbon_price: dict[str, Any]
    facilities: dict[str, FacilitySettings]
    grid_emission_factor: dict[str, Any] | None = None


@dataclass(frozen=True)
class DefaultValue:
    cn_code: str
    country: str
    direct: float
    indirect: float | None
    source: str
    reference: str


def read_defaults(path: Path = DEFAULTS_CSV) -> dict[tuple[str, str], DefaultValue]:
    """(CN digits, country) → the Commission's default value, as transcribed with its source."""
    out = {}
    with open(path, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            out[(cn_digits(r["cn_code"]), r["country"])] = DefaultValue(
                r["cn_code"], r["country"], float(r["direct"]), float(r["indirect"]) if r["indirect"] else None,
                r["source"], r["reference"])
    return out


def find_default(defaults: dict[tuple[str, str], DefaultValue], cn_code: str, country: str) -> DefaultValue | None:
    """The default of the longest CN prefix of ``cn_code`` with a row for ``country``."""
    digits = cn_digits(cn_code)
    for n in range(len(digits), 3, -1):
        if (digits[:n], country) in defaults:
            return defaults[(digits[:n], country)]
    return None


def _number(value: Any, where: str, problems: list[Problem], minimum: float = 0.0) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < minimum:
        problems.append(Problem(SETTINGS_FILE, None, where, value, f"expected a number ≥ {minimum:g}"))
        return None
    return float(value)


def read_settings(park: ParkData, defaults: dict[tuple[str, str], DefaultValue] | None = None) -> Settings:
    """``cbam.yaml`` of the park folder, checked against the park's rows; ParkDataError lists every problem."""
    path = Path(park.folder) / SETTINGS_FILE
    if not path.exists():
        raise ParkDataError([Problem(SETTINGS_FILE, None, None, None,
                                     f"missing in {park.folder}: CBAM needs what the park data cannot hold "
                                     "(bought precursors and their values, vehicles, city, carbon price); "
                                     "see README 'CBAM'")])
    from footprint.park.loading import _PlainLoader

    size = path.stat().st_size
    if size > MAX_SETTINGS_BYTES:
        raise ParkDataError([Problem(SETTINGS_FILE, None, None, None,
                                     f"{size:,} bytes; {SETTINGS_FILE} may have at most {MAX_SETTINGS_BYTES:,}")])
    try:
        doc = yaml.load(path.read_bytes().decode("utf-8-sig"), Loader=_PlainLoader)  # noqa: S506 - no aliases
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as e:
        raise ParkDataError([Problem(SETTINGS_FILE, None, None, None, f"is not valid YAML without anchors and "
                                     f"aliases, nested a few levels ({type(e).__name__}: {e})")]) from None
    problems: list[Problem] = []
    if not isinstance(doc, dict) or doc.get("format") != SETTINGS_FORMAT:
        raise ParkDataError([Problem(SETTINGS_FILE, None, "format", doc.get("format") if isinstance(doc, dict)
                                     else doc, f"expected format: {SETTINGS_FORMAT}")])
    known = {"format", "verifier", "carbon_price", "facilities", "grid_emission_factor"}
    for key in set(doc) - known:
        problems.append(Problem(SETTINGS_FILE, None, key, doc[key], f"unknown key; expected one of {sorted(known)}"))
    defaults = read_defaults() if defaults is None else defaults
    facilities = {f.facility_id: f for f in park.facilities}
    inputs = {(i.origin.row): i for i in park.inputs}
    out: dict[str, FacilitySettings] = {}
    for fid, entry in (doc.get("facilities") or {}).items():
        where = f"facilities.{fid}"
        if fid not in facilities:
            problems.append(Problem(SETTINGS_FILE, None, where, fid, "not a facility_id of facilities.csv"))
            continue
        if not isinstance(entry, dict):
            problems.append(Problem(SETTINGS_FILE, None, where, entry, "expected a mapping"))
            continue
        extra = set(entry) - {"installation", "mobile_combustion", "precursors", "carbon_price", "production_route"}
        for key in extra:
            problems.append(Problem(SETTINGS_FILE, None, f"{where}.{key}", entry[key], "unknown key"))
        fs = FacilitySettings(installation={k: str(v) for k, v in (entry.get("installation") or {}).items()},
                              carbon_price=entry.get("carbon_price"), production_route=entry.get("production_route"))
        for n in entry.get("mobile_combustion") or []:
            i = inputs.get(n)
            if i is None or i.facility_id != fid:
                problems.append(Problem(SETTINGS_FILE, None, f"{where}.mobile_combustion", n,
                                        f"expected a row number of inputs.csv that belongs to {fid}"))
            else:
                fs.mobile_combustion.add(n)
        for k, p in enumerate(entry.get("precursors") or []):
            prec = _precursor(p, f"{where}.precursors[{k}]", fid, inputs, defaults, problems)
            if prec is not None:
                fs.precursors[prec.row] = prec
        out[fid] = fs
    carbon_price = doc.get("carbon_price") or {"instrument": "none"}
    if not isinstance(carbon_price, dict) or "instrument" not in carbon_price:
        problems.append(Problem(SETTINGS_FILE, None, "carbon_price", carbon_price,
                                "expected a mapping with instrument (none, ETS or tax) and, if any, price and "
                                "currency"))
    if problems:
        raise ParkDataError(problems)
    return Settings(verifier=doc.get("verifier"), carbon_price=carbon_price, facilities=out,
                    grid_emission_factor=doc.get("grid_emission_factor"))


def _precursor(p: Any, where: str, fid: str, inputs: dict[int, Input],
               defaults: dict[tuple[str, str], DefaultValue], problems: list[Problem]) -> Precursor | None:
    if not isinstance(p, dict):
        problems.append(Problem(SETTINGS_FILE, None, where, p,
                                "expected a mapping with row, ref, cn_code, country, data"))
        return None
    row, ref = p.get("row"), p.get("ref")
    i = inputs.get(row) if isinstance(row, int) else None
    if i is None or i.facility_id != fid or i.ref != ref:
        problems.append(Problem(SETTINGS_FILE, None, f"{where}.row", row,
                                f"expected the inputs.csv row of {fid} whose ref is {ref!r}"
                                + (f" (row {row} is {i.facility_id} {i.ref})" if i else "")))
        return None
    if units.dimension(i.unit) != "mass":
        problems.append(Problem(SETTINGS_FILE, None, f"{where}.row", row,
                                f"a precursor is counted in tonnes; inputs.csv row {row} is in {i.unit}"))
        return None
    cn_code, country, data = str(p.get("cn_code", "")), str(p.get("country", "")), p.get("data")
    if cn_good(cn_code) is None:
        problems.append(Problem(SETTINGS_FILE, None, f"{where}.cn_code", cn_code,
                                "expected the CN code of a CBAM good"))
        return None
    if len(country) != 2 or not country.isupper():
        hint = " (quote it: YAML reads a bare NO as false)" if isinstance(p.get("country"), bool) else ""
        problems.append(Problem(SETTINGS_FILE, None, f"{where}.country", p.get("country"),
                                f"expected an ISO 3166 alpha-2 code{hint}"))
        return None
    if data == "default":
        lookup = str(p.get("default_of") or cn_code)
        value = find_default(defaults, lookup, country)
        if value is None:
            problems.append(Problem(SETTINGS_FILE, None, f"{where}.cn_code", lookup,
                                    f"no default value for CN {lookup} from {country} in cbam-defaults.csv; add the "
                                    "Commission's value with its source, or give the supplier's communication"))
            return None
        note = "" if lookup == cn_code else f"; value of CN {value.cn_code} (no published value for CN {cn_code})"
        return Precursor(row, ref, cn_code, country, "default", value.direct, value.indirect,
                         f"{value.source}: {value.reference}{note}")
    if data not in ("actual", "estimate"):
        problems.append(Problem(SETTINGS_FILE, None, f"{where}.data", data,
                                "expected actual (supplier's CBAM communication), default or estimate"))
        return None
    direct = _number(p.get("direct"), f"{where}.direct", problems)
    indirect = None if p.get("indirect") is None else _number(p.get("indirect"), f"{where}.indirect", problems)
    source = str(p.get("source") or "").strip()
    if not source:
        problems.append(Problem(SETTINGS_FILE, None, f"{where}.source", None, "expected where the values come from"))
    if direct is None or not source:
        return None
    return Precursor(row, ref, cn_code, country, data, direct, indirect, source)


# ---- computing ----------------------------------------------------------------------------


@dataclass
class Process:
    """One production process: a facility's CBAM goods of one aggregated goods category."""

    facility: Facility
    sector: str
    category: str
    goods: list[Output]
    share: float  # of the facility's emissions attributed to this process
    activity_level: float = 0.0  # t of goods
    direct_rows: list[dict] = field(default_factory=list)
    heat: list[dict] = field(default_factory=list)
    electricity: list[dict] = field(default_factory=list)
    precursors: list[dict] = field(default_factory=list)
    not_counted: list[dict] = field(default_factory=list)
    see: dict[str, float] = field(default_factory=dict)


def _tonnes(o: Output, amount: float, unit: str) -> float | None:
    if units.dimension(unit) == "mass":
        return amount * units.factor(unit, "t")
    if o.mass_kg is not None:
        return amount * units.factor(unit, o.unit) * o.mass_kg / 1000.0
    return None


def _open_factor_rows() -> dict[str, dict[str, str]]:
    from footprint.engine.background import OPEN_FACTORS_CSV

    with open(OPEN_FACTORS_CSV, encoding="utf-8-sig", newline="") as f:
        return {r["code"]: r for r in csv.DictReader(f)}


class Calculator:
    """CBAM processes of a park, each computed once (precursors resolved through the park)."""

    def __init__(self, park: ParkData, settings: Settings):
        self.park = park
        self.settings = settings
        self.outputs = {o.product_id: o for o in park.outputs}
        self.facilities = {f.facility_id: f for f in park.facilities}
        self.factors = _open_factor_rows()
        self.problems: list[Problem] = []
        self.processes: dict[tuple[str, str], Process] = {}
        self._done: dict[tuple[str, str], dict[str, float]] = {}
        self._busy: set[tuple[str, str]] = set()
        self._build()

    def fs(self, fid: str) -> FacilitySettings:
        return self.settings.facilities.get(fid) or FacilitySettings()

    # -- which outputs are goods, which residues --

    def _build(self) -> None:
        by_facility: dict[str, list[Output]] = {}
        for o in self.park.outputs:
            by_facility.setdefault(o.facility_id, []).append(o)
        for fid, outs in by_facility.items():
            goods = [o for o in outs if cn_good(o.hs_code) and not is_residue(o)]
            if not goods:
                continue
            basis = self._basis(self.facilities[fid], [o for o in outs if not is_residue(o)])
            total = sum(basis.values())
            groups: dict[tuple[str, str], list[Output]] = {}
            for o in goods:
                groups.setdefault(cn_good(o.hs_code), []).append(o)  # type: ignore[arg-type]
            for (sector, category), members in groups.items():
                share = sum(basis[o.product_id] for o in members) / total if total else 1.0
                proc = Process(self.facilities[fid], sector, category, members, share)
                for o in members:
                    t = _tonnes(o, o.amount, o.unit)
                    if t is None:
                        self.problems.append(Problem(o.origin.file, o.origin.row, "mass_kg", None,
                                                     f"{o.product_id} is a CBAM good counted in {o.unit}: CBAM "
                                                     "reports per tonne, so mass_kg is needed"))
                        t = 0.0
                    proc.activity_level += t
                self.processes[(fid, category)] = proc

    def _basis(self, f: Facility, outs: list[Output]) -> dict[str, float]:
        """Each non-residue output's weight in the facility's own allocation (mass when it has none)."""
        rule = f.allocation or "mass"
        weights = {}
        for o in outs:
            if rule == "economic":
                w = o.amount * (o.price or 0.0)
            elif rule.startswith("physical:"):
                w = o.amount * o.physical.get(rule.removeprefix("physical:"), 0.0)
            else:
                w = _tonnes(o, o.amount, o.unit) or 0.0
            weights[o.product_id] = w
        if len(outs) == 1:
            return {outs[0].product_id: 1.0}
        return weights

    # -- emission factors of the park's own heat and power --

    def _facility_co2(self, fid: str, gases: tuple[str, ...]) -> tuple[float, list[dict], list[dict]]:
        """t CO2e of a facility's own CBAM direct emissions: emission rows of the gases, stationary fuels."""
        rows, skipped, total = [], [], 0.0
        for e in self.park.emissions:
            if e.facility_id != fid:
                continue
            gas = e.flow if e.flow in gases and e.kind != "land-use-change" else None
            if gas is None:
                skipped.append({"row": e.origin.label, "item": e.flow, "reason": "not a greenhouse gas CBAM covers "
                                f"for this good ({', '.join(gases)})" if e.kind != "land-use-change" else
                                "land-use change is not an installation emission"})
                continue
            t = e.amount * units.factor(e.unit, "t") * GWP[gas]
            total += t
            rows.append({"row": e.origin.label, "item": f"{e.flow} ({e.kind})", "method": f"{e.kind} emission row",
                         "activity": e.amount * units.factor(e.unit, "t"), "activity_unit": f"t {e.flow}",
                         "ef": GWP[gas], "ef_unit": f"t CO2e/t {e.flow}", "t_co2e": t, "source": e.source})
        mobile = self.fs(fid).mobile_combustion
        for i in self.park.inputs:
            if i.facility_id != fid or not i.ref.startswith("bg:") or i.ref.count(":") != 1:
                continue
            r = self.factors.get(i.ref.removeprefix("bg:"))
            if r is None or r["category"] != "fuel" or not r["co2"]:
                continue
            if i.origin.row in mobile:
                skipped.append({"row": i.origin.label, "item": i.ref, "reason": "fuel of mobile machinery "
                                "(vehicles): not an emission source of the installation"})
                continue
            t = i.amount * units.factor(i.unit, r["unit"]) * float(r["co2"]) / 1000.0
            total += t
            if r.get("fossil"):
                skipped.append({"row": i.origin.label, "item": f"{i.ref} upstream", "reason": "upstream of a fuel "
                                f"({r['fossil']} kg CO2e/{r['unit']} in the factor row): CBAM counts only its "
                                "combustion"})
            rows.append({"row": i.origin.label, "item": f"{i.ref} combusted, {i.amount:g} {i.unit} × "
                         f"{float(r['co2']):g} kg CO2/{r['unit']}", "method": "combustion (standard method)",
                         "activity": i.amount * units.factor(i.unit, r["unit"]), "activity_unit": r["unit"],
                         "ef": float(r["co2"]) / 1000.0, "ef_unit": f"t CO2/{r['unit']}", "t_co2e": t,
                         "source": r["source"]})
        return total, rows, skipped

    def heat_factor(self, fid: str) -> tuple[float, str]:
        """t CO2 per TJ of measurable heat made by a park facility: its CO2 over all heat it produced."""
        co2, _, _ = self._facility_co2(fid, ("CO2",))
        heat = sum(o.amount * units.factor(o.unit, "TJ") for o in self.park.outputs
                   if o.facility_id == fid and o.unit in HEAT_UNITS)
        return co2 / heat, (f"{co2:.6g} t CO2 of {fid} (its emission rows and stationary fuels) / {heat:.6g} TJ "
                            "of heat it produced")

    def power_factor(self, fid: str) -> tuple[float, str]:
        """t CO2 per MWh of a park generator (direct technical connection inside the park)."""
        co2, _, _ = self._facility_co2(fid, ("CO2",))
        mwh = sum(o.amount * units.factor(o.unit, "MWh") for o in self.park.outputs
                  if o.facility_id == fid and o.unit in ELECTRICITY_UNITS)
        return co2 / mwh, (f"actual: park generator {fid}, direct technical connection; {co2:.6g} t CO2 / "
                           f"{mwh:.6g} MWh generated")

    def grid_factor(self, i: Input) -> tuple[float, str] | None:
        override = self.settings.grid_emission_factor
        if override:
            return float(override["value"]), str(override["source"])
        r = self.factors.get(i.ref.removeprefix("bg:")) if i.ref.count(":") == 1 else None
        if r is None or r["category"] != "electricity" or not r["co2"]:
            return None
        return float(r["co2"]) * units.factor("MWh", r["unit"]) / 1000.0, f"{r['source']} ({r['scope']})"

    # -- one process --

    def compute(self, key: tuple[str, str]) -> dict[str, float]:
        """Specific embedded emissions of a process (t CO2e per t): direct, indirect, and their parts."""
        if key in self._done:
            return self._done[key]
        if key in self._busy:
            raise ParkDataError([Problem("inputs.csv", None, "ref", key[0], "CBAM precursors form a loop through "
                                         f"{key[0]}; a precursor cannot contain its own product")])
        self._busy.add(key)
        proc = self.processes[key]
        fid, share = proc.facility.facility_id, proc.share
        own, proc.direct_rows, skipped = self._facility_co2(fid, GASES[proc.sector])
        proc.not_counted.extend(skipped)
        heat_em = indirect = prec_dir = prec_indir = default_em = mwh = prec_mwh = 0.0
        settings = self.fs(fid)
        for i in self.park.inputs:
            if i.facility_id != fid:
                continue
            product = self.outputs.get(i.ref)
            if i.origin.row in settings.precursors:
                p = settings.precursors[i.origin.row]
                t = i.amount * units.factor(i.unit, "t")
                d, ind = t * p.direct, t * (p.indirect or 0.0)
                prec_dir, prec_indir = prec_dir + d, prec_indir + ind
                if p.data != "actual":
                    default_em += d + ind
                proc.precursors.append({"row": i.origin.label, "item": i.ref, "cn_code": p.cn_code,
                                        "country": p.country, "tonnes": t, "see_direct": p.direct,
                                        "see_indirect": p.indirect, "data": p.data, "source": p.source,
                                        "purchased": True, "direct_t": d, "indirect_t": ind})
            elif product is not None and cn_good(product.hs_code) and not is_residue(product):
                sub_key = (product.facility_id, cn_good(product.hs_code)[1])  # type: ignore[index]
                sub = self.compute(sub_key)
                t = _tonnes(product, i.amount, i.unit) or 0.0
                d, ind = t * sub["direct"], t * sub["indirect"]
                prec_dir, prec_indir = prec_dir + d, prec_indir + ind
                default_em += (d + ind) * sub["default_share"]
                prec_mwh += t * sub["embedded_electricity"]
                proc.precursors.append({"row": i.origin.label, "item": i.ref, "cn_code": product.hs_code,
                                        "country": self.park.park.country, "tonnes": t, "see_direct": sub["direct"],
                                        "see_indirect": sub["indirect"], "data": "park",
                                        "source": f"computed here: production process {sub_key[0]} of this park",
                                        "purchased": False, "direct_t": d, "indirect_t": ind})
            elif product is not None and product.unit in HEAT_UNITS:
                ef, how = self.heat_factor(product.facility_id)
                tj = i.amount * units.factor(i.unit, "TJ")
                heat_em += tj * ef
                proc.heat.append({"row": i.origin.label, "item": i.ref, "tj": tj, "ef_t_per_tj": ef,
                                  "t_co2e": tj * ef, "source": how})
            elif (product is not None and product.unit in ELECTRICITY_UNITS) or \
                    (product is None and i.unit in ELECTRICITY_UNITS):
                found = self.power_factor(product.facility_id) if product is not None else self.grid_factor(i)
                if found is None:
                    self.problems.append(Problem(i.origin.file, i.origin.row, "ref", i.ref,
                                                 "CBAM needs the CO2 emission factor of this electricity: an "
                                                 "open-factors electricity row with a co2 column, or "
                                                 "grid_emission_factor {value, source} in cbam.yaml"))
                    continue
                ef, how = found
                e = i.amount * units.factor(i.unit, "MWh")
                mwh += e
                indirect += e * ef
                proc.electricity.append({"row": i.origin.label, "item": i.ref, "mwh": e, "ef_t_per_mwh": ef,
                                         "t_co2": e * ef, "source": how})
            elif not (i.ref.startswith("bg:") and self._is_fuel(i)):
                category = self._category(i) if product is None else None
                reason = {"fuel": "upstream of a fuel: CBAM counts only its combustion",
                          "transport": "transport of inputs is outside the CBAM boundary"}.get(
                    category or "", "outside the CBAM boundary (not a precursor, heat, electricity or fuel burnt "
                                    "at the installation)")
                proc.not_counted.append({"row": i.origin.label, "item": i.ref, "reason": reason})
            if i.transport_ref:
                proc.not_counted.append({"row": i.origin.label, "item": f"transport {i.transport_ref}",
                                         "reason": "transport of inputs is outside the CBAM boundary"})
        direct = share * (own + heat_em + prec_dir)
        indirect_total = share * (indirect + prec_indir)
        al = proc.activity_level
        result = {
            "direct": direct / al if al else 0.0, "indirect": indirect_total / al if al else 0.0,
            "own_direct_t": share * own, "heat_t": share * heat_em, "precursors_direct_t": share * prec_dir,
            "electricity_t": share * indirect, "precursors_indirect_t": share * prec_indir,
            "electricity_mwh": share * mwh,
            "embedded_electricity": share * (mwh + prec_mwh) / al if al else 0.0,
            "electricity_ef": indirect / mwh if mwh else 0.0,
            "default_share": share * default_em / (direct + indirect_total) if direct + indirect_total else 0.0,
        }
        result["total"] = result["direct"] + result["indirect"]
        proc.see = result
        self._done[key] = result
        self._busy.discard(key)
        return result

    def _category(self, i: Input) -> str | None:
        """The factor category of a factor:/bg: input (park factors.csv or open-factors)."""
        if i.ref.startswith("factor:"):
            f = next((f for f in self.park.factors if f.code == i.ref.removeprefix("factor:")), None)
            return f.category if f else None
        r = self.factors.get(i.ref.removeprefix("bg:")) if i.ref.count(":") == 1 else None
        return r["category"] if r else None

    def _is_fuel(self, i: Input) -> bool:
        r = self.factors.get(i.ref.removeprefix("bg:")) if i.ref.count(":") == 1 else None
        return bool(r and r["category"] == "fuel" and r["co2"])


# ---- the communication --------------------------------------------------------------------


def communication(park: ParkData, facilities: list[str] | None = None,
                  defaults: dict[tuple[str, str], DefaultValue] | None = None) -> dict:
    """The CBAM view of a park (JSON-ready): installations, production processes, goods, goods outside CBAM."""
    settings = read_settings(park, defaults)
    calc = Calculator(park, settings)
    unknown = [f for f in facilities or [] if f not in calc.facilities]
    if unknown:
        raise ParkDataError([Problem("facilities.csv", None, "facility_id", u, "no such facility (--facility)")
                             for u in unknown])
    for key in calc.processes:
        calc.compute(key)
    if calc.problems:
        raise ParkDataError(calc.problems)
    chosen = [k for k in calc.processes if not facilities or k[0] in facilities]
    processes, goods = [], []
    for key in chosen:
        proc = calc.processes[key]
        fid = proc.facility.facility_id
        fs = calc.fs(fid)
        price = fs.carbon_price or settings.carbon_price
        processes.append({
            "id": fid, "facility": proc.facility.name, "installation": installation_id(proc.facility),
            "sector": proc.sector, "aggregated_goods_category": proc.category,
            "production_route": fs.production_route, "activity_level_t": proc.activity_level,
            "attribution_share": proc.share, "see": proc.see, "direct_emissions": proc.direct_rows,
            "measurable_heat": proc.heat, "electricity": proc.electricity, "precursors": proc.precursors,
            "not_counted": proc.not_counted, "carbon_price": price, "goods": [o.product_id for o in proc.goods]})
        for o in proc.goods:
            goods.append({"product_id": o.product_id, "name": o.name, "name_zh": o.name_zh, "cn_code": o.hs_code,
                          "production_process": fid, "installation": installation_id(proc.facility),
                          "aggregated_goods_category": proc.category, "unit": "t CO2e/t",
                          "see_direct": proc.see["direct"], "see_indirect": proc.see["indirect"],
                          "see_total": proc.see["total"], "default_share": proc.see["default_share"],
                          "embedded_electricity_mwh_per_t": proc.see["embedded_electricity"],
                          "electricity_ef_t_per_mwh": proc.see["electricity_ef"],
                          "produced_t": _tonnes(o, o.amount, o.unit)})
    outside = []
    for o in park.outputs:
        if facilities and o.facility_id not in facilities:
            continue
        if is_residue(o) and cn_good(o.hs_code) is None:
            reason = "residue (waste or scrap): carries no embedded emissions; not a CBAM good"
        elif cn_good(o.hs_code) is None:
            reason = (f"CN {o.hs_code} is not in Annex I of Regulation (EU) 2023/956" if o.hs_code
                      else "no CN code in the park data (outputs.csv hs_code)")
        else:
            continue
        outside.append({"product_id": o.product_id, "name": o.name, "cn_code": o.hs_code,
                        "facility": o.facility_id, "reason": reason})
    installations = {}
    for proc in (calc.processes[k] for k in chosen):
        inst = installation_id(proc.facility)
        entry = installations.setdefault(inst, _installation(park, proc.facility, calc.fs(proc.facility.facility_id)))
        entry["processes"].append(proc.facility.facility_id)
        entry["direct_t"] += proc.see["own_direct_t"] + proc.see["heat_t"]
        entry["indirect_t"] += proc.see["electricity_t"]
    return {"format": "footprint-cbam/1", "park": park.park.id, "park_name": park.park.name,
            "period": {"start": park.park.period.start.isoformat(), "end": park.park.period.end.isoformat()},
            "regulations": REGULATIONS, "gwp": GWP, "verifier": settings.verifier,
            "installations": list(installations.values()), "processes": processes, "goods": goods,
            "outside_cbam": outside}


def installation_id(f: Facility) -> str:
    """The CBAM installation a facility belongs to (park format v2 ``installation_id``, else the facility)."""
    return f.installation_id or f.facility_id


def _installation(park: ParkData, f: Facility, fs: FacilitySettings) -> dict:
    given = fs.installation
    return {
        "id": installation_id(f), "name": given.get("name") or f"{f.enterprise}, {f.name}",
        "enterprise": f.enterprise, "enterprise_id": f.enterprise_id,
        "street": given.get("street") or f.address, "city": given.get("city"),
        "post_code": given.get("post_code"), "country": park.park.country,
        "unlocode": given.get("unlocode") or f.unlocode,
        "latitude": given.get("latitude") or f.latitude, "longitude": given.get("longitude") or f.longitude,
        "economic_activity": given.get("economic_activity"), "processes": [], "direct_t": 0.0, "indirect_t": 0.0,
    }


# ---- the Commission's template layout -------------------------------------------------------

SUMMARY_SHEET = "Summary_Communication"
#: column headers of "Summary of products" in the template's Summary_Communication sheet
PRODUCT_COLUMNS = (
    "Production process from which the products arise", "Type of aggregated good or precursor", "CN Codes",
    "CN Name", "Product name \n(used for communication with reporting declarant, e.g. on invoices)",
    "SEE (direct)", "SEE (indirect)", "SEE (total)", "Unit", "Share of emissions by default value",
    "Source for electricity EF", "Embedded electricity (MWh/t)", "Electricity EF (tCO2/MWh)",
    "The main reducing agent of the precursor, if known", "Steel mill identification number", "% Mn", "% Cr",
    "% Ni", "% other alloys", "% carbon", "t scrap per t steel", "% other materials", "% pre-consumer scrap",
    "t scrap per t aluminium", "% non-aluminium elements", "Type of instrument (carbon pricing)",
    "Share of total embedded emissions covered by the carbon price",
    "Embedded emissions covered by the carbon price", "Currency",
    "Carbon price (CP) due (per produced t or MWh)", "Type of rebate",
    "Share of embedded emissions covered by the rebate", "Embedded emissions covered by rebate",
    "Amount of rebate (per produced t or MWh)", "Result: Effective CP due (per produced t or MWh)",
)


def _price_cells(price: dict, see_total: float) -> list:
    if price.get("instrument", "none") == "none":
        return ["none", 0, 0, None, 0, None, None, None, None, 0]
    share = float(price.get("share", 1.0))
    due = float(price.get("price", 0.0)) * share * see_total
    return [price["instrument"], share, share * see_total, price.get("currency"), due, None, None, None, None, due]


def workbook(comm: dict, installation: str):
    """An openpyxl workbook for one installation, with the template's sheet and column names."""
    import openpyxl

    inst = next(i for i in comm["installations"] if i["id"] == installation)
    procs = [p for p in comm["processes"] if p["installation"] == installation]
    goods = [g for g in comm["goods"] if g["installation"] == installation]
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = SUMMARY_SHEET
    put = ws.append
    put(["Communication with reporting declarants"])
    put(["1", "Summary of the installation and production processes"])
    put(["1", "Installation details"])
    put(["Parameter", "Value"])
    period = comm["period"]
    for label, value in (
            ("Name of the installation (English name):", inst["name"]), ("Street, Number:", inst["street"]),
            ("Economic activity:", inst["economic_activity"]), ("Post code:", inst["post_code"]),
            ("City:", inst["city"]), ("Country:", inst["country"]), ("UNLOCODE:", inst["unlocode"]),
            ("Coordinates of the main emission source (latitude):", inst["latitude"]),
            ("Coordinates of the main emission source (longitude):", inst["longitude"]),
            ("Reporting period start:", period["start"]), ("Reporting period end:", period["end"])):
        put([label, value])
    put([])
    put(["2", "Summary of the production processes and production routes, where relevant"])
    put(["(a)", "Aggregated good produced", "Route 1"])
    for p in procs:
        put(["", p["aggregated_goods_category"], p["production_route"] or "n.a. (no production routes for this "
             "aggregated goods category)"])
    put(["(b)", "Production process", "Aggregated goods category"])
    for p in procs:
        put(["", p["id"], p["aggregated_goods_category"]])
    put([])
    put(["3", "Summary of emissions by monitoring methodology and data quality"])
    direct = sum(p["see"]["own_direct_t"] + p["see"]["heat_t"] for p in procs)
    indirect = sum(p["see"]["electricity_t"] for p in procs)
    put(["Calculation - based (excl. PFC emissions)", direct, "tCO2e"])
    put(["Total PFC emissions", 0, "tCO2e"])
    put(["Measurement - based", 0, "tCO2e"])
    put(["Other", 0, "tCO2e"])
    put(["Total direct emissions during reporting period:", direct, "tCO2e"])
    put(["Total indirect emissions during reporting period:", indirect, "tCO2e"])
    put(["Total emissions during reporting period:", direct + indirect, "tCO2e"])
    put(["General information on data quality:", "Activity data metered or invoiced at the facility (park data, "
         "inputs.csv and emissions.csv rows); fuel CO2 from IPCC 2006 factors; imported heat at its producer's CO2 "
         "per TJ; direct emissions include imported measurable heat."])
    defaults = sorted({pr["source"] for p in procs for pr in p["precursors"] if pr["data"] != "actual"})
    put(["Justification for use of default values (if relevant):",
         "No CBAM communication from the suppliers of the purchased precursors: " + " | ".join(defaults)
         if defaults else "No default values used."])
    verifier = comm["verifier"]
    put(["Information on quality assurance:", f"Verified by {verifier['name']}" if verifier else
         "Not verified: no accredited verifier has reviewed this communication."])
    put([])
    put(["4", "Further information"])
    price = procs[0]["carbon_price"] if procs else {"instrument": "none"}
    put(["Carbon price instrument:", price.get("instrument", "none")])
    put(["Any additional information:", " ".join(filter(None, [
        price.get("note"), "SEE (indirect) includes precursors' indirect emissions only where their values give "
        "them (the Commission's default values for iron, steel and aluminium give direct emissions only). In the "
        "definitive period only the direct embedded emissions of iron, steel, aluminium and hydrogen count toward "
        "the CBAM obligation; the indirect ones are reported for information.",
        f"Computed by footprint from park {comm['park']}; method: {comm['regulations']['method']}; "
        f"GWP: {comm['regulations']['gwp']}."]))])
    put([])
    put(["2", "Summary of products"])
    put(list(PRODUCT_COLUMNS))
    by_id = {p["id"]: p for p in procs}
    for g in goods:
        p = by_id[g["production_process"]]
        sources = "; ".join(sorted({e["source"] for e in p["electricity"]})) or "no electricity consumed"
        put([g["production_process"], g["aggregated_goods_category"], cn_digits(g["cn_code"]), None,
             f"{g['name']} ({g['product_id']})", g["see_direct"], g["see_indirect"], g["see_total"], "t CO2e/t",
             g["default_share"], sources, g["embedded_electricity_mwh_per_t"], g["electricity_ef_t_per_mwh"],
             *([None] * 12), *_price_cells(p["carbon_price"], g["see_total"])])
    _inst_data(book, comm, inst, procs)
    _sources(book, procs)
    _processes(book, procs)
    _purchased(book, procs)
    outside = book.create_sheet("Goods_outside_CBAM")
    outside.append(["Product", "Name", "CN code", "Facility", "Why not computed"])
    for o in comm["outside_cbam"]:
        outside.append([o["product_id"], o["name"], o["cn_code"], o["facility"], o["reason"]])
    return book


def _inst_data(book, comm: dict, inst: dict, procs: list[dict]) -> None:  # noqa: ANN001 - openpyxl workbook
    ws = book.create_sheet("A_InstData")
    put = ws.append
    put(["1", "Reporting period", "Start:", comm["period"]["start"], "End:", comm["period"]["end"]])
    put(["2", "About the installation"])
    for label, key in (("Name of the installation (English name):", "name"), ("Street, Number:", "street"),
                       ("Economic activity:", "economic_activity"), ("Post code:", "post_code"), ("City:", "city"),
                       ("Country:", "country"), ("UNLOCODE:", "unlocode"),
                       ("Coordinates of the main emission source (latitude):", "latitude"),
                       ("Coordinates of the main emission source (longitude):", "longitude")):
        put(["", label, inst[key]])
    put(["3", "Verifier of the report"])
    verifier = comm["verifier"] or {}
    for label, key in (("Company Name:", "name"), ("Street, Number:", "street"), ("City:", "city"),
                       ("Postcode/ZIP:", "post_code"), ("Country:", "country"),
                       ("Accreditation Member State:", "accreditation_member_state"),
                       ("Name of the national accreditation body:", "accreditation_body"),
                       ("Registration number issued by the Accreditation body:", "registration_number")):
        put(["", label, verifier.get(key) or ("not verified" if key == "name" else None)])
    put(["4", "Aggregated goods categories and relevant production processes"])
    put(["ID", "Aggregated goods category", "Route 1"])
    for n, p in enumerate(procs, 1):
        put([f"G{n}", p["aggregated_goods_category"], p["production_route"]])
    put(["ID", "Aggregated goods category", "Included goods categories listed under (a)", "Name"])
    for n, p in enumerate(procs, 1):
        put([f"P{n}", p["aggregated_goods_category"], f"G{n}", p["id"]])
    put(["5", "Purchased precursors"])
    put(["ID", "Production process", "Country code", "Route 1", "Name"])
    n = 0
    for p in procs:
        for pr in p["precursors"]:
            if pr["purchased"]:
                n += 1
                category = cn_good(pr["cn_code"])
                put([f"PP{n}", category[1] if category else None, pr["country"], None, f"{pr['item']} ({pr['row']})"])


def _sources(book, procs: list[dict]) -> None:  # noqa: ANN001 - openpyxl workbook
    """B_EmInst (source streams) and C_Emissions&Energy (installation totals) as far as the park data goes."""
    ws = book.create_sheet("B_EmInst")
    ws.append(["Method", "Source stream name", "Production process", "Activity data", "AD unit",
               "Emission factor", "EF unit", "Emissions (tCO2e)", "Park data row", "Source"])
    for p in procs:
        for r in p["direct_emissions"]:
            ws.append([r["method"], r["item"], p["id"], r["activity"], r["activity_unit"], r["ef"], r["ef_unit"],
                       r["t_co2e"] * p["attribution_share"], r["row"], r["source"]])
    ws = book.create_sheet("C_Emissions&Energy")
    put = ws.append
    put(["Parameter", "Value", "Unit"])
    put(["Total direct emissions of the installation's CBAM production processes (excl. imported heat)",
         sum(p["see"]["own_direct_t"] for p in procs), "tCO2e"])
    put(["Imported measurable heat", sum(h["tj"] for p in procs for h in p["measurable_heat"]), "TJ"])
    put(["Emissions of the imported measurable heat", sum(p["see"]["heat_t"] for p in procs), "tCO2e"])
    put(["Electricity consumed", sum(p["see"]["electricity_mwh"] for p in procs), "MWh"])
    put(["Indirect emissions (electricity consumed)", sum(p["see"]["electricity_t"] for p in procs), "tCO2e"])
    put(["Electricity by source", "MWh", "t CO2/MWh", "Source of the emission factor"])
    for p in procs:
        for e in p["electricity"]:
            put([f"{e['item']} ({e['row']}, {p['id']})", e["mwh"], e["ef_t_per_mwh"], e["source"]])


def _processes(book, procs: list[dict]) -> None:  # noqa: ANN001 - openpyxl workbook
    ws = book.create_sheet("D_Processes")
    put = ws.append
    for n, p in enumerate(procs, 1):
        see = p["see"]
        put([n, f"Production process {n}:", p["id"], p["aggregated_goods_category"]])
        put(["(a)", "Total production levels:", "Unit", "Amounts"])
        put(["", "Total production within installation (= denominator for SEE calculation):", "t",
             p["activity_level_t"]])
        put(["(g)", "Directly attributable emissions (DirEm*)", "tCO2e", see["own_direct_t"]])
        put(["(h)", "Import and export of measurable heat", "Unit", "Imported", "Exported"])
        tj = sum(h["tj"] for h in p["measurable_heat"])
        put(["i.", "Amount of net measurable heat", "TJ", tj, 0])
        put(["ii.", "Emissions factor", "tCO2/TJ", see["heat_t"] / tj if tj else None, None])
        put(["(j)", "Indirect emissions from electricity consumption", "Unit", "Value"])
        put(["i.", "Electricity consumption", "MWh", see["electricity_mwh"]])
        put(["ii.", "Emission factor of the electricity", "tCO2/MWh", see["electricity_ef"]])
        put(["iii.", "Source of the emission factor", "-",
             "; ".join(sorted({e["source"] for e in p["electricity"]})) or None])
        put(["(k)", "Electricity exported from the production process", "MWh", 0])
        put([])


def _purchased(book, procs: list[dict]) -> None:  # noqa: ANN001 - openpyxl workbook
    ws = book.create_sheet("E_PurchPrec")
    ws.append(["ID", "Purchased precursor", "Production process using it", "CN code", "Country code",
               "Total amount consumed (t)", "SEE (direct)", "SEE (indirect)", "Unit", "Determination type", "Source"])
    n = 0
    for p in procs:
        for pr in p["precursors"]:
            if pr["purchased"]:
                n += 1
                kind = {"default": "Default value", "actual": "Measured (supplier's communication)",
                        "estimate": "Estimate (not a CBAM communication)"}[pr["data"]]
                ws.append([f"PP{n}", f"{pr['item']} ({pr['row']})", p["id"], cn_digits(pr["cn_code"]), pr["country"],
                           pr["tonnes"], pr["see_direct"], pr["see_indirect"], "t CO2e/t", kind, pr["source"]])


def write(comm: dict, out: Path) -> list[Path]:
    """One workbook per installation: ``out`` itself for one, ``<stem>_<installation>.xlsx`` for several."""
    import io

    from footprint.files import write_atomic

    ids = [i["id"] for i in comm["installations"]]
    paths = [out] if len(ids) == 1 else [out.with_name(f"{out.stem}_{i}{out.suffix or '.xlsx'}") for i in ids]
    books = []
    for inst, path in zip(ids, paths, strict=True):
        buf = io.BytesIO()
        workbook(comm, inst).save(buf)
        books.append((path, buf.getvalue()))
    for path, data in books:
        write_atomic(path, data)
    return paths
