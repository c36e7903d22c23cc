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
from footprint.park.models import Results

PLAUSIBILITY_RATIO = 10.0  # flag intensities more than 10× above or below the park median for the unit
PACT_EXEMPTION_LIMIT = 0.03  # PACT v3: exempted emissions must stay below 3 % of the PCF
ENERGY_CATEGORIES = ("electricity", "heat and steam", "fuels")
GENERIC_WORDS = {"primary", "secondary", "average", "china", "global", "production", "material", "incl", "with"}


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
            + _negative(fg, results) + _exemptions(results))


def _negative(fg: Foreground, results: Results) -> list[Finding]:
    """A negative total claims a net removal; certify refuses it unless self-declared."""
    origin = {o.product_id: o.origin.label for o in fg.park.outputs}
    return [Finding("error", "plausibility", f"{p.product_id}: the total {p.total:.4g} kg CO2e per {p.unit} is "
                                             "negative (a net removal); certify refuses it unless self-declared, "
                                             "and then the certificate says so", [origin[p.product_id]], p.product_id)
            for p in results.products if p.total < 0]


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
        if not by_product[o.product_id]:
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


def _exemptions(results: Results) -> list[Finding]:
    """footprint cuts nothing off: every reported row is counted, so the exempted share is 0 %."""
    return [Finding("info", "exemptions", f"exempted emissions 0 % of every product (PACT v3 limit "
                                          f"{PACT_EXEMPTION_LIMIT:.0%}): all reported rows are included")]
