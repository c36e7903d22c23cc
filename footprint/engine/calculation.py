"""Brightway matrices → every product's footprint in one adjoint solve, with contributions.

Solving Aᵀh = Bᵀc gives the footprint of every activity at once (h_j is activity j's kg CO2e
per unit), so a park of N products costs one factorisation, not N. The background never uses
park products, so A is block-triangular: the background block is factorised alone and the
park block is solved after it (DEVELOPERS.md, "Calculation").
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

with warnings.catch_warnings():  # bw2calc advertises pypardiso; SciPy's SuperLU is our chosen solver
    warnings.simplefilter("ignore")
    import bw2calc as bc
import bw2data as bd
import numpy as np
from scipy.sparse.linalg import splu

from footprint import __version__
from footprint.engine import home, locks, supply, uncertainty
from footprint.engine.background import (
    METHODS,
    PARTS,
    biogenic_co2_flows,
    database_versions,
    ensure_project,
    method_factors,
    node_ids,
)
from footprint.engine.imported import background_datasets, through_suppliers
from footprint.engine.inventory import Exchange, Foreground, build_foreground, write_foreground
from footprint.files import write_atomic
from footprint.park.errors import ParkDataError, Problem
from footprint.park.models import Contribution, ParkData, ProductResult, Results

Step = Callable[[str], None]


def compute_park(park: ParkData, step: Step = lambda _: None, iterations: int = 0, seed: int | None = None) -> Results:
    """Validate links, (re)write the park database and compute every product."""
    step("Preparing the Brightway project")
    with locks.project():
        ensure_project()
    with locks.park(park.park.id):  # another run on this park waits until our matrices are read
        step("Linking the park to its background")
        fg = build_foreground(park)
        step(f"Writing database {fg.database}")
        write_foreground(fg)
        step("Solving all products at once")
        return calculate(fg, iterations, seed)


class Solution:
    """Matrices of the park's LCA and the per-unit footprint of every activity by part."""

    def __init__(self, fg: Foreground):
        self.fg = fg
        self.park_ids = node_ids(fg.database)
        demand = {self.park_ids[o.product_id]: 1.0 for o in fg.park.outputs}
        self.databases = {fg.database} | bd.Database(fg.database).find_graph_dependents()
        data_objs = [bd.Database(d).datapackage() for d in sorted(self.databases)]
        data_objs.append(bd.Method(METHODS["total"]).datapackage())
        self.lca = bc.LCA(demand, data_objs=data_objs)
        with warnings.catch_warnings():  # a park of factors only has no biosphere3 flows; that is fine
            warnings.filterwarnings("ignore", "No valid biosphere flows")
            self.lca.load_lci_data()
        self.A = self.lca.technosphere_matrix.tocsr()
        B = self.lca.biosphere_matrix.tocsr()
        self.cf = {}
        for part in PARTS:
            c = np.zeros(B.shape[0])
            for flow, value in method_factors(part).items():
                row = self.lca.dicts.biosphere.get(flow)
                if row is not None:
                    c[row] = value
            self.cf[part] = c
        bco2 = np.zeros(B.shape[0])  # kg of biogenic CO2 (characterised 0 by the method, kept apart)
        for flow in biogenic_co2_flows():
            row = self.lca.dicts.biosphere.get(flow)
            if row is not None:
                bco2[row] = 1.0
        self.cf["biogenic_co2"] = bco2
        G = np.column_stack([B.T @ self.cf[p] for p in (*PARTS, "biogenic_co2")])
        fg_cols = np.array(sorted(self.lca.dicts.activity[i] for i in self.park_ids.values()))
        ids = np.empty(self.A.shape[0], dtype=np.int64)
        for node, col in self.lca.dicts.activity.items():
            ids[col] = node
        cache = _BackgroundCache(self.databases - {fg.database}, np.delete(ids, fg_cols))
        H = solve_adjoint(self.A, G, fg_cols, cache)
        self.h, self.bco2 = H[:, :3], H[:, 3]
        if not np.all(np.isfinite(H)):
            raise ParkDataError([Problem("outputs.csv", None, None, None,
                                         "the park's system of equations has no finite solution")])

    def index(self, key: tuple[str, str]) -> int:
        db, code = key
        if db == self.fg.database:
            return self.lca.dicts.activity[self.park_ids[code]]
        return self.lca.dicts.activity[self._ids(db)[code]]

    def _ids(self, db: str) -> dict[str, int]:
        cache = self.__dict__.setdefault("_id_cache", {})
        if db not in cache:
            codes = {e.target[1] for e in self.fg.exchanges if e.target[0] == db}
            codes |= {key[1] for _, key, _, _ in self.fg.alternative if key[0] == db}
            cache[db] = node_ids(db, codes)
        return cache[db]

    def unit_impact(self, e: Exchange) -> np.ndarray:
        """kg CO2e per unit of the exchange's target, by part."""
        if e.kind == "biosphere":
            row = self.lca.dicts.biosphere[self._ids(e.target[0])[e.target[1]]]
            return np.array([self.cf[p][row] for p in PARTS])
        return self.h[self.index(e.target)]

    def unit_biogenic_co2(self, e: Exchange) -> float:
        """kg biogenic CO2 per unit of the exchange's target."""
        if e.kind == "biosphere":
            return float(self.cf["biogenic_co2"][self.lca.dicts.biosphere[self._ids(e.target[0])[e.target[1]]]])
        return float(self.bco2[self.index(e.target)])


