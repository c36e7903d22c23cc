"""What a certification body reviews: per product, every per-unit exchange with its source rows,
the factors and characterisation factors applied, contributions, the supply-chain tree, checks
and uncertainty — as plain data for the review template.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

from footprint.engine.background import factor_totals
from footprint.engine.calculation import Solution
from footprint.engine.checks import Finding, review
from footprint.engine.inventory import Foreground
from footprint.park.models import ProductResult, Results

TREE_CUTOFF = 0.01  # supply-chain branches below 1 % of the product's total are not expanded
TREE_MAX_NODES = 40  # rows of a product's supply-chain table


@dataclass
class SourceRow:
    label: str
    source: str
    data_type: str
    detail: str


@dataclass
class Line:
    """One per-unit exchange of the inventory after allocation."""

    label: str
    target: str
    category: str
    amount: float
    unit: str
    data_type: str
    conversion: str
    rows: list[SourceRow]
    impact: list[float]  # kg CO2e per unit of target: fossil, biogenic, luc
    contribution: float


@dataclass
class FactorUsed:
    target: str
    name: str
    unit: str
    fossil: float
    biogenic: float
    luc: float
    source: str
    dqr: int | None


@dataclass
class TreeNode:
    depth: int
    name: str
    amount: float
    unit: str
    score: float
    direct: float
    terminal: bool


@dataclass
class ProductReview:
    result: ProductResult
    lines: list[Line]
    factors: list[FactorUsed]
    characterisation: list[tuple[str, float, float, float]]
    tree: list[TreeNode]
    findings: list[Finding]


@dataclass
class ParkReview:
    results: Results
    products: list[ProductReview]
    findings: list[Finding]
    rows_listed: set[str] = field(default_factory=set)
    tree_cutoff: float = TREE_CUTOFF


def build(fg: Foreground, sol: Solution, results: Results, product_ids: list[str] | None = None) -> ParkReview:
    """Assemble the review of the chosen products (all by default) of a park computed from ``sol``."""
    sources = _source_rows(fg)
    findings = review(fg, results, factor_totals())
    by_product = defaultdict(list)
    for e in fg.exchanges:
        by_product[e.product_id].append(e)
    products = []
    listed: set[str] = set()
    chains = _SupplyChain(fg, sol)
    for p in results.products:
        if product_ids and p.product_id not in product_ids:
            continue
        diag = sol.A[sol.index((fg.database, p.product_id)), sol.index((fg.database, p.product_id))]
        lines, factors, cfs = [], {}, {}
        for e in by_product[p.product_id]:
            impact = sol.unit_impact(e)
            contribution = 0.0 if e.supplier == p.product_id else float(e.amount * impact.sum() / diag)
            lines.append(Line(e.label, ":".join(e.target) if e.kind == "technosphere" else e.flow or e.target[1],
                              e.category, e.amount, e.unit, e.data_type, e.conversion,
                              [sources[r] for r in e.rows], [float(x) for x in impact], contribution))
            listed.update(e.rows)
            if e.kind == "biosphere":
                cfs[e.flow or e.target[1]] = tuple(float(x) for x in impact)
            elif not e.supplier:
                t = fg.targets[e.target]
                factors[e.target] = FactorUsed(":".join(e.target), t.name, t.unit, *map(float, impact),
                                               t.source or "", t.dqr)
        own_rows = {r for line in lines for r in (s.label for s in line.rows)}
        own_rows |= {f.origin.label for f in fg.park.factors if (fg.database, f"factor:{f.code}") in factors}
        mine = [f for f in findings
                if f.product_id == p.product_id or (f.product_id is None and own_rows & set(f.rows))]
        products.append(ProductReview(p, sorted(lines, key=lambda x: -abs(x.contribution)), list(factors.values()),
                                      [(flow, *v) for flow, v in sorted(cfs.items())],
                                      chains.rows(chains.tree(p)), mine))
    return ParkReview(results, products, findings, listed)


def _source_rows(fg: Foreground) -> dict[str, SourceRow]:
    rows = {}
    for i in fg.park.inputs:
        transport = f"; transport {i.transport_ref} over {i.distance_km:g} km" if i.transport_ref else ""
        rows[i.origin.label] = SourceRow(i.origin.label, i.source, i.data_type,
                                         f"{i.facility_id}: {i.amount:g} {i.unit} of {i.ref}{transport}")
    for e in fg.park.emissions:
        rows[e.origin.label] = SourceRow(e.origin.label, e.source, "primary",
                                         f"{e.facility_id}: {e.amount:g} {e.unit} {e.flow} ({e.kind})")
    return rows


class _SupplyChain:
    """Supply-chain trees of the park's products, read off the solved matrices.

    Every activity's per-unit footprint is already in the solution (``Solution.network``), so a node's
    cumulative score is its supply amount × h and its children are its matrix column: no LCA and no
    graph traversal per product, so a park of 2,000 products chained 2,000 deep costs milliseconds
    per tree. Branches under ``TREE_CUTOFF`` of the product's total are not expanded and a tree has
    at most ``TREE_MAX_NODES`` rows, the largest branches first.
    """

    def __init__(self, fg: Foreground, sol: Solution):
        self.fg = fg
        self.network = sol.network()
        self.A, self.h, self.direct = self.network.A, self.network.h, self.network.direct
        self.names: dict[int, tuple[str, str, str]] = {}  # column → (name, unit, database)

    def tree(self, p: ProductResult) -> list[tuple[int, int, float, float, float, bool]]:
        """(depth, column, amount, score, direct, terminal) of each row, depth first, largest first."""
        if p.total == 0:
            return []
        cutoff = TREE_CUTOFF * abs(p.total)
        root = self.network.columns[(self.fg.database, p.product_id)]
        nodes = [[0, root, 1.0, float(self.h[root]), float(self.direct[root]), True]]  # one list per row
        children: dict[int, list[int]] = defaultdict(list)
        heap = [(-abs(nodes[0][3]), 0)]
        while heap and len(nodes) < TREE_MAX_NODES:
            _, n = heapq.heappop(heap)
            depth, col, amount = nodes[n][:3]
            start, stop = self.A.indptr[col], self.A.indptr[col + 1]
            diagonal = self.A[col, col]
            for row, value in zip(self.A.indices[start:stop], self.A.data[start:stop]):
                if row == col or not value:
                    continue
                supply = amount * -value / diagonal
                score = supply * float(self.h[row])
                if abs(score) < cutoff or len(nodes) >= TREE_MAX_NODES:
                    continue
                nodes[n][5] = False
                children[n].append(len(nodes))
                nodes.append([depth + 1, int(row), supply, score, supply * float(self.direct[row]), True])
                heapq.heappush(heap, (-abs(score), len(nodes) - 1))
        order: list[int] = []
        stack = [0]
        while stack:  # depth first without recursion: a chain may be thousands deep
            n = stack.pop()
            order.append(n)
            stack.extend(sorted(children[n], key=lambda k: abs(nodes[k][3])))
        return [tuple(nodes[n]) for n in order]

    def rows(self, raw: list[tuple[int, int, float, float, float, bool]]) -> list[TreeNode]:
        self.names.update(self.network.describe({col for _, col, *_ in raw} - set(self.names)))
        out = []
        for depth, col, amount, score, direct, terminal in raw:
            name, unit, database = self.names[col]
            out.append(TreeNode(depth, f"{name} [{database}]", float(amount), unit, float(score), float(direct),
                                terminal))
        return out


