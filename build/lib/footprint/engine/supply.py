"""What a park product carries through the park's supply chain besides its footprint (DESIGN §3
"Rules of version 2"): primary data share, data quality, exempted emissions, factors outside the
cradle-to-gate boundary, GWP sets, allocations and the other electricity method.

Each is a quantity of a product's own leaves (direct emissions, purchased items, transport legs,
exclusions) carried to the products that use it exactly as the footprint is: with P the park
products' block of the technosphere matrix, x solves Pᵀx = d, where d holds each product's own
amounts per declared unit. One factorisation of P serves every quantity (one right-hand side each),
so loops are solved, not truncated.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from scipy.sparse.linalg import splu

from footprint.engine.inventory import Exchange, Foreground, Key, Target
from footprint.park.models import (
    AllocationAlternative,
    AllocationDisclosure,
    BoundaryException,
    Dqi,
    Electricity,
    ExemptedItem,
    Output,
)

ENERGY = ("electricity", "heat and steam", "fuels")
UNRATED = 3  # PACT 3: a factor without ratings rates 3 on each indicator (and is listed as unrated)
DISCLOSE = 0.01  # an allocation that moves more than 1 % of a product's total is disclosed
GWP_ORDER = ("AR6", "AR5", "AR4", "unknown")
C_TO_CO2 = 44.0 / 12.0


class Leaves:
    """Every leaf of the park's products (direct emissions, purchased items, transport legs: the exchanges not
    with a park product), in product order, with kg CO2e by part and kg biogenic CO2 per declared unit (before
    a product's self-use is divided out) as arrays, so that per-product sums are one array operation each."""

    def __init__(self, exchanges: list[Exchange], targets: list[Target | None], product: np.ndarray,
                 raw: np.ndarray, bco2: np.ndarray):
        self.exchanges, self.targets, self.product, self.raw, self.bco2 = exchanges, targets, product, raw, bco2
        self.total = raw.sum(axis=1) if len(raw) else np.zeros(0)  # kg CO2e, all three parts
        self.pcf = self.total + bco2  # each leaf's part of PACT's pcfExcludingBiogenicUptake

    def __len__(self) -> int:
        return len(self.exchanges)

    def per_product(self, values: np.ndarray, n: int) -> np.ndarray:
        """Sum of ``values`` (one per leaf) for each of n products, added in leaf order from 0 (np.bincount adds
        its weights in input order: the same floats as a loop)."""
        return np.bincount(self.product, weights=values, minlength=n) if len(self) else np.zeros(n)


def primary_fraction(e: Exchange, t: Target | None) -> float:
    """Primary share of one leaf (DESIGN §3 v2): (a) a direct emission; (b) the facility's own
    measured energy use; (d) a measured purchase whose factor is a supplier-specific PCF, in the
    proportion of that PCF's own share; a transport leg likewise with its carrier's own factor.
    Everything else, whatever its activity data, is secondary. (c), park products, is the carrying."""
    if e.kind == "biosphere":
        return 1.0
    if e.data_type != "primary":
        return 0.0
    if not e.leg and e.category in ENERGY:
        return 1.0
    if t is not None and t.data_type == "primary":
        return 1.0 if t.pds is None else t.pds
    return 0.0


def quality(e: Exchange, t: Target | None) -> tuple[tuple[int, int, int], bool]:
    """(TeR, GeR, TiR) of one leaf and whether it is unrated: primary activity data with a specific
    factor (or a measured direct emission) rates 1; a factor's own ratings; else 3, unrated."""
    if e.kind == "biosphere" or (e.data_type == "primary" and t is not None and t.data_type == "primary"):
        return (1, 1, 1), False
    if t is not None and None not in (t.ter, t.ger, t.tir):
        return (t.ter, t.ger, t.tir), False
    return (UNRATED, UNRATED, UNRATED), True


def ref_of(key: Key, fg: Foreground) -> str:
    """A target as park data names it: factor:<code> for a park factor, else <database>:<code>."""
    return key[1] if key[0] == fg.database else ":".join(key)


class Chain:
    """The park products' supply chain: carries per-product quantities to their users."""

    def __init__(self, fg: Foreground, P, pids: list[str], leaves: Leaves):
        self.fg, self.pids, self.leaves = fg, pids, leaves
        self.index = {p: n for n, p in enumerate(pids)}
        self.P = P
        self._lu = splu(P.T.tocsc())
        suppliers: dict[str, set[str]] = defaultdict(set)
        for e in fg.exchanges:
            if e.supplier and e.supplier != e.product_id:
                suppliers[e.product_id].add(e.supplier)
        self.upstream = {p: _closure(p, suppliers) for p in pids}

    def carry(self, d: np.ndarray) -> np.ndarray:
        """x with Pᵀx = d: each column of d carried through park supply and loops."""
        return self._lu.solve(d) if d.shape[1] else d

    def shares(self, sol) -> Shares:  # noqa: ANN001 - calculation.Solution (which imports this module)
        return Shares(self, sol)


class Shares:
    """Every carried quantity of every product, from one solve with many right-hand sides."""

    def __init__(self, chain: Chain, sol):  # noqa: ANN001 - calculation.Solution
        fg, n, leaves = chain.fg, len(chain.pids), chain.leaves
        self.chain, self.fg = chain, fg
        self.excl = list(fg.park.exclusions)
        self.boundary = sorted({e.target for e, t in zip(leaves.exchanges, leaves.targets)
                                if t is not None and t.boundary != "cradle-to-gate"})
        outs: dict[str, list[str]] = defaultdict(list)
        for o in fg.park.outputs:
            if o.kind == "product":
                outs[o.facility_id].append(o.product_id)
        self.allocating = [fid for fid, ps in outs.items() if len(ps) > 1]
        self.facilities = {f.facility_id: f for f in fg.park.facilities}
        self.outs = outs
        base = 7
        D = np.zeros((n, base + len(self.excl) + len(self.boundary) + len(self.allocating)))
        bcol = {k: base + len(self.excl) + m for m, k in enumerate(self.boundary)}
        acol = {fid: base + len(self.excl) + len(self.boundary) + m for m, fid in enumerate(self.allocating)}
        owner = [o.facility_id for o in fg.park.outputs]  # by product position
        rated = [quality(e, t) for e, t in zip(leaves.exchanges, leaves.targets)]
        scores = np.array([r[0] for r in rated], dtype=np.float64).reshape(-1, 3)
        unrated = np.array([r[1] for r in rated], dtype=bool)
        primary = np.array([primary_fraction(e, t) for e, t in zip(leaves.exchanges, leaves.targets)])
        weight = np.abs(leaves.pcf)
        D[:, 0] = leaves.per_product(primary * leaves.pcf, n)
        D[:, 1] = leaves.per_product(weight, n)
        for i in range(3):
            D[:, 2 + i] = leaves.per_product(weight * scores[:, i], n)
        D[:, 5] = leaves.per_product(np.where(unrated, weight, 0.0), n)
        self.unrated: dict[str, set[str]] = defaultdict(set)
        for k in np.flatnonzero(unrated & (weight != 0)).tolist():
            self.unrated[chain.pids[leaves.product[k]]].add(leaves.exchanges[k].label)
        # a leaf's kg CO2e in the column of its target outside the boundary, and of its facility if it allocates
        cells = [(j, bcol[e.target], k) for k, (e, j) in enumerate(zip(leaves.exchanges, leaves.product.tolist()))
                 if e.target in bcol]
        cells += [(j, acol[owner[j]], k) for k, j in enumerate(leaves.product.tolist()) if owner[j] in acol]
        if cells:  # np.add.at adds in the order given: each cell's leaves in leaf order (its cells are one kind)
            rows, columns, which = (np.array(c, dtype=np.int64) for c in zip(*cells))
            np.add.at(D, (rows, columns), leaves.total[which])
        self._boundary_rows: dict[tuple[str, Key], set[str]] = defaultdict(set)
        for e, j in zip(leaves.exchanges, leaves.product.tolist()):
            if e.target in bcol:
                self._boundary_rows[(chain.pids[j], e.target)].update(e.rows)
        for pid, target, amount, sign in fg.alternative:
            D[chain.index[pid], 6] += sign * amount * float(sol.h[sol.index(target)].sum())
        for m, x in enumerate(self.excl):
            for pid, items in fg.exempted.items():
                D[chain.index[pid], base + m] += sum(v for item, v in items if item is x)
        self.x = chain.carry(D)
        self.bcol, self.acol, self.base = bcol, acol, base
        self.allocating_cols = np.array([acol[fid] for fid in self.allocating], dtype=np.int64)
        # the largest share any allocation moved to each product: most products have none to disclose
        self._largest_moved = np.abs(self.x[:, self.allocating_cols]).max(axis=1, initial=0.0)
        self._gwp: list[set[str]] = [set() for _ in range(n)]  # GWP sets of each product's own leaves
        for e, t, j in zip(leaves.exchanges, leaves.targets, leaves.product.tolist()):
            if e.amount != 0:
                self._gwp[j].update(("AR6",) if e.kind == "biosphere" or t is None else t.gwp_sets)

    def format2(self, n: int, o: Output, total: float, bco2: float) -> dict:
        """The format-2 fields of ProductResult for product n."""
        fg, x, pid = self.fg, self.x[n].tolist(), self.chain.pids[n]  # Python floats: the same values, faster
        pcf = total + bco2
        items = [ExemptedItem(facility_id=e.facility_id, item=e.item, estimate=e.estimate,
                              per_unit=float(x[self.base + m]), basis=e.basis, source=e.source, row=e.origin.label)
                 for m, e in enumerate(self.excl) if x[self.base + m] > 0]
        exempted = float(sum(i.per_unit for i in items))
        percent = None
        if fg.park.park.version >= 2 and pcf + exempted > 0:
            percent = 100.0 * exempted / (pcf + exempted)
        uptake = None if o.biogenic_carbon_kg is None else o.biogenic_carbon_kg * C_TO_CO2
        electricity = None
        if fg.electricity_method:
            other = total + float(x[6])
            location, market = (total, other) if fg.electricity_method == "location-based" else (other, total)
            electricity = Electricity(method=fg.electricity_method, location_based=location, market_based=market)
        dqi = None
        if x[1] > 0:
            dqi = Dqi(ter=float(x[2] / x[1]), ger=float(x[3] / x[1]), tir=float(x[4] / x[1]),
                      unrated_share=max(0.0, float(x[5] / x[1])) + 0.0,  # no solver noise below 0
                      unrated=sorted(set().union(*(self.unrated[p] for p in self.chain.upstream[pid]))))
        return {
            "primary_data_share": 0.0 if pcf <= 0 else min(max(float(x[0]) / pcf, 0.0), 1.0),
            "exempted": exempted, "exempted_percent": percent, "exempted_items": items, "biogenic_co2": bco2,
            "biogenic_uptake": uptake, "pcf_excluding_biogenic_uptake": pcf,
            "pcf_including_biogenic_uptake": None if uptake is None else pcf - uptake,
            "fossil_carbon_content": o.fossil_carbon_kg, "biogenic_carbon_content": o.biogenic_carbon_kg,
            "electricity": electricity, "dqi": dqi, "gwp_sets": self._gwp_sets(pid),
            "allocations": self._allocations(n, total), "boundary_exceptions": self._boundary(n, pid, total),
        }

    def alternatives(self) -> dict[str, list[AllocationAlternative]]:
        """Every product's total under each other basis available at each allocating facility.

        Under another basis the facility's product j carries k = s'_j / s_j times its inputs, emissions
        and self-use: column j of P (off-diagonal uses, and 1 − diagonal) and its own leaves scale by k.
        The park block is small, so each basis is one dense solve; loops are solved, not approximated."""
        fg, chain = self.fg, self.chain
        d = chain.leaves.per_product(chain.leaves.total, len(chain.pids))
        dense = chain.P.toarray()
        outputs = {o.product_id: o for o in fg.park.outputs}
        out: dict[str, list[AllocationAlternative]] = defaultdict(list)
        for fid in self.allocating:
            members = [outputs[p] for p in self.outs[fid]]
            current = {p: fg.allocations[p].share for p in self.outs[fid]}
            for basis, shares in _bases(members).items():
                if basis == fg.allocations[members[0].product_id].basis or any(v <= 0 for v in current.values()):
                    continue
                Pk, dk = dense.copy(), d.copy()
                for pid, share in shares.items():
                    j, k = chain.index[pid], share / current[pid]
                    diag = Pk[j, j]
                    Pk[:, j] *= k
                    Pk[j, j] = 1.0 - k * (1.0 - diag)
                    dk[j] *= k
                totals = np.linalg.solve(Pk.T, dk)
                for n, pid in enumerate(chain.pids):
                    if fid in {outputs[p].facility_id for p in chain.upstream[pid]}:
                        out[pid].append(AllocationAlternative(facility_id=fid, basis=basis, shares=shares,
                                                              total=float(totals[n])))
        return out

    def _gwp_sets(self, pid: str) -> list[str]:
        index = self.chain.index
        sets = set().union(*(self._gwp[index[p]] for p in self.chain.upstream[pid]))
        return [g for g in GWP_ORDER if g in sets]

    def _allocations(self, n: int, total: float) -> list[AllocationDisclosure]:
        if total <= 0 or not self.allocating or not self._largest_moved[n] > DISCLOSE * total:
            return []
        moved = self.x[n, self.allocating_cols]
        out = []
        for m in np.flatnonzero(np.abs(moved) > DISCLOSE * total):
            fid = self.allocating[m]
            f = self.facilities[fid]
            out.append(AllocationDisclosure(
                facility_id=fid, facility=f.name, basis=f.allocation or "", reason=f.allocation_reason,
                shares={p: self.fg.allocations[p].share for p in self.outs[fid]}, moved=float(moved[m]),
                moved_share=float(moved[m]) / total))
        return sorted(out, key=lambda a: -abs(a.moved))

    def _boundary(self, n: int, pid: str, total: float) -> list[BoundaryException]:
        out = []
        for key in self.boundary:
            value = float(self.x[n, self.bcol[key]])
            if value == 0:
                continue
            t = self.fg.targets[key]
            rows = sorted(set().union(*(self._boundary_rows.get((p, key), ()) for p in self.chain.upstream[pid])))
            out.append(BoundaryException(ref=ref_of(key, self.fg), name=t.name, boundary=t.boundary,
                                         contribution=value, share=value / total if total else 1.0, rows=rows))
        return sorted(out, key=lambda b: -abs(b.contribution))


def _bases(outputs: list[Output]) -> dict[str, dict[str, float]]:
    """Shares under every basis the outputs give values for: mass, economic, each physical column."""
    columns = {"mass": lambda o: o.mass_kg, "economic": lambda o: o.price}
    for name in set.intersection(*(set(o.physical) for o in outputs)):
        columns[f"physical:{name}"] = lambda o, name=name: o.physical[name]
    out = {}
    for basis, value in columns.items():
        weights = [o.amount * value(o) if value(o) is not None else None for o in outputs]
        if None not in weights and sum(weights) > 0:
            out[basis] = {o.product_id: w / sum(weights) for o, w in zip(outputs, weights)}
    return out


def _closure(pid: str, suppliers: dict[str, set[str]]) -> set[str]:
    """pid and every park product in its supply chain (loops included)."""
    seen, stack = {pid}, [pid]
    while stack:
        for s in suppliers[stack.pop()]:
            if s not in seen:
                seen.add(s)
                stack.append(s)
    return seen
