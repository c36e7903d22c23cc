"""Monte Carlo over the park's own matrices: lognormal row and factor uncertainties.

Each input and emission row gets a multiplier (one per row, shared by every product and by the
transport leg it feeds), each factor or background activity a multiplier (shared by all its uses);
every iteration re-solves the park block ``(I − U)ᵀ h = d``. The background's own footprints
are fixed per iteration, so 1,000 iterations cost 1,000 small sparse solves, not 1,000 LCAs.

Geometric standard deviations follow the ecoinvent pedigree approach (Frischknecht et al. 2007,
ecoinvent report No. 1, §7.4, eq. 7.1 with Tables 7.1–7.2; same factors in Weidema et al. 2013,
ecoinvent data quality guideline v3): ``σ = ½·√(Σ ln(Uᵢ)²)`` over the basic uncertainty factor
and the five pedigree factors. How a row's data type and a factor's PACT DQR map to pedigree
scores is footprint's rule, stated in README ("Uncertainty"). A row or factor with an explicit
``gsd`` column uses that geometric standard deviation instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

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


def simulate(products: list[str], uses: list[tuple[int, int, float, int]],
             direct: list[tuple[int, float, int, int]], row_sigma: np.ndarray, factor_sigma: np.ndarray,
             iterations: int, seed: int | None) -> dict[str, Uncertainty]:
    """Distribution of each product's total.

    ``uses``: (supplier index, consumer index, per-unit amount, row index) of park products;
    ``direct``: (product index, kg CO2e per unit, row index, factor index or -1) of everything else.
    Multipliers are median-preserving lognormals, the convention of ecoinvent and Brightway.
    """
    rng = np.random.default_rng(seed)
    n = len(products)
    u_sup, u_con, u_amt, u_row = (np.array(x) for x in zip(*uses)) if uses else [np.zeros(0, int)] * 4
    d_prod, d_val, d_row, d_fac = (np.array(x) for x in zip(*direct)) if direct else [np.zeros(0, int)] * 4
    d_fac = d_fac.astype(int)
    samples = np.empty((iterations, n))
    diag = np.arange(n)
    for it in range(iterations):
        m_row = np.exp(rng.normal(0.0, row_sigma))
        m_fac = np.exp(rng.normal(0.0, factor_sigma)) if len(factor_sigma) else np.ones(0)
        fac_mult = np.where(d_fac >= 0, m_fac[np.maximum(d_fac, 0)] if len(m_fac) else 1.0, 1.0)
        d = np.bincount(d_prod.astype(int), weights=d_val * m_row[d_row.astype(int)] * fac_mult, minlength=n)
        P = csc_matrix((np.concatenate([np.ones(n), -u_amt * m_row[u_row.astype(int)]]),
                        (np.concatenate([diag, u_sup.astype(int)]), np.concatenate([diag, u_con.astype(int)]))),
                       shape=(n, n))
        samples[it] = splu(P.T.tocsc()).solve(d)
    result = {}
    for j, pid in enumerate(products):
        s = samples[:, j]
        result[pid] = Uncertainty(iterations=iterations, seed=seed, mean=float(s.mean()), median=float(np.median(s)),
                                  p2_5=float(np.percentile(s, 2.5)), p97_5=float(np.percentile(s, 97.5)))
    return result
