"""Input checks shared by every room. Each failure is a ``ValueError`` that names the argument."""
from __future__ import annotations

import math

import numpy as np

PROB_TOL = 1e-9  # |sum(p) - 1| allowed for a probability vector


def probs(p, name: str = "ref_probs") -> np.ndarray:
    """A 1-D, non-empty, non-negative float64 vector summing to 1 within ``PROB_TOL``."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {p.shape}")
    if p.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains NaN or inf")
    if np.any(p < 0):
        raise ValueError(f"{name} contains negative entries (min {p.min():.3g})")
    s = math.fsum(p.tolist()) if p.size < 4096 else float(p.sum())
    if abs(s - 1.0) > PROB_TOL:
        raise ValueError(f"{name} must sum to 1 within {PROB_TOL:g}, sums to {s!r}")
    return p


def rewards(r, size: int | None = None, name: str = "rewards") -> np.ndarray:
    """A 1-D finite float64 vector, of length ``size`` when given."""
    r = np.asarray(r, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {r.shape}")
    if r.size == 0:
        raise ValueError(f"{name} must not be empty")
    if size is not None and r.size != size:
        raise ValueError(f"{name} has length {r.size} but ref_probs has length {size}")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"{name} contains NaN or inf")
    return r


def n_real(n, name: str = "n") -> float:
    """A finite real number n >= 1 (the level formula extends Best-of-N to real n)."""
    try:
        v = float(n)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 1, got {n!r}") from None
    if math.isnan(v) or math.isinf(v):
        raise ValueError(f"{name} must be finite, got {n!r}")
    if v < 1:
        raise ValueError(f"{name} must be >= 1, got {n!r}")
    return v


def n_int(n, name: str = "n") -> int:
    """An integer n >= 1 (sampling needs a whole number of draws)."""
    v = n_real(n, name)
    if v != int(v):
        raise ValueError(f"{name} must be a whole number for sampling, got {n!r}")
    return int(v)


def positive_int(k, name: str) -> int:
    if isinstance(k, bool) or not float(k).is_integer() or int(k) < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    return int(k)


def unit_interval(x, name: str = "beta") -> float:
    """A number in [0, 1]."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {x!r}") from None
    if not (0.0 <= v <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must lie in [0, 1], got {x!r}")
    return v


def rng(g, name: str = "rng") -> np.random.Generator:
    if not isinstance(g, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(g).__name__}")
    return g
