"""What a certification body reviews: per product, every per-unit exchange with its source rows,
the factors and characterisation factors applied, contributions, the supply-chain tree, checks
and uncertainty — as plain data for the review template.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass, field

from footprint.engine.background import METHODS, factor_totals
from footprint.engine.calculation import Solution
from footprint.engine.checks import Finding, review
from footprint.engine.inventory import Foreground
from footprint.park.models import ProductResult, Results

TREE_CUTOFF = 0.01  # supply-chain branches below 1 % of the product's total are not expanded
TREE_MAX_CALC = 200


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
                                      [(flow, *v) for flow, v in sorted(cfs.items())], _tree(fg, p), mine))
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


def _tree(fg: Foreground, p: ProductResult) -> list[TreeNode]:
    """Supply chain of one unit, most important branches first (bw_graph_tools), cut off at 1 %."""
    import bw2calc as bc
    import bw2data as bd
    from bw_graph_tools import NewNodeEachVisitGraphTraversal
    from bw_graph_tools.graph_traversal.settings import GraphTraversalSettings

    if p.total == 0:
        return []
    node = bd.get_node(database=fg.database, code=p.product_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lca = bc.LCA({node: 1}, method=METHODS["total"])
        lca.lci()
        lca.lcia()
        traversal = NewNodeEachVisitGraphTraversal(lca, GraphTraversalSettings(cutoff=TREE_CUTOFF,
                                                                               max_calc=TREE_MAX_CALC))
        traversal.traverse()
    ids = {n.activity_datapackage_id for n in traversal.nodes.values() if n.unique_id >= 0}
    names = {a.id: (a["name"], a.get("unit", ""), a["database"]) for a in (bd.get_node(id=i) for i in ids)}
    parent = {e.producer_unique_id: e.consumer_unique_id for e in traversal.edges}
    order = _depth_first(traversal.nodes, parent)
    return [TreeNode(n.depth - 1, f"{names[n.activity_datapackage_id][0]} [{names[n.activity_datapackage_id][2]}]",
                     n.supply_amount, names[n.activity_datapackage_id][1], n.cumulative_score,
                     n.direct_emissions_score, n.terminal) for n in order]


def _depth_first(nodes: dict, parent: dict[int, int]) -> list:
    children = defaultdict(list)
    for uid, node in nodes.items():
        if uid >= 0:
            children[parent.get(uid, -1)].append(node)
    out = []

    def visit(uid: int) -> None:
        for child in sorted(children[uid], key=lambda n: -abs(n.cumulative_score)):
            out.append(child)
            visit(child.unique_id)

    visit(-1)
    return out


