"""Park → every product's footprint in one adjoint solve, with contributions, without writing the park.

Solving Aᵀh = Bᵀc gives the footprint of every activity at once (h_j is activity j's kg CO2e
per unit), so a park of N products costs one factorisation, not N. The background never uses
park products, so A is block-triangular: the background's footprints are solved once and kept
(background_footprints.py), and a park needs only its own block, built from its datasets as
Brightway would store them (DEVELOPERS.md, "Calculation").
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy.sparse import bmat, csc_matrix, csr_matrix
from scipy.sparse.linalg import splu

from footprint import __version__
from footprint.engine import locks, supply, uncertainty
from footprint.engine.background import database_versions, ensure_project, node_ids
from footprint.engine.background_footprints import closure, footprints, signature
from footprint.engine.imported import background_datasets, through_suppliers
from footprint.engine.inventory import (
    Exchange,
    Foreground,
    Key,
    build_foreground,
    content_hash,
    dependencies,
    write_foreground,
)
from footprint.park.errors import ParkDataError, Problem
from footprint.park.models import Contribution, Facility, Output, ParkData, ProductResult, Results

Step = Callable[[str], None]


def compute_park(park: ParkData, step: Step = lambda _: None, iterations: int = 0, seed: int | None = None,
                 write_database: bool = False) -> Results:
    """Validate links and compute every product in memory. ``write_database`` also writes the park's
    Brightway database (only when its content changed), for Activity Browser, bw2calc and bundles.

    A running process gives an unchanged park (same rows, background, methods, engine, Monte Carlo
    settings) the results it computed before; treat them as read-only."""
    with _collector_paused():
        step("Preparing the Brightway project")
        with locks.project():
            ensure_project()
        key = _park_key(park, iterations, seed)
        known = _KNOWN.get(park.park.id)
        if key and known and known.key == key and known.signature == signature(known.background):
            fg, results = known.fg, known.results
        else:
            step("Linking the park to its background")
            fg = build_foreground(park)
            step("Solving all products at once")
            sol = Solution(fg)
            results = calculate(fg, iterations, seed, sol)
            if key:
                _KNOWN.put(park.park.id, _Known(key, sol.background, sol.signature, fg, results))
        if write_database:
            step(f"Writing database {fg.database}")
            with locks.park(park.park.id):  # another run writing this park waits
                write_foreground(fg)
        return results


@dataclass
class _Known:
    """A park's last results in this process, and what they were computed from."""

    key: str
    background: frozenset[str]
    signature: tuple
    fg: Foreground
    results: Results


class _Recent:
    """The last few parks' results (a server or batch worker meets the same parks again)."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, park_id: str) -> _Known | None:
        with self.lock:
            return self.items.get(park_id)

    def put(self, park_id: str, known: _Known) -> None:
        with self.lock:
            self.items[park_id] = known
            self.items.move_to_end(park_id)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_KNOWN = _Recent(4)


def _park_key(park: ParkData, iterations: int, seed: int | None) -> str | None:
    """What decides a park's results besides the background and methods: every row, the engine, the Monte
    Carlo settings (None when they are random: nothing to reuse)."""
    if iterations and seed is None:
        return None
    digest = hashlib.sha256(park.model_dump_json().encode())
    digest.update(f"{__version__} {iterations} {seed}".encode())
    return digest.hexdigest()


_pause_lock = threading.Lock()
_pauses = 0  # calculations running now
_resume = False  # whether the collector ran before the first of them


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a park is computed: its full collections re-scan every
    object of a large park (≈ 40 % of the CPU at 1,000 products) and the calculation makes no cycles to
    collect. Counted, so overlapping calculations in threads resume it only when the last one ends.

    On resuming, the objects made meanwhile (≈ 190,000 at 1,000 products) join the oldest generation
    (``gc.freeze`` then ``gc.unfreeze``, two list splices) instead of being scanned at once by the
    young-generation pass that the first allocation after ``gc.enable`` runs (≈ 50 ms): the next full
    collection scans them, as it scans every object anyway. Not when something else froze objects (a
    server freezing before it forks): unfreezing would undo that."""
    global _pauses, _resume
    with _pause_lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


