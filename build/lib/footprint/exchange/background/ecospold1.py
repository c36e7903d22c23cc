"""EcoSpold 1 (USLCI and other openLCA exports), read leniently and linked by flow number.

bw2io's ``SingleOutputEcospold1Importer`` refuses the USLCI release (its schema validation fails
17,835 times), and with validation off it names datasets by a hash of name, category and location,
so 639 datasets collapse into 415 keys, and links by name, so 7 of 45,656 edges link. Here:

- every ``<dataset>`` is one activity whose code is its own ``number``;
- an input links to the dataset whose reference output has the same flow ``number`` (EcoSpold 1
  gives every flow one number across the file), converting units of the same dimension; when
  several datasets supply the flow (81 regional grids supply "Electricity, at grid"), the rule in
  :func:`_choose` picks one and the report says which;
- a dataset with by-products (``outputGroup`` 2) is made single-output by :func:`_split`;
- elementary flows map to biosphere3 by :mod:`.elementary`.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from footprint.exchange.background.elementary import Biosphere
from footprint.exchange.background.report import LinkReport, MultiOutput
from footprint.exchange.background.sources import read_members

NS = "{http://www.EcoInvent.org/EcoSpold01}"

# Unit symbol → (Brightway name, dimension, factor to the dimension's base unit).
UNITS = {
    "kg": ("kilogram", "mass", 1.0), "g": ("gram", "mass", 1e-3), "mg": ("milligram", "mass", 1e-6),
    "t": ("ton", "mass", 1e3), "MJ": ("megajoule", "energy", 1.0), "kJ": ("kilojoule", "energy", 1e-3),
    "GJ": ("gigajoule", "energy", 1e3), "kWh": ("kilowatt hour", "energy", 3.6),
    "MWh": ("megawatt hour", "energy", 3600.0),
    "l": ("litre", "volume", 1e-3), "m3": ("cubic meter", "volume", 1.0), "t*km": ("ton kilometer", "freight", 1.0),
    "kg*km": ("kilogram kilometer", "freight", 1e-3), "t*mi": ("ton mile", "freight", 1.609344),
    "m2": ("square meter", "area", 1.0), "m2*a": ("square meter-year", "area time", 1.0),
    "m3*a": ("cubic meter-year", "volume time", 1.0), "p*km": ("person kilometer", "person transport", 1.0),
    "Item(s)": ("unit", "count", 1.0), "m": ("meter", "length", 1.0), "h": ("hour", "time", 1.0),
    "kBq": ("kilo Becquerel", "radioactivity", 1.0), "Bq": ("Becquerel", "radioactivity", 1e-3),
}
# Densities, kg/L, from GREET's fuel specifications (g per US gallon ÷ 3.785; natural gas 22 g/ft3):
# the volumes the mass allocation of the refinery and the links of natural gas in m3 to kg need.
DENSITIES = {"gasoline": 0.745, "diesel": 0.837, "kerosene": 0.805, "liquefied petroleum gas": 0.508,
             "residual fuel oil": 0.991, "natural gas": 0.000777}
NATIONAL = {"us", "usa", "united states"}
CHOICE_RULE = ("the exchange's own location first, then a national dataset (geography 'US' or 'United States'), "
               "then the latest time period, then the lowest dataset number")


@dataclass
class Flow:
    """One ``<exchange>`` as read."""

    number: str
    name: str
    unit: str
    amount: float
    location: str | None
    category: str
    sub: str
    group: str  # "out0".."out4", "in4", "in5"

    @property
    def label(self) -> str:
        return f"{self.name} [{self.unit}]"


@dataclass
class Dataset:
    number: str
    name: str
    location: str
    geography: str
    classification: str
    end_date: str
    comment: str
    flows: list[Flow] = field(default_factory=list)

    @property
    def reference(self) -> Flow:
        return next(f for f in self.flows if f.group == "out0")


def read(path: Path) -> list[Dataset]:
    """Every dataset of an EcoSpold 1 XML file, a folder of them or a zip, parsed leniently."""
    from lxml import etree

    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=True)
    datasets = []
    for _name, data in read_members(path, (".xml",)):
        root = etree.fromstring(data, parser)
        if root is None or not root.tag.endswith("ecoSpold"):
            continue
        datasets += [_dataset(d) for d in root.iter(f"{NS}dataset")]
    return [d for d in datasets if d is not None]


def _dataset(d) -> Dataset | None:
    rf = d.find(f".//{NS}referenceFunction")
    geo = d.find(f".//{NS}geography")
    if rf is None:
        return None
    end = d.findtext(f".//{NS}timePeriod/{NS}endDate") or ""
    ds = Dataset(d.get("number", ""), rf.get("name", ""), geo.get("location", "GLO") if geo is not None else "GLO",
                 (geo.get("text") or "").strip() if geo is not None else "",
                 f"{rf.get('category', '')} / {rf.get('subCategory', '')}", end[:10],
                 (rf.get("generalComment") or "").strip()[:2000])
    for e in d.iter(f"{NS}exchange"):
        out, inp = e.findtext(f"{NS}outputGroup"), e.findtext(f"{NS}inputGroup")
        group = f"out{out.strip()}" if out is not None else f"in{(inp or '').strip()}"
        try:
            amount = float(e.get("meanValue", "nan"))
        except ValueError:
            amount = float("nan")
        ds.flows.append(Flow(e.get("number", ""), e.get("name", ""), e.get("unit", ""), amount, e.get("location"),
                             e.get("category", ""), e.get("subCategory", ""), group))
    return ds if any(f.group == "out0" for f in ds.flows) else None


def _compartment(f: Flow) -> tuple[str | None, str | None]:
    """EcoSpold 1 (category, subCategory) of an elementary flow → (biosphere3 compartment, sub)."""
    if f.group == "in4":
        return "natural resource", None
    cat, sub = f.category.lower(), f.sub.lower()
    top = sub if cat == "emission" else cat
    if top in ("air", "troposphere", "stratosphere", "rural", "urban"):
        return "air", None
    if top in ("water", "fresh water body", "saline water body"):
        return "water", None
    if top in ("ground", "soil", "human-dominated", "terrestrial"):
        return "soil", None
    if top == "resource":
        return "natural resource", None
    return None, None


@dataclass
class Product:
    code: str
    flow: Flow
    share: float


def _split(ds: Dataset, consumed: set[str], report: LinkReport) -> list[Product]:
    """Make a dataset single-output.

    Rule: the products are the reference output and each by-product that another dataset of the
    database consumes; other by-products (field residues, trace tar, water passing through,
    recovered energy, scrap nobody uses) carry no burden (cut-off). The burden is shared by mass
    when every product has one (litres of refinery products by GREET densities), else by energy
    when every product is energy, else the reference product keeps it all and the used by-products
    are supplied burden-free.
    """
    ref = ds.reference
    byproducts = [f for f in ds.flows if f.group == "out2"]
    if not byproducts:
        return [Product(ds.number, ref, 1.0)]
    used = [f for f in byproducts if f.number in consumed and f.number != ref.number]
    cut = [(f.name, f.amount, f.unit) for f in byproducts if f not in used]
    outputs = [ref, *used]
    basis = next((b for b in ("mass", "energy") if all(_quantity(f, b) is not None for f in outputs)), None)
    if len(outputs) == 1:
        rule = "by-products unused in the database carry no burden"
        shares = [1.0]
    elif basis:
        quantities = [_quantity(f, basis) for f in outputs]
        rule = f"allocated by {basis}; unused by-products carry no burden"
        shares = [q / sum(quantities) for q in quantities]
    else:
        rule = "no common physical basis: the reference product keeps the whole burden, by-products are burden-free"
        shares = [1.0] + [0.0] * len(used)
    products = [Product(ds.number if f is ref else f"{ds.number}-{f.number}", f, s) for f, s in zip(outputs, shares)]
    report.multi_output.append(MultiOutput(ds.number, ds.name, rule, [(p.code, p.flow.name, p.share) for p in products],
                                           cut))
    return products


def _quantity(f: Flow, basis: str) -> float | None:
    if f.unit not in UNITS:
        return None
    _, dim, factor = UNITS[f.unit]
    if basis == "mass" and dim == "volume":
        density = _density(f.name)
        return f.amount * factor * 1000 * density if density else None
    return f.amount * factor if dim == basis else None


def _choose(candidates: list[tuple[Dataset, Product]], location: str | None) -> tuple[Dataset, Product]:
    """Several datasets supply one flow: the rule of ``CHOICE_RULE``."""
    def rank(c: tuple[Dataset, Product]) -> tuple:
        ds = c[0]
        return (ds.location == location, ds.geography.lower().strip(". ") in NATIONAL, ds.end_date,
                -int(ds.number) if ds.number.isdigit() else 0)

    return max(candidates, key=rank)


def convert(datasets: list[Dataset], db: str, bio: Biosphere, report: LinkReport) -> tuple[list[dict], dict]:
    """Brightway datasets of ``db`` and, per activity code, the stand-in kg CO2e of dropped gases per run."""
    report.datasets_read = len(datasets)
    usable, numbers = [], set()
    for ds in datasets:  # a dataset that makes nothing (or NaN), or twice under one number, cannot be an activity
        if not math.isfinite(ds.reference.amount) or ds.reference.amount == 0:
            report.notes.append(f"Dataset {ds.number} {ds.name!r} not written: its reference amount is "
                                f"{ds.reference.amount!r}.")
        elif ds.number in numbers:
            report.notes.append(f"Dataset {ds.number} {ds.name!r} not written: a second dataset with that number.")
        else:
            usable.append(ds)
            numbers.add(ds.number)
    datasets = usable
    consumed = {f.number for ds in datasets for f in ds.flows if f.group == "in5"}
    products = {ds.number: _split(ds, consumed, report) for ds in datasets}
    providers: dict[str, list[tuple[Dataset, Product]]] = defaultdict(list)
    for ds in datasets:
        for p in products[ds.number]:
            providers[p.flow.number].append((ds, p))
    chosen: dict[tuple[str, str | None], tuple[Dataset, Product]] = {}
    ambiguous: dict[tuple[str, str | None], dict] = {}
    out, dropped = [], {}
    for ds in datasets:
        exchanges, ghg_dropped = [], 0.0
        for f in ds.flows:
            if not math.isfinite(f.amount) and f.group in ("in5", "out3"):
                report.unlink("amount is not a number", f.label)
            elif not math.isfinite(f.amount):
                report.elementary_unmapped[f"{f.name} (amount is not a number)"] += 1
            elif f.group in ("in5", "out3"):
                link = _link(ds, f, providers, chosen, ambiguous, report)
                if link:
                    exchanges.append({"input": (db, link[0]), "amount": f.amount * link[1], "type": "technosphere",
                                      "name": f.name, "unit_as_given": f.unit})
            elif f.group in ("in4", "out4"):
                compartment, sub = _compartment(f)
                m = bio.map(f.name, compartment, sub)
                if m.code:
                    report.elementary_mapped += 1
                    exchanges.append({"input": ("biosphere3", m.code), "amount": f.amount, "type": "biosphere",
                                      "name": f.name})
                    if m.ghg:
                        report.ghg_mapped.setdefault(m.ghg, Counter())[f.name] += 1
                elif m.dropped:
                    entry = report.ghg_dropped.setdefault(f.name, {"exchanges": 0, "reason": m.dropped[0],
                                                                   "stand_in_kg_co2e_per_kg": m.dropped[1]})
                    entry["exchanges"] += 1
                    ghg_dropped += f.amount * m.dropped[1]
                else:
                    report.elementary_unmapped[f"{f.name} ({f.category}/{f.sub})"] += 1
        for p in products[ds.number]:
            unit = UNITS.get(p.flow.unit, (p.flow.unit,))[0]
            acts = [{**e, "amount": e["amount"] * p.share} for e in exchanges]
            out.append({
                "code": p.code, "name": p.flow.name, "reference product": p.flow.name, "unit": unit,
                "location": ds.location, "geography": ds.geography, "sector": ds.classification,
                "type": "process", "dataset": ds.number, "allocation_share": p.share, "comment": ds.comment,
                "exchanges": [{"input": (db, p.code), "amount": p.flow.amount, "type": "production"}, *acts],
            })
            if ghg_dropped:
                dropped[p.code] = ghg_dropped * p.share
    report.ambiguous += ambiguous.values()
    if ambiguous:
        report.notes.append(f"Where several datasets supply one flow, the link goes by {CHOICE_RULE}.")
    report.datasets_written = len(out)
    return out, dropped


def _link(ds: Dataset, f: Flow, providers: dict, chosen: dict, ambiguous: dict,
          report: LinkReport) -> tuple[str, float] | None:
    """(provider code, unit factor) for an input, or None with the reason counted in the report."""
    candidates = providers.get(f.number)
    if not candidates:
        where = f"{f.category} {f.sub}".lower()
        if "cutoff" in where.replace("-", "").replace(" ", ""):
            report.unlink("cut-off flow (the database marks it CUTOFF)", f.label)
        elif "ecosystem services" in where:
            report.unlink("land transformation given as a product flow (Ecosystem Services); no provider", f.label)
        elif f.group == "out3":
            report.unlink("waste to treatment with no treatment dataset", f.label)
        else:
            report.unlink("no provider in this database", f.label)
        return None
    reference = [c for c in candidates if c[1].code == c[0].number] or candidates
    key = (f.number, f.location)
    if len(reference) > 1:
        if key not in chosen:
            chosen[key] = best, p = _choose(reference, f.location)
            ambiguous[key] = {"flow": f.name, "flow_number": f.number, "location": f.location,
                              "candidates": len(reference), "exchanges": 0,
                              "chosen": f"{p.code} ({(best.geography or best.location)[:60]})"}
        ambiguous[key]["exchanges"] += 1
    _, p = chosen.get(key, reference[0])
    factor = _factor(f.unit, p.flow.unit, p.flow.name)
    if factor is None:
        report.unlink(f"unit mismatch (given in {f.unit}, the provider's unit is {p.flow.unit})", f.label)
        return None
    if p.code == ds.number and f.amount * factor >= p.flow.amount:
        report.unlink("the dataset's own product as an input, at least as much as it makes (no net output)", f.label)
        return None
    report.technosphere_linked += 1
    if f.unit != p.flow.unit:
        report.technosphere_converted += 1
        report.conversions[f"{f.unit} -> {p.flow.unit}"] += 1
    return p.code, factor


def _factor(given: str, wanted: str, product: str) -> float | None:
    """given → wanted unit; volume and mass convert only for a product with a density above."""
    if given == wanted:
        return 1.0
    a, b = UNITS.get(given), UNITS.get(wanted)
    if not a or not b:
        return None
    if a[1] == b[1]:
        return a[2] / b[2]
    density = _density(product) if {a[1], b[1]} == {"mass", "volume"} else None
    if density is None:
        return None
    return a[2] * 1000 * density / b[2] if a[1] == "volume" else a[2] / (1000 * density) / b[2]


def _density(name: str) -> float | None:
    return next((v for k, v in DENSITIES.items() if name.lower().startswith(k)), None)


def publication(path: Path) -> str:
    """What a certificate names as the source of this database."""
    m = re.search(r"uslci_fy(\d\d)_q(\d)_(\d\d)", path.name, re.I)
    if m:
        return (f"U.S. Life Cycle Inventory Database (USLCI), FY{m[1]} Q{m[2]}.{m[3]} release, EcoSpold 1 "
                "export, National Renewable Energy Laboratory / Federal LCA Commons")
    return f"EcoSpold 1 data from {path.name}"
