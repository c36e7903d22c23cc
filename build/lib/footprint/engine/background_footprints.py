"""Footprints of background activities: solved once per background, kept on disk and in memory.

The background never uses park products, so the footprint of every background activity (``A_bbᵀ h_b =
B_bᵀ c``: fossil, biogenic, luc and biogenic CO2) depends only on the background databases and the
methods. It is kept in ``<home>/cache/background-<key>.npz``, the key a SHA-256 of those databases' and
methods' processed datapackages, so a new process reads one small file instead of factorising; and in
memory, checked by the size and modification time of the same files, so a running process re-reads
nothing while they are unchanged. A park's calculation needs only the rows of the activities it uses.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import bw2data as bd
import numpy as np
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import splu

from footprint.engine import home
from footprint.engine.background import METHODS, PARTS, biogenic_co2_flows, method_factors
from footprint.files import write_atomic

RIGHT_HAND_SIDES = b"right-hand sides: fossil, biogenic, luc, biogenic CO2"  # in the key: the columns of h


@dataclass
class Network:
    """The background's technosphere matrix and own emissions, for walking supply chains (review)."""

    A: csc_matrix  # columns in the order of ``BackgroundFootprints.ids``
    direct: np.ndarray  # kg CO2e of each activity's own emissions, by part (n × 3)


@dataclass
class BackgroundFootprints:
    """Per-unit footprints of every activity of a set of background databases."""

    databases: frozenset[str]
    key: str
    ids: np.ndarray  # Brightway node ids, ascending (the matrix order)
    h: np.ndarray  # n × 4: fossil, biogenic, luc, biogenic CO2
    cf: dict[int, np.ndarray] = field(default_factory=dict)  # flow id → kg CO2e per kg by part, biogenic CO2 kg
    signature: tuple = ()  # the databases' state (``signature``) these footprints were read or solved in
    _network: Network | None = field(default=None, repr=False)

    def rows(self, nodes: np.ndarray) -> np.ndarray:
        """Positions of these node ids in ``ids``; KeyError if one is not a background activity."""
        pos = np.searchsorted(self.ids, nodes)
        if len(nodes) and (pos.max(initial=0) >= len(self.ids) or not np.array_equal(self.ids[pos], nodes)):
            raise KeyError("an activity is not in the background's matrix")
        return pos

    def network(self) -> Network:
        """The background's matrices (built from its datapackages once per process; ~0.6 s at 20,000 activities)."""
        if self._network is None:
            A, direct, ids, _ = _matrices(self.databases)
            if not np.array_equal(ids, self.ids):
                raise RuntimeError("the background changed while it was read; run again")
            self._network = Network(A, direct)
        return self._network


_MEMO: dict[frozenset[str], tuple[tuple, BackgroundFootprints]] = {}
_LOCK = threading.Lock()


def processed_files(databases: frozenset[str]) -> list[Path]:
    """The processed datapackages the footprints depend on: each database's, then each part's method."""
    paths = [Path(bd.Database(d).filepath_processed()) for d in sorted(databases)]
    return paths + [Path(bd.Method(METHODS[p]).filepath_processed()) for p in PARTS]


def signature(databases: frozenset[str]) -> tuple:
    """What a process checks before reusing what it derived from these databases: the data directory and
    the size and modification time of every processed datapackage (Brightway rewrites them on any change);
    a database deleted since gives a signature nothing matches."""
    if any(d not in bd.databases for d in databases):
        return ("a database is missing", *sorted(d for d in databases if d not in bd.databases))
    stats = []
    for path in processed_files(databases):
        try:
            stat = path.stat()
        except FileNotFoundError:
            return ("a processed datapackage is missing", str(path))
        stats.append((str(path), stat.st_size, stat.st_mtime_ns))
    return (str(home.resolve()), *stats)


def closure(databases: set[str]) -> frozenset[str]:
    """The databases and every database they depend on (Brightway's ``depends`` metadata)."""
    seen, stack = set(databases), list(databases)
    while stack:
        for d in bd.databases[stack.pop()].get("depends", []):
            if d not in seen:
                seen.add(d)
                stack.append(d)
    return frozenset(seen)


