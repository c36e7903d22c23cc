"""Electricity of format-2 parks (DESIGN §3 v2): location-based and market-based accounting.

Grid consumption is every electricity input of a facility that is not a park product. The
location-based method values it at the grid's life-cycle factor; the market-based method values
the MWh of certificates the facility retired at their technology's life-cycle factor and the rest
at the residual mix. In-park supply counts at the supplier product's own footprint in both: a
generator's sold attributes plus its in-park supply cannot exceed its generation (checked when
loading), so in-park supply always keeps its attributes.

The park's method is written into the foreground; the other method's exchanges are kept beside
it, so the calculation states both.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from footprint.park import units
from footprint.park.errors import Problem
from footprint.park.models import Input, ParkData

# defaults of park.yaml grid_factor / residual_mix_factor by country, and life-cycle factors of
# generation technologies for retired certificates (rows of inventories/background/open-factors.csv)
GRID_FACTORS = {"CN": "bg:open-factors:grid-cn-2023"}
RESIDUAL_MIXES = {"CN": "bg:open-factors:residual-mix-cn-2023"}
TECHNOLOGY_FACTORS = {
    "CN": {"pv": "bg:open-factors:electricity-pv-cn-2023", "wind": "bg:open-factors:electricity-wind-cn-2023",
           "biomass": "bg:open-factors:electricity-biomass-cn-2023"},
}
METHODS = ("location-based", "market-based")


def other(method: str) -> str:
    return METHODS[1 - METHODS.index(method)]


def candidate_refs(park: ParkData) -> tuple[str, ...]:
    """Every ref a plan of this park may use, so the background targets are read in one query."""
    country = park.park.country
    refs = [park.park.grid_factor or GRID_FACTORS.get(country), park.park.residual_mix_factor or
            RESIDUAL_MIXES.get(country), *TECHNOLOGY_FACTORS.get(country, {}).values()]
    return tuple(r for r in refs if r)


@dataclass
class Plan:
    """For each grid row (input label): the refs it is split into, with fractions, per method."""

    method: str
    splits: dict[str, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    origins: dict[str, tuple[str, int | None, str]] = field(default_factory=dict)  # ref → where it was named

    def refs(self) -> set[str]:
        return {ref for by_method in self.splits.values() for split in by_method.values() for ref, _ in split}


def plan(park: ParkData, grid_rows: list[Input]) -> Plan:
    """Split every grid row by method; located problems for retired MWh above grid use or an unknown
    technology, and for a missing default factor."""
    p = Plan(park.park.electricity_method)
    if not grid_rows:
        return p
    country = park.park.country
    grid = park.park.grid_factor or GRID_FACTORS.get(country)
    residual = park.park.residual_mix_factor or RESIDUAL_MIXES.get(country)
    for key, ref, table in (("grid_factor", grid, GRID_FACTORS), ("residual_mix_factor", residual, RESIDUAL_MIXES)):
        p.origins[ref] = ("park.yaml", None, key)
        if ref is None:
            p.problems.append(Problem("park.yaml", None, key, None,
                                      f"no default for country {country} (defaults exist for {', '.join(table)}); "
                                      "set a ref of the factor, e.g. bg:<code>"))
    used: dict[str, float] = defaultdict(float)  # MWh of grid electricity per facility
    for i in grid_rows:
        used[i.facility_id] += i.amount * units.factor(i.unit, "MWh")
    retired: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    technologies = TECHNOLOGY_FACTORS.get(country, {})
    for c in park.electricity:
        if c.status != "retired":
            continue
        if c.technology not in technologies:
            known = ", ".join(technologies) or "none"
            p.problems.append(Problem(c.origin.file, c.origin.row, "technology", c.technology,
                                      f"no life-cycle factor for this technology in {country} (known: {known})"))
            continue
        retired[c.facility_id][technologies[c.technology]] += c.mwh
        p.origins.setdefault(technologies[c.technology], (c.origin.file, c.origin.row, "technology"))
    for fid, by_ref in retired.items():
        total = sum(by_ref.values())
        if total > used[fid] * (1 + 1e-12):
            rows = [c for c in park.electricity if c.facility_id == fid and c.status == "retired"]
            p.problems.append(Problem(rows[0].origin.file, rows[0].origin.row, "mwh", total,
                                      f"facility {fid} retired certificates for {total:g} MWh but used {used[fid]:g} "
                                      f"MWh of grid electricity (inputs.csv); rows "
                                      f"{', '.join(str(c.origin.row) for c in rows)}"))
    if p.problems:
        return p
    for i in grid_rows:
        by_ref = retired.get(i.facility_id, {})
        covered = sum(by_ref.values()) / used[i.facility_id] if used[i.facility_id] else 0.0
        market = [(ref, mwh / used[i.facility_id]) for ref, mwh in sorted(by_ref.items())]
        if covered < 1:
            market.append((residual, 1.0 - covered))
        p.splits[i.origin.label] = {"location-based": [(grid, 1.0)], "market-based": market}
    return p