class _BackgroundCache:
    """Footprints of the background activities, kept in the data directory between runs.

    The background never uses park products, so its footprints depend only on the background
    databases and the methods: the key hashes their processed datapackages. A park's run then
    factorises nothing but its own block.
    """

    def __init__(self, databases: set[str], ids: np.ndarray):
        self.ids = ids  # node ids of the background columns, in matrix order
        digest = hashlib.sha256()
        paths = [bd.Database(d).filepath_processed() for d in sorted(databases)]
        paths += [bd.Method(METHODS[p]).filepath_processed() for p in PARTS]
        digest.update(b"right-hand sides: fossil, biogenic, luc, biogenic CO2")
        for path in paths:
            digest.update(str(Path(path).name).encode())
            digest.update(Path(path).read_bytes())
        self.path = home.resolve() / "cache" / f"background-{digest.hexdigest()[:32]}.npz"

    def load(self) -> np.ndarray | None:
        """Cached footprints in matrix order, or None if absent or of other nodes."""
        ids = self.ids
        if not self.path.exists():
            return None
        with np.load(self.path) as data:
            cached_ids, h = data["ids"], data["h"]
        order = np.argsort(cached_ids)
        pos = np.searchsorted(cached_ids, ids, sorter=order)
        if len(cached_ids) != len(ids) or not np.array_equal(cached_ids[order[np.minimum(pos, len(ids) - 1)]], ids):
            return None
        return h[order[pos]]

    def save(self, h: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, ids=self.ids, h=h)
        write_atomic(self.path, buffer.getvalue())


def solve_adjoint(A, G: np.ndarray, fg_cols: np.ndarray, cache: _BackgroundCache | None = None) -> np.ndarray:
    """Solve Aᵀh = G for all activities, factorising the background block alone.

    With A = [[A_bb, A_bf], [0, A_ff]] (background rows first): A_bbᵀ h_b = G_b, then
    A_ffᵀ h_f = G_f − A_bfᵀ h_b. A cached h_b skips the first solve.
    """
    n = A.shape[0]
    is_fg = np.zeros(n, dtype=bool)
    is_fg[fg_cols] = True
    bg_cols = np.flatnonzero(~is_fg)
    A = A.tocsc()
    h = np.zeros_like(G, dtype=float)
    if A[fg_cols][:, bg_cols].nnz:  # a background that uses park products: no block structure
        return splu(A.T.tocsc()).solve(G)
    cached = cache.load() if cache else None
    if cached is not None:
        h[bg_cols] = cached
    elif len(bg_cols):
        h[bg_cols] = splu(A[bg_cols][:, bg_cols].T.tocsc()).solve(G[bg_cols])
        if cache:
            cache.save(h[bg_cols])
    rhs = G[fg_cols] - A[bg_cols][:, fg_cols].T @ h[bg_cols]
    try:
        h[fg_cols] = splu(A[fg_cols][:, fg_cols].T.tocsc()).solve(rhs)
    except RuntimeError as e:  # exactly singular; _check_solvable catches the usual cases first
        raise ParkDataError([Problem("outputs.csv", None, None, None, f"the park's system is singular ({e})")]) from e
    return h


