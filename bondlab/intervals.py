"""Percentile bootstrap intervals over evaluation prompts (Efron & Tibshirani 1993, ch. 13).

An evaluation gives one number per prompt (a gold reward, a sequence KL, a reference quantile). The
reported value is their mean; its 95% interval comes from resampling the prompts with replacement
``n_boot`` times and taking the 2.5% and 97.5% percentiles of the resampled means. Everything is drawn
from an explicit ``np.random.Generator``: the same generator state gives the same intervals.

One resample is a count vector w (how often each of the n prompts was drawn, summing to n), so a resampled
mean is ``w @ x / n``: every quantity measured on the same prompts is resampled *jointly* with the same
counts (reward and KL of one checkpoint, all the checkpoints of one history, two methods evaluated on the
same prompts for a paired difference).

The front "best reward within KL <= k" picks a checkpoint, so its interval resamples the whole choice: in
each replicate the checkpoint with the best resampled mean reward among those with resampled mean KL <= k
is chosen, and its reward and KL are read. With a separate *selection* set (``select_reward``/
``select_kl``), the choice is made on the selection prompts and the values read on the report prompts,
each set resampled on its own, so that the report does not reuse the noise that made the choice.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import _validate as V

__all__ = ["Interval", "FrontPoint", "LEVEL", "N_BOOT", "resample_counts", "percentile_interval", "mean_interval",
           "joint_mean_intervals", "paired_difference", "history_intervals", "front_point", "front_intervals"]

LEVEL = 0.95    # two-sided coverage of every interval
N_BOOT = 2000   # bootstrap replicates (percentile endpoints move by ~0.03 standard errors between seeds)


@dataclass(frozen=True)
class Interval:
    """A mean over prompts and its percentile bootstrap interval; ``lo`` is None when more than
    (1 - level)/2 of the replicates had no value (a front with no checkpoint within the KL budget)."""
    estimate: float
    lo: float | None
    hi: float | None

    def as_list(self) -> list:
        """[lo, hi]: how the JSON stores an interval next to its estimate."""
        return [self.lo, self.hi]


@dataclass(frozen=True)
class FrontPoint:
    """The checkpoint that holds the front at one KL budget: its index in the history, its report reward and
    KL with intervals, and the fraction of bootstrap replicates in which some checkpoint was within budget."""
    index: int
    reward: Interval
    kl: Interval
    defined: float


def _rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def _level(level) -> float:
    level = V.scalar(level, "level")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    return level


def _n_boot(n_boot) -> int:
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    return int(n_boot)


def _values(x, name: str, ndim: int) -> np.ndarray:
    """Per-prompt values as a finite float64 array with ``ndim`` dimensions and at least 2 prompts (last axis)."""
    a = V.array(x, name)                                                              # bools and text refused
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension{'s' if ndim > 1 else ''} "
                         f"({'checkpoints, prompts' if ndim == 2 else 'prompts'}), got shape {a.shape}")
    if a.shape[-1] < 2 or a.size == 0:
        raise ValueError(f"{name} must hold at least 2 prompts, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds {int((~np.isfinite(a)).sum())} NaN or infinite values")
    return a


def resample_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) float64: how many times each of n prompts is drawn in each bootstrap replicate (n draws
    with replacement; every row sums to n)."""
    rng, n_boot = _rng(rng), _n_boot(n_boot)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    idx = rng.integers(0, n, size=(n_boot, n))                                       # (n_boot, n) draws
    flat = (idx + n * np.arange(n_boot)[:, None]).ravel()                            # replicate-major bins
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def percentile_interval(stats, level: float = LEVEL) -> tuple:
    """(lo, hi): the (1 - level)/2 and (1 + level)/2 percentiles (linear interpolation, numpy's default) of
    bootstrap replicates; -inf marks a replicate without a value, and an endpoint that needs one is None."""
    level = _level(level)
    s = np.sort(np.asarray(stats, dtype=np.float64))
    if s.ndim != 1 or s.size < 2 or np.isnan(s).any() or np.isposinf(s).any():
        raise ValueError("stats must be a 1-d array of at least 2 replicates, finite or -inf")
    out = []
    for q in ((1 - level) / 2, (1 + level) / 2):
        h = (s.size - 1) * q
        i = int(np.floor(h))
        j = min(i + 1, s.size - 1)
        out.append(None if not (np.isfinite(s[i]) and np.isfinite(s[j])) else float(s[i] + (h - i) * (s[j] - s[i])))
    return tuple(out)


