"""Monte Carlo over the park's own matrices: lognormal row and factor uncertainties.

Each input and emission row gets a multiplier (one per row, shared by every product and by the
transport leg it feeds), each factor or background activity a multiplier (shared by all its uses);
every iteration re-solves the park block ``(I − U)ᵀ h = d``. The background's own footprints
are fixed per iteration, so 1,000 iterations cost 1,000 small sparse solves, not 1,000 LCAs.

The iterations are drawn in chunks of :data:`CHUNK`, chunk ``k`` from the ``k``-th child of
``SeedSequence(seed)``, whether the chunks run here one after another or on a Dask cluster
(:func:`running`): the chunking never depends on where they run, so a seed gives the same
numbers on one process or on many workers.

Geometric standard deviations follow the ecoinvent pedigree approach (Frischknecht et al. 2007,
ecoinvent report No. 1, §7.4, eq. 7.1 with Tables 7.1–7.2; same factors in Weidema et al. 2013,
ecoinvent data quality guideline v3): ``σ = ½·√(Σ ln(Uᵢ)²)`` over the basic uncertainty factor
and the five pedigree factors. How a row's data type and a factor's PACT DQR map to pedigree
scores is footprint's rule, stated in README ("Uncertainty"). A row or factor with an explicit
``gsd`` column uses that geometric standard deviation instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import splu

from footprint.park.models import Uncertainty

# Pedigree uncertainty factors by score 1..5 (contributions to the squared GSD), ecoinvent v2/v3 defaults.
PEDIGREE = {
    "reliability": (1.0, 1.05, 1.1, 1.2, 1.5),
    "completeness": (1.0, 1.02, 1.05, 1.1, 1.2),
    "temporal correlation": (1.0, 1.03, 1.1, 1.2, 1.5),
    "geographical correlation": (1.0, 1.01, 1.02, 1.02, 1.1),
    "further technological correlation": (1.0, 1.0, 1.2, 1.5, 2.0),
}
# Basic uncertainty factors (squared GSD) of the same tables.
BASIC_DEMAND = 1.05  # energy, semi-finished products, working materials
BASIC_TRANSPORT = 2.0  # transport services (tkm)
BASIC_EMISSION = {"CO2": 1.05, "CO2-luc": 1.05, "CO2-biogenic": 1.05}  # CO2 from combustion or process
BASIC_OTHER_EMISSION = 1.5  # CH4, N2O, refrigerants and other inorganic emissions

# footprint's rule: pedigree scores (reliability, completeness, temporal, geographical, technology)
ROW_SCORES = {"primary": (2, 2, 1, 1, 1), "secondary": (4, 3, 1, 1, 1)}
FACTOR_SCORES = {1: (2, 2, 2, 2, 2), 2: (3, 3, 3, 3, 3), 3: (4, 4, 4, 4, 4), None: (4, 4, 4, 4, 4)}


def sigma(basic: float, scores: Iterable[int]) -> float:
    """σ of the underlying normal from a basic factor and five pedigree scores."""
    factors = [basic] + [table[s - 1] for table, s in zip(PEDIGREE.values(), scores, strict=True)]
    return math.sqrt(sum(math.log(f) ** 2 for f in factors)) / 2


def sigma_from_gsd(gsd: float) -> float:
    return math.log(gsd)


CHUNK = 250  # iterations per seeded chunk: fixed, so the draws never depend on the number of workers


@dataclass(frozen=True)
class Model:
    """The park's linear system and its multipliers' σ, as plain arrays (cheap to ship to workers).

    ``u_*``: park products supplied (supplier, consumer, per-unit amount, row index); ``d_*``:
    everything else (product, kg CO2e per unit, row index, factor index or -1).
    """

    n: int
    u_sup: np.ndarray
    u_con: np.ndarray
    u_amt: np.ndarray
    u_row: np.ndarray
    d_prod: np.ndarray
    d_val: np.ndarray
    d_row: np.ndarray
    d_fac: np.ndarray
    row_sigma: np.ndarray
    factor_sigma: np.ndarray


@dataclass(frozen=True)
class Chunk:
    """``size`` iterations drawn from ``seed`` (one child of the run's SeedSequence)."""

    seed: np.random.SeedSequence
    size: int


Runner = Callable[[Model, list[Chunk]], list[np.ndarray]]


def run_here(model: Model, chunks: list[Chunk]) -> list[np.ndarray]:
    """Every chunk in this process, in order."""
    return [sample(model, c) for c in chunks]


_runner: contextvars.ContextVar[Runner] = contextvars.ContextVar("monte_carlo_runner", default=run_here)


@contextlib.contextmanager
def running(runner: Runner) -> Iterator[None]:
    """Run the Monte Carlo chunks of every simulation inside this block with ``runner``
    (e.g. on a Dask cluster); where the chunks run is the caller's choice, the numbers are not."""
    token = _runner.set(runner)
    try:
        yield
    finally:
        _runner.reset(token)


def chunks(iterations: int, seed: int | None) -> list[Chunk]:
    """The seeded chunks of a run: ``CHUNK`` iterations each, the last one shorter."""
    sizes = [min(CHUNK, iterations - start) for start in range(0, iterations, CHUNK)]
    return [Chunk(s, size) for s, size in zip(np.random.SeedSequence(seed).spawn(len(sizes)), sizes)]


def sample(model: Model, chunk: Chunk) -> np.ndarray:
    """Totals of every product in each iteration of one chunk, shape (chunk.size, n)."""
    rng = np.random.default_rng(chunk.seed)
    n = model.n
    samples = np.empty((chunk.size, n))
    diag = np.arange(n)
    rows = np.concatenate([diag, model.u_sup])
    cols = np.concatenate([diag, model.u_con])
    for it in range(chunk.size):
        m_row = np.exp(rng.normal(0.0, model.row_sigma))
        m_fac = np.exp(rng.normal(0.0, model.factor_sigma))
        fac_mult = m_fac[np.maximum(model.d_fac, 0)] if len(m_fac) else np.ones(len(model.d_fac))
        fac_mult = np.where(model.d_fac >= 0, fac_mult, 1.0)
        d = np.bincount(model.d_prod, weights=model.d_val * m_row[model.d_row] * fac_mult, minlength=n)
        P = csc_matrix((np.concatenate([np.ones(n), -model.u_amt * m_row[model.u_row]]), (rows, cols)), shape=(n, n))
        samples[it] = splu(P.T.tocsc()).solve(d)
    return samples


def simulate(products: list[str], uses: list[tuple[int, int, float, int]],
             direct: list[tuple[int, float, int, int]], row_sigma: np.ndarray, factor_sigma: np.ndarray,
             iterations: int, seed: int | None) -> dict[str, Uncertainty]:
    """Distribution of each product's total.

    ``uses``: (supplier index, consumer index, per-unit amount, row index) of park products;
    ``direct``: (product index, kg CO2e per unit, row index, factor index or -1) of everything else.
    Multipliers are median-preserving lognormals, the convention of ecoinvent and Brightway.
    """
    u = [np.array(x) for x in zip(*uses)] if uses else [np.zeros(0)] * 4
    d = [np.array(x) for x in zip(*direct)] if direct else [np.zeros(0)] * 4
    model = Model(len(products), u[0].astype(int), u[1].astype(int), u[2].astype(float), u[3].astype(int),
                  d[0].astype(int), d[1].astype(float), d[2].astype(int), d[3].astype(int),
                  np.asarray(row_sigma, dtype=float), np.asarray(factor_sigma, dtype=float))
    samples = np.concatenate(_runner.get()(model, chunks(iterations, seed)))
    result = {}
    for j, pid in enumerate(products):
        s = samples[:, j]
        result[pid] = Uncertainty(iterations=iterations, seed=seed, mean=float(s.mean()), median=float(np.median(s)),
                                  p2_5=float(np.percentile(s, 2.5)), p97_5=float(np.percentile(s, 97.5)))
    return result