def _num(x: float) -> float:
    return float(x) + 0.0  # no "-0.0" in results


def _contribution(key: str, label: str, parts: np.ndarray, **extra) -> Contribution:
    """One contribution; built without re-validation (its fields are ours), as a park of 200,000 rows has
    200,000 of them."""
    return Contribution.model_construct(key=key, label=label, total=_num(parts.sum()), fossil=_num(parts[0]),
                                        biogenic=_num(parts[1]), luc=_num(parts[2]), **extra)


def _grouped(items: list[tuple[str, str, np.ndarray, list[str]]]) -> list[Contribution]:
    """Contributions summed by key, each with its rows in first-seen order (linear in the rows)."""
    sums: dict[str, np.ndarray] = {}
    labels: dict[str, str] = {}
    rows: dict[str, dict[str, None]] = defaultdict(dict)  # an ordered set
    for key, label, parts, origin in items:
        sums[key] = sums.get(key, 0) + parts
        labels.setdefault(key, label)
        rows[key].update(dict.fromkeys(origin))
    out = [_contribution(k, labels[k], v, rows=list(rows[k])) for k, v in sums.items()]
    return sorted(out, key=lambda c: -abs(c.total))


def calculate(fg: Foreground, iterations: int = 0, seed: int | None = None, sol: Solution | None = None) -> Results:
    """Results of every park product from one solve of the written database (or of ``sol``,
    when the caller keeps the solution for more, like the review).

    With ``iterations`` > 0, each product also gets a Monte Carlo distribution (uncertainty.py).
    """
    sol = sol or Solution(fg)
    park = fg.park
    facilities = {f.facility_id: f for f in park.facilities}
    products = {o.product_id: o for o in park.outputs}
    by_product: dict[str, list[Exchange]] = defaultdict(list)
    for e in fg.exchanges:
        by_product[e.product_id].append(e)

    pids = [o.product_id for o in park.outputs]
    cols = np.array([sol.index((fg.database, p)) for p in pids])
    contributions: dict[str, list[tuple[Exchange, np.ndarray]]] = {}
    impacts: dict[tuple[str, tuple[str, str]], np.ndarray] = {}  # per target: one look-up, not one per row
    direct: dict[str, list[supply.Direct]] = {}
    for n, pid in enumerate(pids):
        diag = sol.A[cols[n], cols[n]]
        items, leaves = [], []
        for e in by_product[pid]:
            if e.supplier == pid:
                continue  # self-use is inside the diagonal
            impact = impacts.get((e.kind, e.target))
            if impact is None:
                impact = impacts[(e.kind, e.target)] = sol.unit_impact(e)
            raw = e.amount * impact
            items.append((e, raw / diag))
            if e.supplier is None:
                leaves.append(supply.Direct(e, fg.targets.get(e.target), raw, e.amount * sol.unit_biogenic_co2(e)))
        contributions[pid] = items
        direct[pid] = leaves
    chain = supply.Chain(fg, sol.A[cols][:, cols], pids, direct)
    shares = chain.shares(sol)
    alternatives = shares.alternatives()

    background = _background_closure(fg, pids)
    datasets = background_datasets(fg, pids)
    spread = _monte_carlo(fg, sol, pids, by_product, iterations, seed) if iterations else {}
    results = []
    for n, pid in enumerate(pids):
        o = products[pid]
        if o.kind == "waste":
            continue  # carries no burden and gets no certificate
        f = facilities[o.facility_id]
        h = sol.h[cols[n]]
        items = contributions[pid]
        by_row, by_fac, by_ent, by_cat = [], [], [], []
        for e, parts in items:
            supplier = facilities[products[e.supplier].facility_id] if e.supplier else None
            if e.kind == "biosphere":
                supplier = f
            by_row.append((e.rows[0], e.label, parts, e.rows))
            fac_key = supplier.facility_id if supplier else "outside-park"
            by_fac.append((fac_key, supplier.name if supplier else "Purchased from outside the park", parts, e.rows))
            ent_key = supplier.enterprise if supplier else "outside-park"
            by_ent.append((ent_key, ent_key if supplier else "Purchased from outside the park", parts, e.rows))
            by_cat.append((e.category, e.category, parts, e.rows))
        rows = _grouped(by_row)
        main = {}
        for e, _ in items:
            main.setdefault(e.rows[0], e)
        for c in rows:
            e = main[c.key]
            c.category, c.data_type = e.category, e.data_type
            if e.kind == "technosphere":
                c.amount, c.unit = e.amount, e.unit
        results.append(ProductResult(
            product_id=pid, name=o.name, name_zh=o.name_zh, facility_id=f.facility_id, facility=f.name,
            enterprise=f.enterprise, enterprise_id=f.enterprise_id, unit=o.unit, amount=o.amount, mass_kg=o.mass_kg,
            hs_code=o.hs_code, total=_num(h.sum()), fossil=_num(h[0]), biogenic=_num(h[1]), luc=_num(h[2]),
            dqr=_dqr(fg, items), allocation=fg.allocations[pid],
            contributions_by_input=rows, contributions_by_facility=_grouped(by_fac),
            contributions_by_enterprise=_grouped(by_ent), contributions_by_category=_grouped(by_cat),
            background=sorted(background[pid]), uncertainty=spread.get(pid), background_datasets=datasets[pid],
            **shares.format2(n, o, _num(h.sum()), _num(sol.bco2[cols[n]])),
            allocation_alternatives=alternatives.get(pid, []),
        ))
    return Results(park=park.park.id, park_name=park.park.name, park_name_zh=park.park.name_zh, period=park.park.period,
                   engine=f"footprint {__version__}", databases=database_versions(sol.databases), products=results)


