r"""Simulators for the BG/NBD, Pareto/NBD and Gamma-Gamma models.

They draw customers from the models' generative stories, fully vectorised, for parameter-
recovery tests and benchmarks. All take a ``seed`` (or a ``numpy.random.Generator``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "simulate_bgnbd",
    "simulate_gammagamma",
    "simulate_paretonbd",
    "simulate_transactions",
]

SeedLike = int | np.random.Generator | None


def _rng(seed: SeedLike) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _ages(n: int, T: ArrayLike | tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    if isinstance(T, tuple):
        return rng.uniform(T[0], T[1], size=n)
    return np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()


def _bgnbd_counts(
    n: int, r: float, alpha: float, a: float, b: float, T: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Arrivals N(T) of the Poisson process and the purchase cap K (dies after K-th purchase)."""
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    arrivals = rng.poisson(lam * T)
    cap = rng.geometric(np.clip(p, 1e-12, 1.0))
    return arrivals, np.minimum(arrivals, cap)


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    T: ArrayLike | tuple[float, float] = 52.0,
    seed: SeedLike = None,
) -> pd.DataFrame:
    r"""Draw ``n`` customers from the BG/NBD model.

    :math:`\lambda\sim\mathrm{Gamma}(r,\alpha)`, :math:`p\sim\mathrm{Beta}(a,b)`; a customer dies
    after each purchase with probability p, so the number of repeat purchases is
    :math:`x=\min(N(T), K)` with :math:`N(T)\sim\mathrm{Poisson}(\lambda T)` and
    :math:`K\sim\mathrm{Geometric}(p)`. Given N(T) = n arrivals, :math:`t_x/T` is the x-th order
    statistic of n uniforms, i.e. :math:`\mathrm{Beta}(x, n-x+1)`.

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha, a, b : float
        Model parameters.
    T : float, array or (low, high)
        Customer ages; a tuple draws continuous ages uniformly on (low, high).
    seed : int or Generator, optional

    Returns
    -------
    DataFrame with columns ``frequency``, ``recency``, ``T``.
    """
    rng = _rng(seed)
    ages = _ages(n, T, rng)
    arrivals, x = _bgnbd_counts(n, r, alpha, a, b, ages, rng)
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = ages[pos] * rng.beta(x[pos], arrivals[pos] - x[pos] + 1)
    return pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": ages})


def simulate_paretonbd(
    n: int,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    *,
    T: ArrayLike | tuple[float, float] = 52.0,
    seed: SeedLike = None,
) -> pd.DataFrame:
    r"""Draw ``n`` customers from the Pareto/NBD model.

    :math:`\lambda\sim\mathrm{Gamma}(r,\alpha)`, :math:`\mu\sim\mathrm{Gamma}(s,\beta)`, lifetime
    :math:`\tau\sim\mathrm{Exp}(\mu)`; purchases are Poisson on :math:`(0, \min(\tau, T)]`, so
    :math:`x\sim\mathrm{Poisson}(\lambda\min(\tau,T))` and
    :math:`t_x = \min(\tau,T)\,U^{1/x}`.

    Returns
    -------
    DataFrame with columns ``frequency``, ``recency``, ``T``.
    """
    rng = _rng(seed)
    ages = _ages(n, T, rng)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    mu = rng.gamma(s, 1.0 / beta, size=n)
    life = np.minimum(rng.exponential(1.0 / np.maximum(mu, 1e-300)), ages)
    x = rng.poisson(lam * life)
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = life[pos] * rng.random(pos.sum()) ** (1.0 / x[pos])
    return pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": ages})


def simulate_gammagamma(
    frequency: ArrayLike, p: float, q: float, v: float, *, seed: SeedLike = None
) -> np.ndarray:
    r"""Mean repeat spend :math:`\bar z` for customers with the given frequencies.

    :math:`\nu\sim\mathrm{Gamma}(q, v)` per customer and :math:`z_j\sim\mathrm{Gamma}(p,\nu)`,
    so the mean of x transactions is :math:`\mathrm{Gamma}(px, x\nu)`. Returns 0 when x = 0.
    """
    rng = _rng(seed)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / v, size=x.shape)
    out = np.zeros(x.shape)
    pos = x > 0
    out[pos] = rng.gamma(p * x[pos], 1.0 / (x[pos] * nu[pos]))
    return out


def simulate_transactions(
    n_customers: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    *,
    p: float = 6.0,
    q: float = 4.0,
    v: float = 15.0,
    start: str = "2024-01-01",
    cohort_days: int = 84,
    observation_days: int = 365,
    seed: SeedLike = None,
) -> pd.DataFrame:
    r"""A day-level BG/NBD transaction log with Gamma-Gamma amounts.

    First purchases are uniform over the first ``cohort_days``; rates are per day. Purchase
    times fall on distinct days only approximately (same-day purchases are possible, as in real
    data, and are merged by :func:`~retento.analytics.summarize`).

    Returns
    -------
    DataFrame with columns ``customer_id``, ``date`` (datetime64) and ``amount``.
    """
    rng = _rng(seed)
    first = rng.integers(0, cohort_days, size=n_customers)
    ages = (observation_days - first).astype(float)
    arrivals, x = _bgnbd_counts(n_customers, r, alpha, a, b, ages, rng)
    # Arrival times: uniform order statistics per customer, keep the first x.
    owner = np.repeat(np.arange(n_customers), arrivals)
    u = rng.random(len(owner)) * ages[owner]
    order = np.lexsort((u, owner))
    u = u[order]
    starts = np.concatenate([[0], np.cumsum(arrivals)[:-1]])
    rank = np.arange(len(owner)) - starts[owner]
    keep = rank < x[owner]
    rep_owner, rep_day = owner[keep], first[owner[keep]] + np.ceil(u[keep]).astype(np.int64)
    cust = np.concatenate([np.arange(n_customers), rep_owner])
    day = np.concatenate([first, rep_day])
    nu = rng.gamma(q, 1.0 / v, size=n_customers)
    amount = np.round(rng.gamma(p, 1.0 / nu[cust]), 2)
    dates = np.datetime64(start, "D") + day.astype("timedelta64[D]")
    return pd.DataFrame({"customer_id": cust + 1, "date": dates, "amount": amount})
