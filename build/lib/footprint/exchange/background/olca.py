"""openLCA 2 JSON-LD (an export zip or its folder): processes, flows, units and elementary flows.

Every amount is converted to its flow's reference unit through the unit groups and flow
properties of the export. Inputs link to their ``defaultProvider``, else to the one process that
makes the flow. A process with several product outputs gets one activity per product with the
allocation factors of its default allocation method; without factors the quantitative reference
keeps the whole burden and the other products are cut off (reported). Elementary flows map by name
and compartment (:mod:`.elementary`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath

from footprint.exchange.background.elementary import Biosphere
from footprint.exchange.background.report import LinkReport, MultiOutput
from footprint.exchange.background.sources import read_members

FOLDERS = ("processes", "flows", "flow_properties", "unit_groups", "locations")
UNITS = {"kg": "kilogram", "t": "ton", "g": "gram", "MJ": "megajoule", "kWh": "kilowatt hour", "GJ": "gigajoule",
         "MWh": "megawatt hour", "m3": "cubic meter", "l": "litre", "L": "litre", "t*km": "ton kilometer",
         "tkm": "ton kilometer", "Item(s)": "unit", "m2": "square meter", "m2*a": "square meter-year"}


def _load(path: Path) -> dict[str, dict[str, dict]]:
    """folder → @id → object, for the folders footprint reads."""
    from footprint.exchange.background import ImportRefused

    out: dict[str, dict[str, dict]] = {f: {} for f in FOLDERS}
    for name, data in read_members(path, (".json",)):
        parts = PurePosixPath(name).parts
        folder = next((p for p in parts[:-1] if p in FOLDERS), None)
        if folder is None:
            continue
        try:
            obj = json.loads(data)
        except ValueError as e:
            raise ImportRefused(f"{path}: {name} is not JSON ({e})") from e
        if isinstance(obj, dict) and obj.get("@id"):
            out[folder][obj["@id"]] = obj
    return out


class _Units:
    """Conversion of an exchange's (unit, flow property) to its flow's reference unit."""

    def __init__(self, data: dict[str, dict[str, dict]]):
        self.unit_factor: dict[str, float] = {}  # unit @id → factor to its group's reference unit
        self.ref_unit: dict[str, str] = {}  # unit group @id → reference unit name
        for group in data["unit_groups"].values():
            for u in group.get("units", []):
                self.unit_factor[u["@id"]] = float(u.get("conversionFactor", 1.0))
                if u.get("isRefUnit") or u.get("referenceUnit"):
                    self.ref_unit[group["@id"]] = u["name"]
        self.group_of = {fp["@id"]: fp.get("unitGroup", {}).get("@id") for fp in data["flow_properties"].values()}

    def flow_unit(self, flow: dict) -> str:
        ref = next((f for f in flow.get("flowProperties", []) if f.get("isRefFlowProperty")), None)
        group = self.group_of.get(ref["flowProperty"]["@id"]) if ref else None
        return self.ref_unit.get(group, flow.get("refUnit", "?"))

    def factor(self, exchange: dict, flow: dict) -> float | None:
        """Multiplier to the flow's reference unit, None when the export lacks what it needs."""
        unit = self.unit_factor.get((exchange.get("unit") or {}).get("@id"))
        if unit is None:
            return None
        prop = (exchange.get("flowProperty") or {}).get("@id")
        for f in flow.get("flowProperties", []):
            if f["flowProperty"]["@id"] == prop or (prop is None and f.get("isRefFlowProperty")):
                return unit / float(f.get("conversionFactor", 1.0))
        return None


def _compartment(flow: dict) -> str | None:
    category = str(flow.get("category") or "").lower()
    for word, compartment in (("resource", "natural resource"), ("air", "air"), ("water", "water"),
                              ("soil", "soil")):
        if word in category:
            return compartment
    return None