class Solution:
    """The park's LCA, solved without writing the park: its block of the technosphere matrix built from the
    foreground's datasets exactly as bw2calc would read them from the written database (amounts stored as
    float32, production and self-use summed on the diagonal), solved on the background's footprints.

    ``A`` is the park block (activities in the order of ``fg.datasets``: products, then park factors);
    ``h``/``bco2`` hold the footprints of those activities and of every background activity the park links to,
    at ``index(key)``.
    """

    def __init__(self, fg: Foreground):
        self.fg = fg
        linked = dependencies(fg)
        self.databases = {fg.database} | closure(linked)
        if fg.database in closure(linked):
            raise ParkDataError([Problem("park.yaml", None, "background", ", ".join(sorted(linked)),
                                         f"a background database uses the park's own database {fg.database}")])
        targets = sorted((k for k, t in fg.targets.items() if t.node is not None), key=lambda k: fg.targets[k].node)
        self.background = closure(linked | {k[0] for k in targets})
        bg = footprints(self.background)
        self._bg = bg
        self.signature = bg.signature  # the background's state the footprints were read in
        park_keys = [(d["database"], d["code"]) for d in fg.datasets]
        n = len(park_keys)
        self._index: dict[Key, int] = {k: i for i, k in enumerate(park_keys)}
        self._index.update((k, n + m) for m, k in enumerate(targets))
        self._bg_rows = bg.rows(np.array([fg.targets[k].node for k in targets], dtype=np.int64))
        h_bg = bg.h[self._bg_rows]

        flows = self._flow_ids(fg)
        A_rows, A_cols, A_amounts = [], [], []  # technosphere: production +, inputs − (in the matrix)
        B_cols, B_flows, B_amounts = [], [], []
        for j, d in enumerate(fg.datasets):
            for e in d["exchanges"]:
                if e["type"] == "biosphere":
                    B_cols.append(j)
                    B_flows.append(flows[e["input"]])
                    B_amounts.append(e["amount"])
                else:
                    A_rows.append(self._index[e["input"]])
                    A_cols.append(j)
                    A_amounts.append(e["amount"] if e["type"] == "production" else -e["amount"])
        # Brightway stores every amount as float32 and sums a database's duplicates (production and self-use on
        # the diagonal) in float32, as matrix_utils does, before its float64 matrices
        A_vals = np.asarray(A_amounts, dtype=np.float32)
        A_rows_, A_cols_ = np.asarray(A_rows, dtype=np.int64), np.asarray(A_cols, dtype=np.int64)
        own = A_rows_ < n
        self.A = csr_matrix((A_vals[own], (A_rows_[own], A_cols_[own])), shape=(n, n)).astype(np.float64)
        self._A_bf = csc_matrix((A_vals[~own], (A_rows_[~own] - n, A_cols_[~own])),
                                shape=(len(targets), n)).astype(np.float64)
        G = np.zeros((n, 4))
        if B_cols:
            cf = np.array([bg.cf.get(f, _NO_FACTOR) for f in B_flows])
            np.add.at(G, np.asarray(B_cols), np.asarray(B_amounts, dtype=np.float32).astype(np.float64)[:, None] * cf)
        self._G = G
        rhs = G - self._A_bf.T @ h_bg
        try:
            h_f = splu(self.A.T.tocsc()).solve(rhs) if n else rhs
        except RuntimeError as e:  # exactly singular; inventory._check_solvable catches the usual cases first
            raise ParkDataError([Problem("outputs.csv", None, None, None,
                                         f"the park's system is singular ({e})")]) from e
        if not np.all(np.isfinite(h_f)):
            raise ParkDataError([Problem("outputs.csv", None, None, None,
                                         "the park's system of equations has no finite solution")])
        H = np.vstack([h_f, h_bg])
        self.h, self.bco2 = H[:, :3], H[:, 3]
        self._cf = {flows[k]: bg.cf.get(flows[k], _NO_FACTOR) for k in flows}
        self._flows = flows

    @staticmethod
    def _flow_ids(fg: Foreground) -> dict[Key, int]:
        wanted: dict[str, set[str]] = defaultdict(set)
        for d in fg.datasets:
            for e in d["exchanges"]:
                if e["type"] == "biosphere":
                    wanted[e["input"][0]].add(e["input"][1])
        return {(db, code): node for db, codes in wanted.items() for code, node in node_ids(db, codes).items()}

    def index(self, key: Key) -> int:
        return self._index[key]

    def unit_impact(self, e: Exchange) -> np.ndarray:
        """kg CO2e per unit of the exchange's target, by part."""
        if e.kind == "biosphere":
            return self._cf[self._flows[e.target]][:3].copy()
        return self.h[self._index[e.target]]

    def unit_biogenic_co2(self, e: Exchange) -> float:
        """kg biogenic CO2 per unit of the exchange's target."""
        if e.kind == "biosphere":
            return float(self._cf[self._flows[e.target]][3])
        return float(self.bco2[self._index[e.target]])

    def versions(self) -> dict[str, str]:
        """Version label of every database of the calculation; the park's is its content hash, as written."""
        labels = database_versions(self.databases - {self.fg.database})
        return dict(sorted({**labels, self.fg.database: f"sha256:{content_hash(self.fg)[:12]}"}.items()))

    def network(self) -> SupplyNetwork:
        """The whole technosphere, background then park, for walking supply chains (loads the background's
        matrices once per process)."""
        net = self._bg.network()
        n_b = len(self._bg.ids)
        A_bf = self._A_bf.tocoo()
        A_bf = csc_matrix((A_bf.data, (self._bg_rows[A_bf.row], A_bf.col)), shape=(n_b, self.A.shape[0]))
        n = self.A.shape[0]
        A = bmat([[net.A, A_bf], [csc_matrix((n, n_b)), self.A.tocsc()]], format="csc")
        h = np.concatenate([self._bg.h[:, :3].sum(axis=1), self.h[:n].sum(axis=1)])
        direct = np.concatenate([net.direct.sum(axis=1), self._G[:, :3].sum(axis=1)])
        park = [(d["name"], d["unit"], d["database"]) for d in self.fg.datasets]
        return SupplyNetwork(A, h, direct, self._bg.ids, park, {k: n_b + i for k, i in self._index.items() if i < n})