def footprints(databases: frozenset[str]) -> BackgroundFootprints:
    """The footprints of these databases' activities: from memory, else the data directory's cache, else solved
    (and cached)."""
    sig = signature(databases)
    with _LOCK:
        held = _MEMO.get(databases)
        if held and held[0] == sig:
            return held[1]
        key = _key(databases)
        path = home.resolve() / "cache" / f"background-{key}.npz"
        loaded = _load(path, databases, key)
        if loaded is None:
            A, direct, ids, G = _matrices(databases)
            h = splu(A.T.tocsc()).solve(G) if len(ids) else np.zeros((0, 4))
            loaded = BackgroundFootprints(databases, key, ids, h, _network=Network(A, direct))
            buffer = io.BytesIO()
            np.savez(buffer, ids=ids, h=h)
            write_atomic(path, buffer.getvalue())
        loaded.cf = characterisation()
        loaded.signature = sig
        _MEMO[databases] = (sig, loaded)
        return loaded


def characterisation() -> dict[int, np.ndarray]:
    """Flow id → (fossil, biogenic, luc factor, 1 for biogenic CO2) of every flow the methods characterise
    or that is biogenic CO2."""
    cf: dict[int, np.ndarray] = {}
    for n, part in enumerate(PARTS):
        for flow, value in method_factors(part).items():
            cf.setdefault(flow, np.zeros(4))[n] = value
    for flow in biogenic_co2_flows():
        cf.setdefault(flow, np.zeros(4))[3] = 1.0
    return cf


def _key(databases: frozenset[str]) -> str:
    digest = hashlib.sha256()
    digest.update(RIGHT_HAND_SIDES)
    for path in processed_files(databases):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _load(path: Path, databases: frozenset[str], key: str) -> BackgroundFootprints | None:
    if not path.exists():
        return None
    with np.load(path) as data:
        ids, h = data["ids"], data["h"]
    if h.shape != (len(ids), 4):
        return None
    order = np.argsort(ids, kind="stable")
    return BackgroundFootprints(databases, key, ids[order], h[order])


def _matrices(databases: frozenset[str]) -> tuple[csc_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """(A, own emissions by part, node ids, right-hand sides) of the background from its datapackages, as
    bw2calc builds them (float32 storage, duplicates summed)."""
    from bw2data import labels
    from bw2data.backends import ActivityDataset as AD

    with warnings.catch_warnings():  # bw2calc advertises pypardiso; SciPy's SuperLU is our chosen solver
        warnings.simplefilter("ignore")
        import bw2calc as bc

    first = AD.select(AD.id).where(AD.database.in_(sorted(databases)) & AD.type.in_(labels.process_node_types))
    node = first.order_by(AD.id).limit(1).scalar()
    if node is None:  # only elementary flows: no activities to solve
        return csc_matrix((0, 0)), np.zeros((0, 3)), np.zeros(0, dtype=np.int64), np.zeros((0, 4))
    lca = bc.LCA({node: 1.0}, data_objs=[bd.Database(d).datapackage() for d in sorted(databases)])
    with warnings.catch_warnings():  # a background of factors only may have no biosphere3 flows
        warnings.filterwarnings("ignore", "No valid biosphere flows")
        lca.load_lci_data()
    ids = np.empty(lca.technosphere_matrix.shape[1], dtype=np.int64)
    for n, col in lca.dicts.activity.items():
        ids[col] = n
    if not np.all(np.diff(ids) > 0):
        raise RuntimeError("bw2calc's activity order is not by node id")
    B = lca.biosphere_matrix.tocsr()
    columns = []
    for part in PARTS:
        c = np.zeros(B.shape[0])
        for flow, value in method_factors(part).items():
            row = lca.dicts.biosphere.get(flow)
            if row is not None:
                c[row] = value
        columns.append(B.T @ c)
    bco2 = np.zeros(B.shape[0])  # kg of biogenic CO2 (characterised 0 by the method, kept apart)
    for flow in biogenic_co2_flows():
        row = lca.dicts.biosphere.get(flow)
        if row is not None:
            bco2[row] = 1.0
    G = np.column_stack([*columns, B.T @ bco2])
    return lca.technosphere_matrix.tocsc(), G[:, :3], ids, G
