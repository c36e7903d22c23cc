"""Review checks of a computed park: balance, completeness, plausibility, exemptions.

Each finding has a severity, a short code, a message, and the rows it concerns, so a reviewer
can go straight to the source. Thresholds are stated beside each check.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from footprint.engine.inventory import Foreground
from footprint.park import units
from footprint.park.errors import Problem
from footprint.park.models import ParkData, ProductResult, Results

PLAUSIBILITY_RATIO = 10.0  # flag intensities more than 10× above or below the park median for the unit
BOUNDARY_LIMIT = 0.01  # DESIGN §3 v2: more than 1 % from factors outside cradle-to-gate is not cradle-to-gate
ENERGY_CATEGORIES = ("electricity", "heat and steam", "fuels")
GENERIC_WORDS = {"primary", "secondary", "average", "china", "global", "production", "material", "incl", "with",
                 "factor", "life", "cycle"}


@dataclass
class Finding:
    severity: str  # info | warning | error
    check: str
    message: str
    rows: list[str] = field(default_factory=list)
    product_id: str | None = None


def review(fg: Foreground, results: Results, background: dict[str, tuple[str, str, float]]) -> list[Finding]:
    """All checks of a park; ``background`` maps code → (name, unit, kg CO2e per unit) of open-factors."""
    return (_balance(fg) + _completeness(fg) + _intensity(fg, results) + _factor_ranges(fg, background)
            + _negative(fg, results) + _exemptions(fg, results) + _boundary(results) + _fuels(fg)
            + _data_quality(results))


def _negative(fg: Foreground, results: Results) -> list[Finding]:
    """A negative total claims a net removal; certify refuses it unless self-declared."""
    origin = {o.product_id: o.origin.label for o in fg.park.outputs}
    return [Finding("error", "plausibility", f"{p.product_id}: the total {p.total:.4g} kg CO2e per {p.unit} is "
                                             "negative (a net removal); certify refuses it unless self-declared, "
                                             "and then the certificate says so", [origin[p.product_id]], p.product_id)
            for p in results.products if p.total < 0]


def refusals(park: ParkData, results: Results, product_ids: list[str]) -> list[Problem]:
    """Why these products cannot be certified (DESIGN §3 v2): each problem names its row.

    Exempted share above the park's limit, more than 1 % of the total from factors that are not
    cradle-to-gate, a fuel whose factor includes combustion at a facility reporting that combustion."""
    from footprint.engine.inventory import build_foreground

    wanted = [p for p in results.products if p.product_id in product_ids]
    findings = _exemptions_of(park, wanted) + _boundary(Results.model_construct(products=wanted))
    problems = [Problem(*_where(f.rows), f.product_id, f.message) for f in findings if f.severity == "error"]
    fuels = [f for f in _fuels(build_foreground(park)) if f.severity == "error"]
    problems += [Problem(*_where(f.rows), None, f.message) for f in fuels]
    return problems


def _where(rows: list[str]) -> tuple[str, int | None, str | None]:
    """file, row and column of the first row label of a finding (``file:row``)."""
    if not rows:
        return "park.yaml", None, None
    file, _, row = rows[0].rpartition(":")
    column = {"exclusions.csv": "estimate", "inputs.csv": "ref"}.get(file)
    return file, int(row), column


def _balance(fg: Foreground) -> list[Finding]:
    """Uses of each park product against its output (breaches are refused at loading)."""
    products = {o.product_id: o for o in fg.park.outputs}
    used: dict[str, float] = defaultdict(float)
    rows: dict[str, list[str]] = defaultdict(list)
    for i in fg.park.inputs:
        if i.ref in products:
            used[i.ref] += i.amount * units.factor(i.unit, products[i.ref].unit)
            rows[i.ref].append(i.origin.label)
    return [Finding("info", "balance", f"{pid}: park facilities use {used[pid]:.6g} of {p.amount:.6g} {p.unit} "
                                       f"produced ({used[pid] / p.amount:.1%})", [p.origin.label, *rows[pid]], pid)
            for pid, p in products.items() if pid in used]


def _completeness(fg: Foreground) -> list[Finding]:
    out: list[Finding] = []
    by_product = defaultdict(list)
    for e in fg.exchanges:
        by_product[e.product_id].append(e)
    for o in fg.park.outputs:
        if not by_product[o.product_id] and o.kind == "product":  # waste carries nothing by design
            out.append(Finding("warning", "completeness", f"{o.product_id} has no input and no emission: "
                                                          "its footprint is zero", [o.origin.label], o.product_id))
    energy_rows = {r for e in fg.exchanges if e.category in ENERGY_CATEGORIES for r in e.rows}
    energy_facilities = {i.facility_id for i in fg.park.inputs if i.origin.label in energy_rows}
    energy_facilities |= {e.facility_id for e in fg.park.emissions if e.kind == "combustion"}
    for f in fg.park.facilities:
        if f.facility_id not in energy_facilities:
            out.append(Finding("warning", "completeness", f"facility {f.facility_id} has output but no energy input "
                                                          "(electricity, heat, fuel or combustion)", [f.origin.label]))
    with_transport = {i.ref for i in fg.park.inputs if i.transport_ref}
    for i in fg.park.inputs:
        if i.ref in with_transport and not i.transport_ref and units.dimension(i.unit) in ("mass", "count"):
            others = [j.origin.label for j in fg.park.inputs if j.ref == i.ref and j.transport_ref]
            out.append(Finding("warning", "completeness", f"{i.ref} at {i.facility_id} has no transport, while other "
                                                          f"rows of the same ref have it ({', '.join(others)})",
                               [i.origin.label, *others]))
    return out


def _intensity(fg: Foreground, results: Results) -> list[Finding]:
    """Energy and emission intensity far from the other products of the same declared unit."""
    energy: dict[str, float] = defaultdict(float)
    for e in fg.exchanges:
        if e.kind == "technosphere" and e.category in ENERGY_CATEGORIES and units.dimension(e.unit) == "energy":
            energy[e.product_id] += e.amount * units.factor(e.unit, "MJ")
    out: list[Finding] = []
    by_unit = defaultdict(list)
    for p in results.products:
        by_unit[p.unit].append(p)
    for unit, group in by_unit.items():
        if len(group) < 3:
            continue
        for label, value in (("energy intensity (MJ)", lambda p: energy[p.product_id]),
                             ("emission intensity (kg CO2e)", lambda p: p.total)):
            values = {p.product_id: value(p) for p in group}
            for p in group:
                others = [v for k, v in values.items() if k != p.product_id and v > 0]
                median = statistics.median(others) if others else 0
                v = values[p.product_id]
                if median > 0 and v > 0 and not 1 / PLAUSIBILITY_RATIO <= v / median <= PLAUSIBILITY_RATIO:
                    origin = next(o.origin.label for o in fg.park.outputs if o.product_id == p.product_id)
                    out.append(Finding("warning", "plausibility",
                                       f"{p.product_id}: {label} {v:.4g} per {unit} is {v / median:.3g}× the median "
                                       f"{median:.4g} of the park's other products per {unit}", [origin],
                                       p.product_id))
    return out


def _words(name: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", name.lower()) if w not in GENERIC_WORDS}


def _factor_ranges(fg: Foreground, background: dict[str, tuple[str, str, float]]) -> list[Finding]:
    """A park factor outside the range of background factors for the same item (same unit, shared name word)."""
    out = []
    for f in fg.park.factors:
        value = f.fossil + f.biogenic + f.luc
        peers = [(code, v) for code, (name, unit, v) in background.items()
                 if unit == f.unit and _words(name) & _words(f.name)]
        if not peers:
            continue
        low, high = min(v for _, v in peers), max(v for _, v in peers)
        if not low <= value <= high:
            out.append(Finding("warning", "plausibility",
                               f"factor {f.code} ({value:.4g} kg CO2e/{f.unit}) lies outside the background range "
                               f"{low:.4g}–{high:.4g} of {', '.join(c for c, _ in peers)}", [f.origin.label]))
    return out


def _exemptions(fg: Foreground, results: Results) -> list[Finding]:
    return _exemptions_of(fg.park, results.products)


def _exemptions_of(park: ParkData, products: list[ProductResult]) -> list[Finding]:
    """Exempted share of each product against the park's limit (PACT Pathfinder v2: 5 %), naming the items."""
    limit = park.park.exemption_limit_percent
    out = []
    for p in products:
        if p.exempted_percent is None:
            if park.park.version < 2:
                out.append(Finding("info", "exemptions", f"{p.product_id}: format-1 park, no exclusions declared: "
                                                         "the exempted share is not stated", [], p.product_id))
            continue
        rows = [i.row for i in p.exempted_items]
        items = "; ".join(f"{i.item} ({i.facility_id}, {i.row}: {i.per_unit:.4g} kg CO2e per {p.unit})"
                          for i in p.exempted_items) or "none declared"
        severity = "error" if p.exempted_percent > limit else "info"
        verb = "exceed" if severity == "error" else "within"
        out.append(Finding(severity, "exemptions", f"{p.product_id}: exempted emissions {p.exempted_percent:.2f} % "
                                                   f"({verb} the park's limit of {limit:g} %): {items}", rows,
                           p.product_id))
    return out