def mean_interval(x, rng: np.random.Generator, *, n_boot: int = N_BOOT, level: float = LEVEL) -> Interval:
    """The mean of per-prompt values ``x`` (n,) with its percentile bootstrap interval."""
    return joint_mean_intervals({"x": _values(x, "x", 1)}, rng, n_boot=n_boot, level=level)["x"]


def joint_mean_intervals(values: dict, rng: np.random.Generator, *, n_boot: int = N_BOOT,
                         level: float = LEVEL) -> dict:
    """{name: Interval} for several per-prompt arrays measured on the same n prompts (e.g. reward, KL and
    quantile of one evaluation), resampled jointly: one set of counts for all of them."""
    if not isinstance(values, dict) or not values:
        raise ValueError("values must be a non-empty dict of per-prompt arrays")
    arrs = {k: _values(v, f"values[{k!r}]", 1) for k, v in values.items()}
    n = {a.shape[0] for a in arrs.values()}
    if len(n) != 1:
        raise ValueError(f"values must all hold the same number of prompts, got {sorted(n)}")
    w = resample_counts(n.pop(), n_boot, rng)                                         # (n_boot, n)
    out = {}
    for k, a in arrs.items():
        lo, hi = percentile_interval(w @ a / a.size, level)
        out[k] = Interval(float(a.mean()), lo, hi)
    return out


def paired_difference(x, y, rng: np.random.Generator, *, n_boot: int = N_BOOT, level: float = LEVEL) -> Interval:
    """mean(x) - mean(y) for two quantities measured on the same prompts (x[i] and y[i] on prompt i),
    resampling the prompts in pairs, so that what the prompts share cancels."""
    x, y = _values(x, "x", 1), _values(y, "y", 1)
    if x.shape != y.shape:
        raise ValueError(f"x and y must be measured on the same prompts, got shapes {x.shape} and {y.shape}")
    return mean_interval(x - y, rng, n_boot=n_boot, level=level)


def history_intervals(values: dict, rng: np.random.Generator, *, n_boot: int = N_BOOT,
                      level: float = LEVEL) -> dict:
    """{name: [Interval per checkpoint]} for (C, n) arrays: C checkpoints of one history, each evaluated on
    the same n prompts. One set of counts resamples every checkpoint and every name."""
    if not isinstance(values, dict) or not values:
        raise ValueError("values must be a non-empty dict of (checkpoints, prompts) arrays")
    arrs = {k: _values(v, f"values[{k!r}]", 2) for k, v in values.items()}
    if len({a.shape for a in arrs.values()}) != 1:
        raise ValueError(f"values must share one shape, got {sorted({a.shape for a in arrs.values()})}")
    n = next(iter(arrs.values())).shape[1]
    w = resample_counts(n, n_boot, rng)                                               # (n_boot, n)
    out = {}
    for k, a in arrs.items():
        boot = a @ w.T / n                                                            # (C, n_boot)
        out[k] = [Interval(float(m), *percentile_interval(b, level)) for m, b in zip(a.mean(1), boot)]
    return out


def _choose(sel_r: np.ndarray, sel_kl: np.ndarray, kl_max: float) -> np.ndarray:
    """(R,) index of the checkpoint with the best mean reward among those with mean KL <= kl_max (first wins
    ties), -1 where none is within budget; sel_r, sel_kl (C, R) means for R replicates."""
    masked = np.where(sel_kl <= kl_max, sel_r, -np.inf)                               # (C, R)
    best = np.argmax(masked, axis=0)                                                  # (R,)
    return np.where(np.isfinite(masked[best, np.arange(masked.shape[1])]), best, -1)