def convert(path: Path, db: str, bio: Biosphere, report: LinkReport):
    from footprint.exchange.background import ImportRefused, Parsed

    data = _load(path)
    if not data["processes"]:
        raise ImportRefused(f"{path}: no processes/*.json found (an openLCA 2 JSON-LD export?)")
    units, flows = _Units(data), data["flows"]
    locations = {k: v.get("code") or v.get("name") for k, v in data["locations"].items()}
    products = {pid: _products(p, flows, report) for pid, p in data["processes"].items()}
    makers: dict[str, list[str]] = defaultdict(list)  # product flow @id → activity codes making it
    for outs in products.values():
        for code, flow_id, _ in outs:
            makers[flow_id].append(code)
    datasets = []
    for pid, process in sorted(data["processes"].items()):
        exchanges = []
        for e in process.get("exchanges", []):
            flow = flows.get(e.get("flow", {}).get("@id"), e.get("flow", {}))
            kind, label = flow.get("flowType"), f"{flow.get('name', '?')}"
            factor = units.factor(e, flow) if flow.get("flowProperties") else None
            if factor is None and kind == "ELEMENTARY_FLOW":
                report.elementary_unmapped[f"{label} (its unit is not in the export)"] += 1
                continue
            if factor is None:
                report.unlink("unit or flow property missing from the export", label)
                continue
            amount = float(e.get("amount", 0.0)) * factor
            if kind == "ELEMENTARY_FLOW":
                m = bio.map(flow.get("name", ""), _compartment(flow))
                if m.code:
                    report.elementary_mapped += 1
                    exchanges.append({"input": ("biosphere3", m.code), "amount": amount, "type": "biosphere"})
                    if m.ghg:
                        report.ghg_mapped.setdefault(m.ghg, Counter())[flow["name"]] += 1
                elif m.dropped:
                    entry = report.ghg_dropped.setdefault(flow["name"], {"exchanges": 0, "reason": m.dropped[0],
                                                                         "stand_in_kg_co2e_per_kg": m.dropped[1]})
                    entry["exchanges"] += 1
                else:
                    report.elementary_unmapped[f"{flow.get('name')} ({flow.get('category', '')})"] += 1
            elif e.get("isInput") and kind == "PRODUCT_FLOW":
                provider, problem = _provider(e, flow, products, makers)
                if provider is None:
                    report.unlink(problem, label)
                    continue
                report.technosphere_linked += 1
                exchanges.append({"input": (db, provider), "amount": amount, "type": "technosphere",
                                  "name": flow.get("name")})
            elif kind == "WASTE_FLOW":
                report.unlink("waste flow (treatment is not linked by footprint)", label)
        for code, flow_id, share in products[pid]:
            flow = flows[flow_id]
            ref = next(e for e in process["exchanges"]
                       if e.get("flow", {}).get("@id") == flow_id and not e.get("isInput"))
            unit = units.flow_unit(flow)
            datasets.append({
                "code": code, "name": flow["name"], "reference product": flow["name"], "unit": UNITS.get(unit, unit),
                "location": locations.get((process.get("location") or {}).get("@id"))
                or (process.get("location") or {}).get("name", "GLO"),
                "type": "process", "process": pid, "process name": process.get("name"), "allocation_share": share,
                "exchanges": [{"input": (db, code), "amount": float(ref["amount"]) * units.factor(ref, flow),
                               "type": "production"},
                              *({**x, "amount": x["amount"] * share} for x in exchanges)],
            })
    report.datasets_read = len(data["processes"])
    return Parsed(datasets, {}, f"openLCA JSON-LD data from {path.name}")


def _products(process: dict, flows: dict, report: LinkReport) -> list[tuple[str, str, float]]:
    """(activity code, product flow @id, share of the burden) of each product a process makes."""
    outputs = [e for e in process.get("exchanges", []) if not e.get("isInput")
               and flows.get(e.get("flow", {}).get("@id"), {}).get("flowType") == "PRODUCT_FLOW"]
    reference = next((e for e in outputs if e.get("isQuantitativeReference")), outputs[0] if outputs else None)
    if reference is None:
        return []
    pid = process["@id"]
    if len(outputs) == 1:
        return [(pid, reference["flow"]["@id"], 1.0)]
    method = process.get("defaultAllocationMethod")
    factors = {f["product"]["@id"]: float(f["value"]) for f in process.get("allocationFactors", [])
               if f.get("allocationType") == method and not f.get("exchange")}
    ids = [e["flow"]["@id"] for e in outputs]
    if method and all(i in factors for i in ids):
        rule = f"allocated by the export's {method.lower().replace('_', ' ')} factors"
        out = [(pid if e is reference else f"{pid}-{e['flow']['@id']}", e["flow"]["@id"], factors[e["flow"]["@id"]])
               for e in outputs]
        cut = []
    else:
        rule = "no allocation factors: the quantitative reference keeps the whole burden"
        out = [(pid, reference["flow"]["@id"], 1.0)]
        cut = [(flows[e["flow"]["@id"]]["name"], float(e.get("amount", 0)), e.get("unit", {}).get("name", ""))
               for e in outputs if e is not reference]
    report.multi_output.append(MultiOutput(pid, process.get("name", ""), rule,
                                           [(c, flows[f]["name"], s) for c, f, s in out], cut))
    return out


def _provider(e: dict, flow: dict, products: dict, makers: dict) -> tuple[str | None, str]:
    """The activity an input links to (its default provider's for this flow, else the only maker), or why not."""
    default = (e.get("defaultProvider") or {}).get("@id")
    for code, flow_id, _ in products.get(default, []):
        if flow_id == flow["@id"]:
            return code, ""
    candidates = makers.get(flow["@id"], [])
    if len(candidates) == 1:
        return candidates[0], ""
    return None, ("no default provider and several processes make it" if candidates else "no provider in the export")