_NO_FACTOR = np.zeros(4)


@dataclass
class SupplyNetwork:
    """Background and park in one matrix: columns of the background's activities (by node id), then the park's."""

    A: csc_matrix
    h: np.ndarray  # kg CO2e per unit, all parts
    direct: np.ndarray  # kg CO2e of each activity's own emissions per unit
    background_ids: np.ndarray
    park: list[tuple[str, str, str]]  # (name, unit, database) of each park column
    columns: dict[Key, int]  # park activity → column

    def describe(self, cols: set[int]) -> dict[int, tuple[str, str, str]]:
        """(name, unit, database) of these columns."""
        from bw2data.backends import ActivityDataset as AD

        n_b = len(self.background_ids)
        out = {c: self.park[c - n_b] for c in cols if c >= n_b}
        nodes = {int(self.background_ids[c]): c for c in cols if c < n_b}
        for start in range(0, len(nodes), 500):
            chunk = sorted(nodes)[start:start + 500]
            for node, name, database, data in AD.select(AD.id, AD.name, AD.database, AD.data) \
                    .where(AD.id.in_(chunk)).tuples():
                out[nodes[node]] = (name, data.get("unit", ""), database)
        return out


def _num(x: float) -> float:
    return float(x) + 0.0  # no "-0.0" in results


def _contribution(values: dict, given: frozenset[str]) -> Contribution:
    """One contribution, built without validation (its fields are ours) as pydantic's ``model_construct`` does
    but in a quarter of its time: a park of 1,000 products has 22,000 of them, one of 200,000 rows 200,000.
    ``values`` holds every field; ``given`` the fields that count as set (as ``model_construct(**given)``)."""
    c = _new(Contribution)
    _set(c, "__dict__", values)
    _set(c, "__pydantic_fields_set__", set(given))
    _set(c, "__pydantic_extra__", None)
    _set(c, "__pydantic_private__", None)
    return c


_new, _set = object.__new__, object.__setattr__
_GIVEN = frozenset(("key", "label", "total", "fossil", "biogenic", "luc", "rows"))
_GIVEN_EMISSION = _GIVEN | {"category", "data_type"}  # a row's contribution: its category and data type
_GIVEN_INPUT = _GIVEN_EMISSION | {"amount", "unit"}  # and an input row's amount
_OUTSIDE = ("outside-park", "Purchased from outside the park")
GROUPINGS = 4  # by input row, by supplying facility, by enterprise, by category


