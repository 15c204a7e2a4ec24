"""Input checks shared by every room. Each failure is a ``ValueError`` that names the argument.

Numbers: a bool is not a number here (``n=True`` would be Best-of-1), nor is an array where a scalar
is meant, or None; the text of a number ("3", from a command line) is read as that number. Arrays: bool or non-numeric entries are refused, and so is a torch
tensor that requires grad where numpy is computed (the graph would be cut without a word).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

PROB_TOL = 1e-9  # |sum(p) - 1| allowed for a probability vector
MAX_ITEMS = 10**8  # largest count of items one call may allocate (8 bytes each: 800 MB)


def scalar(x, name: str, what: str = "a number") -> float:
    """A real Python/numpy/0-d-tensor scalar, or the text of one (a command-line value), as float
    (NaN and inf pass; callers bound them)."""
    if isinstance(x, str):
        try:
            return float(x)
        except ValueError:
            raise ValueError(f"{name} must be {what}, got {x!r}"[:200]) from None
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real) and not _is_0d(x):
        raise ValueError(f"{name} must be {what}, got {type(x).__name__} {x!r}"[:200])
    return float(x)


def _is_0d(x) -> bool:
    """A 0-d numeric numpy array or torch tensor without grad (what ``float(x)`` reads as one number)."""
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if shape is None or tuple(shape) != () or getattr(x, "requires_grad", False):
        return False
    return "bool" not in str(dtype) and "complex" not in str(dtype) and ("float" in str(dtype) or "int" in str(dtype))


def array(a, name: str) -> np.ndarray:
    """Anything array-like of real numbers as a float64 numpy array; bools, text, complex refused."""
    if getattr(a, "requires_grad", False):
        raise ValueError(f"{name} is a tensor that requires grad; this function computes in numpy, pass {name}.detach()")
    if hasattr(a, "detach") and hasattr(a, "cpu"):       # a torch tensor without grad, on any device
        a = a.detach().cpu().numpy()
    try:
        raw = np.asarray(a) if not isinstance(a, (str, bytes)) else None
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers (a ragged or non-numeric sequence was given)") from None
    if raw is None or raw.dtype == bool or raw.dtype.kind not in "iuf" and raw.dtype != object:
        raise ValueError(f"{name} must hold real numbers, got {type(a).__name__}"
                         + ("" if raw is None else f" of dtype {raw.dtype}"))
    if raw.dtype == object and any(isinstance(v, (bool, np.bool_, str, bytes)) for v in raw.ravel().tolist()):
        raise ValueError(f"{name} must hold real numbers, not bools or text")
    try:
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold real numbers (a ragged or non-numeric sequence was given)") from None


def probs(p, name: str = "ref_probs") -> np.ndarray:
    """A 1-D, non-empty, non-negative float64 vector summing to 1 within ``PROB_TOL``."""
    p = array(p, name)
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
    r = array(r, name)
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
    v = scalar(n, name, "a number >= 1")
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


def positive_int(k, name: str, most: int | None = None) -> int:
    """A whole number >= 1 (an int, or a float such as 3.0 that is one), at most ``most`` when given
    (a count that sizes an array: what cannot fit is refused here, not by a MemoryError later)."""
    v = scalar(k, name, "a positive integer")
    if not v.is_integer() or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    if most is not None and v > most:
        raise ValueError(f"{name} must be at most {most:,} (it sizes an array in memory), got {k!r}")
    return int(v)


def finite_array(a, name: str, ndim: int | None = 1) -> np.ndarray:
    """A non-empty finite float64 array (1-D unless ``ndim`` says otherwise; None: any)."""
    a = array(a, name)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


def unit_interval(x, name: str = "beta") -> float:
    """A number in [0, 1]."""
    v = scalar(x, name, "a number in [0, 1]")
    if not (0.0 <= v <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must lie in [0, 1], got {x!r}")
    return v


def rng(g, name: str = "rng") -> np.random.Generator:
    if not isinstance(g, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(g).__name__}")
    return g