def _front_inputs(reward, kl, select_reward, select_kl):
    r, k = _values(reward, "reward", 2), _values(kl, "kl", 2)
    if r.shape != k.shape:
        raise ValueError(f"reward and kl must share one shape (checkpoints, prompts), got {r.shape} and {k.shape}")
    if (select_reward is None) != (select_kl is None):
        raise ValueError("select_reward and select_kl must be given together")
    if select_reward is None:
        return r, k, None, None
    sr, sk = _values(select_reward, "select_reward", 2), _values(select_kl, "select_kl", 2)
    if sr.shape != sk.shape or sr.shape[0] != r.shape[0]:
        raise ValueError(f"select_reward and select_kl must be ({r.shape[0]}, n_select) like the report's "
                         f"checkpoints, got {sr.shape} and {sk.shape}")
    return r, k, sr, sk


def _kls(kls) -> list:
    ks = [float(k) for k in np.atleast_1d(V.array(kls, "kls"))]
    if not ks or not all(np.isfinite(k) and k >= 0 for k in ks):
        raise ValueError(f"kls must be finite KL budgets >= 0, got {kls!r}")
    return ks


def front_point(reward, kl, kl_max: float, *, select_reward=None, select_kl=None) -> int | None:
    """The index of the checkpoint holding the front at ``kl_max``: the best mean reward among checkpoints
    with mean KL <= kl_max, both means on the selection set when given (else on the report set); None
    if no checkpoint is within budget. reward, kl: (C, n) per-prompt values of C checkpoints."""
    r, k, sr, sk = _front_inputs(reward, kl, select_reward, select_kl)
    sr, sk = (r, k) if sr is None else (sr, sk)
    i = int(_choose(sr.mean(1)[:, None], sk.mean(1)[:, None], _kls(kl_max)[0])[0])
    return None if i < 0 else i


def front_intervals(reward, kl, kls, rng: np.random.Generator, *, select_reward=None, select_kl=None,
                    n_boot: int = N_BOOT, level: float = LEVEL) -> list:
    """The front "best reward within KL <= k" for each k in ``kls``, as a list of :class:`FrontPoint` (None
    where no checkpoint is within budget). reward, kl: (C, n) per-prompt report values of C checkpoints
    evaluated on the same n prompts; select_reward, select_kl: (C, m) selection values, or None to choose on
    the report set itself (then the chosen value carries the winner's bias the interval then includes).
    Each replicate resamples the report prompts (and, independently, the selection prompts) jointly for
    reward and KL along the whole history, chooses again and reads the chosen checkpoint's values."""
    rng, n_boot, level = _rng(rng), _n_boot(n_boot), _level(level)
    r, k, sr, sk = _front_inputs(reward, kl, select_reward, select_kl)
    ks = _kls(kls)
    w = resample_counts(r.shape[1], n_boot, rng)                                      # (n_boot, n)
    br, bk = r @ w.T / r.shape[1], k @ w.T / r.shape[1]                               # (C, n_boot)
    if sr is None:
        bsr, bsk = br, bk
    else:
        ws = resample_counts(sr.shape[1], n_boot, rng)                                # (n_boot, m)
        bsr, bsk = sr @ ws.T / sr.shape[1], sk @ ws.T / sr.shape[1]                   # (C, n_boot)
    cols = np.arange(n_boot)
    out = []
    for kmax in ks:
        i = front_point(r, k, kmax, select_reward=sr, select_kl=sk)
        if i is None:
            out.append(None)
            continue
        c = _choose(bsr, bsk, kmax)                                                   # (n_boot,)
        ok = c >= 0
        vr = np.where(ok, br[np.maximum(c, 0), cols], -np.inf)
        vk = np.where(ok, bk[np.maximum(c, 0), cols], -np.inf)
        lo_k, hi_k = percentile_interval(vk[ok], level) if ok.sum() >= 2 else (None, None)
        out.append(FrontPoint(i, Interval(float(r[i].mean()), *percentile_interval(vr, level)),
                              Interval(float(k[i].mean()), lo_k, hi_k), float(ok.mean())))
    return out