def _contributions(kept: list[Exchange], owner: list[int], share: np.ndarray, pids: list[str],
                   facilities: dict[str, Facility], products: dict[str, Output]) -> list[list[list[Contribution]]]:
    """Each product's contributions by input row, by supplying facility, by enterprise and by category (in that
    order), each sorted by size (ties in first-seen order), with the rows of each in first-seen order.

    Grouped with arrays: a group's parts are added in the order of its exchanges starting from 0, exactly as a
    loop over them would add them (np.bincount adds its weights in input order), so the sums are the same
    floats; what is left in Python is a few list comprehensions and one object per contribution."""
    out: list[list[list[Contribution]]] = [[[] for _ in range(GROUPINGS)] for _ in pids]
    if not kept:
        return out
    own = [facilities[products[p].facility_id] for p in pids]
    makers = {p: facilities[o.facility_id] for p, o in products.items()}
    source = [own[n] if e.kind == "biosphere" else makers[e.supplier] if e.supplier else None
              for e, n in zip(kept, owner)]
    outside, purchased = _OUTSIDE
    groupings = (  # (key, label) of each exchange under each grouping
        ([e.rows[0] for e in kept], [e.label for e in kept]),
        ([s.facility_id if s else outside for s in source], [s.name if s else purchased for s in source]),
        ([s.enterprise if s else outside for s in source], [s.enterprise if s else purchased for s in source]),
        ([e.category for e in kept], [e.category for e in kept]),
    )
    product = np.array(owner, dtype=np.int64)
    row_ids: dict[str, int] = {}
    flat = [row_ids.setdefault(r, len(row_ids)) for e in kept for r in e.rows]  # every exchange's rows, as ids
    row_labels = list(row_ids)
    of_row = np.repeat(np.arange(len(kept)), [len(e.rows) for e in kept])
    n_rows = len(row_labels)
    for g, (keys, labels) in enumerate(groupings):
        ids: dict[str, int] = {}
        key_id = np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int64)
        found, first, member = np.unique(product * len(ids) + key_id, return_index=True, return_inverse=True)
        member = member.reshape(-1)
        sums = np.column_stack([np.bincount(member, weights=share[:, i], minlength=len(found)) for i in range(3)])
        total = sums[:, 0] + sums[:, 1] + sums[:, 2] + 0.0  # fossil + biogenic + luc; + 0.0: no "-0.0"
        fossil, biogenic, luc = ((sums[:, i] + 0.0).tolist() for i in range(3))
        of_group = found // len(ids)
        # each group's rows: distinct (group, row) pairs in the order first seen
        pairs, seen = np.unique(member[of_row] * n_rows + flat, return_index=True)
        ordered = pairs[np.lexsort((seen, pairs // n_rows))]
        rows = [row_labels[r] for r in (ordered % n_rows).tolist()]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(ordered // n_rows, minlength=len(found)))]).tolist()
        total_, first_, of_group_ = total.tolist(), first.tolist(), of_group.tolist()
        for c in np.lexsort((first, -np.abs(total), of_group)).tolist():
            k = first_[c]
            values = {"key": keys[k], "label": labels[k], "total": total_[c], "fossil": fossil[c],
                      "biogenic": biogenic[c], "luc": luc[c], "rows": rows[bounds[c]:bounds[c + 1]], "category": None,
                      "amount": None, "unit": None, "data_type": None}
            given = _GIVEN
            if g == 0:  # by input row: what the row's first exchange says (its goods, not its transport leg)
                e = kept[k]
                values["category"], values["data_type"] = e.category, e.data_type
                given = _GIVEN_EMISSION
                if e.kind == "technosphere":
                    values["amount"], values["unit"] = e.amount, e.unit
                    given = _GIVEN_INPUT
            out[of_group_[c]][g].append(_contribution(values, given))
    return out


def calculate(fg: Foreground, iterations: int = 0, seed: int | None = None, sol: Solution | None = None) -> Results:
    """Results of every park product from one solve (``sol``, when the caller keeps the solution for more,
    like the review).

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
    position = {p: n for n, p in enumerate(pids)}
    cols = np.array([sol.index((fg.database, p)) for p in pids])
    # every exchange's contribution in one array operation: amount × unit impact of its target ÷ its diagonal
    kept = [e for pid in pids for e in by_product[pid] if e.supplier != pid]  # self-use is inside the diagonal
    owner = [position[e.product_id] for e in kept]
    seen: dict[tuple[str, Key], tuple[int, Exchange]] = {}  # each target: its row, an exchange naming it
    which = np.array([seen.setdefault((e.kind, e.target), (len(seen), e))[0] for e in kept], dtype=np.int64)
    impact_rows = [sol.unit_impact(e) for _, e in seen.values()]
    bco2_rows = [sol.unit_biogenic_co2(e) for _, e in seen.values()]
    amounts = np.array([e.amount for e in kept])
    diag = sol.A.diagonal()[cols][np.array(owner, dtype=np.int64)]
    raw = amounts[:, None] * np.array(impact_rows).reshape(-1, 3)[which]
    share = raw / diag[:, None]
    bco2 = amounts * np.array(bco2_rows)[which] if kept else amounts
    leaf = np.array([k for k, e in enumerate(kept) if e.supplier is None], dtype=np.int64)
    leaves = supply.Leaves([kept[k] for k in leaf.tolist()], [fg.targets.get(kept[k].target) for k in leaf.tolist()],
                           np.array(owner, dtype=np.int64)[leaf], raw[leaf], bco2[leaf])
    chain = supply.Chain(fg, sol.A[cols][:, cols], pids, leaves)
    shares = chain.shares(sol)
    alternatives = shares.alternatives()

    background = _background_closure(fg, chain.upstream)
    datasets = background_datasets(fg, chain.upstream)
    spread = _monte_carlo(fg, sol, pids, by_product, iterations, seed) if iterations else {}
    grouped = _contributions(kept, owner, share, pids, facilities, products)
    dqr = _dqr(fg, kept, owner, share, len(pids))
    results = []
    for n, pid in enumerate(pids):
        o = products[pid]
        if o.kind == "waste":
            continue  # carries no burden and gets no certificate
        f = facilities[o.facility_id]
        h = sol.h[cols[n]]
        by_input, by_facility, by_enterprise, by_category = grouped[n]
        results.append(ProductResult(
            product_id=pid, name=o.name, name_zh=o.name_zh, facility_id=f.facility_id, facility=f.name,
            enterprise=f.enterprise, enterprise_id=f.enterprise_id, unit=o.unit, amount=o.amount, mass_kg=o.mass_kg,
            hs_code=o.hs_code, total=_num(h.sum()), fossil=_num(h[0]), biogenic=_num(h[1]), luc=_num(h[2]),
            dqr=dqr[n], allocation=fg.allocations[pid],
            contributions_by_input=by_input, contributions_by_facility=by_facility,
            contributions_by_enterprise=by_enterprise, contributions_by_category=by_category,
            background=sorted(background[pid]), uncertainty=spread.get(pid), background_datasets=datasets[pid],
            **shares.format2(n, o, _num(h.sum()), _num(sol.bco2[cols[n]])),
            allocation_alternatives=alternatives.get(pid, []),
        ))
    return Results(park=park.park.id, park_name=park.park.name, park_name_zh=park.park.name_zh, period=park.park.period,
                   engine=f"footprint {__version__}", databases=sol.versions(), products=results)


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


def _dqr(fg: Foreground, kept: list[Exchange], owner: list[int], share: np.ndarray, n: int) -> list[float | None]:
    """Each product's contribution-weighted PACT data quality rating of the first-tier data that carry one: the
    weights (|kg CO2e| of each exchange) and weighted ratings summed per product in the exchanges' order."""
    rating = [0] * len(kept)
    for k, e in enumerate(kept):
        target = fg.targets.get(e.target)
        if target is not None and target.dqr:
            rating[k] = target.dqr
    rated = np.array(rating, dtype=np.float64)
    weight = np.abs(share.sum(axis=1)) if len(kept) else np.zeros(0)
    where = np.array(owner, dtype=np.int64)
    total = np.bincount(where, weights=np.where(rated != 0, weight, 0.0), minlength=n).tolist()
    weighted = np.bincount(where, weights=rated * weight, minlength=n).tolist()
    return [round(w / t, 2) if t else None for w, t in zip(weighted, total)]


def _background_closure(fg: Foreground, upstream: dict[str, set[str]]) -> dict[str, set[str]]:
    """Background databases each product depends on, through its park suppliers and loops."""
    def database(e: Exchange) -> str | None:
        if e.target[0] == fg.database:
            return "park factors.csv"
        return e.target[0] if e.kind == "technosphere" else None

    return through_suppliers(fg, upstream, database)