def _monte_carlo(fg: Foreground, sol: Solution, pids: list[str], by_product: dict[str, list[Exchange]],
                 iterations: int, seed: int | None) -> dict:
    """Feed the per-unit exchanges, keyed by row and factor, to the Monte Carlo simulation."""
    index = {p: n for n, p in enumerate(pids)}
    rows: dict[str, int] = {}
    factors: dict[tuple[str, str], int] = {}
    row_sigma, factor_sigma, uses, direct = [], [], [], []
    for pid in pids:
        for e in by_product[pid]:
            if e.kind == "biosphere":
                basic = uncertainty.BASIC_EMISSION.get(e.flow, uncertainty.BASIC_OTHER_EMISSION)
            else:
                basic = uncertainty.BASIC_TRANSPORT if e.category == "transport" else uncertainty.BASIC_DEMAND
            key = f"{e.rows[0]}#{basic}"  # a row's transport leg varies apart from its goods
            if key not in rows:
                rows[key] = len(row_sigma)
                row_sigma.append(uncertainty.sigma_from_gsd(e.gsd) if e.gsd else
                                 uncertainty.sigma(basic, uncertainty.ROW_SCORES[e.data_type]))
            if e.supplier:
                uses.append((index[e.supplier], index[pid], e.amount, rows[key]))
                continue
            fac = -1
            if e.kind == "technosphere":
                if e.target not in factors:
                    factors[e.target] = len(factor_sigma)
                    target = fg.targets.get(e.target)
                    dqr = target.dqr if target else None
                    factor_sigma.append(uncertainty.sigma_from_gsd(target.gsd) if target and target.gsd else
                                        uncertainty.sigma(1.0, uncertainty.FACTOR_SCORES[dqr]))
                fac = factors[e.target]
            direct.append((index[pid], e.amount * float(sol.unit_impact(e).sum()), rows[key], fac))
    return uncertainty.simulate(pids, uses, direct, np.array(row_sigma), np.array(factor_sigma), iterations, seed)


def _dqr(fg: Foreground, items: list[tuple[Exchange, np.ndarray]]) -> float | None:
    """Contribution-weighted PACT data quality rating of the first-tier data that carry one."""
    weights = [(fg.targets[e.target].dqr, abs(parts.sum())) for e, parts in items
               if e.target in fg.targets and fg.targets[e.target].dqr]
    total = sum(w for _, w in weights)
    return round(sum(d * w for d, w in weights) / total, 2) if total else None


def _background_closure(fg: Foreground, pids: list[str]) -> dict[str, set[str]]:
    """Background databases each product depends on, through its park suppliers and loops."""
    def database(e: Exchange) -> str | None:
        if e.target[0] == fg.database:
            return "park factors.csv"
        return e.target[0] if e.kind == "technosphere" else None

    return through_suppliers(fg, pids, database)