def _boundary(results: Results) -> list[Finding]:
    """Factors outside cradle-to-gate: above 1 % of a product's total it cannot be certified as cradle-to-gate."""
    out = []
    for p in results.products:
        share = sum(b.share for b in p.boundary_exceptions)
        if not p.boundary_exceptions:
            continue
        rows = sorted({r for b in p.boundary_exceptions for r in b.rows})
        listing = "; ".join(f"{b.ref} ({b.boundary}, {b.share:.2%}, rows {', '.join(b.rows)})"
                            for b in p.boundary_exceptions)
        severity = "error" if share > BOUNDARY_LIMIT else "warning"
        out.append(Finding(severity, "boundary", f"{p.product_id}: {share:.2%} of the total comes from factors that "
                                                 f"are not cradle-to-gate (limit {BOUNDARY_LIMIT:.0%}): {listing}",
                           rows, p.product_id))
    return out


def _fuels(fg: Foreground) -> list[Finding]:
    """A fuel whose factor includes its combustion gases, at a facility that reports that combustion as
    direct emissions, counts it twice (error); a fuel without any combustion counted is a warning."""
    combustion: dict[str, list[str]] = defaultdict(list)
    for e in fg.park.emissions:
        if e.kind == "combustion":
            combustion[e.facility_id].append(e.origin.label)
    inputs = {i.origin.label: i for i in fg.park.inputs}
    out, seen = [], set()
    for e in fg.exchanges:
        i = inputs.get(e.rows[0])
        if e.kind != "technosphere" or e.leg or e.supplier or e.category != "fuels" or i is None or e.rows[0] in seen:
            continue
        seen.add(e.rows[0])
        t = fg.targets.get(e.target)
        burns = t is not None and t.gases
        if burns and combustion[i.facility_id]:
            out.append(Finding("error", "double counting",
                               f"{i.origin.label} {i.ref}: the factor includes combustion, and facility "
                               f"{i.facility_id} also reports combustion emissions "
                               f"({', '.join(combustion[i.facility_id])}); use the fuel's upstream row",
                               [i.origin.label, *combustion[i.facility_id]]))
        elif not burns and not combustion[i.facility_id]:
            out.append(Finding("warning", "completeness",
                               f"{i.origin.label} {i.ref}: facility {i.facility_id} reports no combustion emission "
                               "and the factor has no combustion gases; check that burning this fuel is counted",
                               [i.origin.label]))
    return out


def _data_quality(results: Results) -> list[Finding]:
    """Factors without PACT data quality ratings, counted as 3 (DESIGN §3 v2)."""
    return [Finding("info", "data quality", f"{p.product_id}: {p.dqi.unrated_share:.1%} of the weight rests on factors "
                                            f"without ratings (counted as 3): {'; '.join(p.dqi.unrated)}", [],
                    p.product_id)
            for p in results.products if p.dqi and p.dqi.unrated]
