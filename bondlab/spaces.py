"""Toy outcome spaces: a 1-D grid, a mixture reference distribution, reward shapes, tie examples."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _validate as V

__all__ = ["Space", "grid_mixture", "reward_shape", "REWARD_SHAPES", "tie_example", "uniform_binary"]

REWARD_SHAPES = ("linear", "bump", "steps", "two_peaks")


@dataclass
class Space:
    """A finite outcome space: positions x, the reference law pi_ref and a reward per outcome."""
    x: np.ndarray            # (K,) outcome positions (for plotting)
    ref_probs: np.ndarray    # (K,) pi_ref, sums to 1
    rewards: np.ndarray      # (K,) r(y)
    name: str = "space"      # label for plots
    meta: dict = field(default_factory=dict)  # what built it (weights, shape, ...)

    def __post_init__(self):
        self.ref_probs = V.probs(self.ref_probs)
        self.rewards = V.rewards(self.rewards, self.ref_probs.size)
        self.x = V.finite_array(self.x, "x", ndim=None)
        if self.x.shape != self.ref_probs.shape:
            raise ValueError(f"x has shape {self.x.shape} but ref_probs has {self.ref_probs.shape}")


def reward_shape(x, kind: str = "linear") -> np.ndarray:
    """Reward over grid positions x in [-1, 1]: 'linear', 'bump' (peak at 0.5), 'steps' (5 tied levels),
    'two_peaks' (a tall peak at 0.6 and a lower one at -0.6)."""
    x = V.finite_array(x, "x", ndim=None)
    if not isinstance(kind, str):
        raise ValueError(f"kind must be one of {REWARD_SHAPES}, got {type(kind).__name__}")
    if kind == "linear":
        return x.copy()
    with np.errstate(over="ignore"):   # far from the peaks (x - c)^2 may overflow: exp(-inf) = 0 is exact
        return _shape(x, kind)


def _shape(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "bump":
        return np.exp(-((x - 0.5) ** 2) / 0.08)
    if kind == "steps":
        return np.floor((x + 1) * 2.5).clip(0, 4)
    if kind == "two_peaks":
        return np.exp(-((x - 0.6) ** 2) / 0.02) + 0.8 * np.exp(-((x + 0.6) ** 2) / 0.02)
    raise ValueError(f"kind must be one of {REWARD_SHAPES}, got {kind!r}")


def grid_mixture(k: int = 101, weights=(0.6, 0.4), means=(-0.4, 0.4), scales=(0.2, 0.15),
                 reward: str = "linear") -> Space:
    """pi_ref = a mixture of discretised Gaussians on k grid points in [-1, 1], with a reward shape."""
    k = V.positive_int(k, "k", most=10**7)
    w, means, scales = (V.finite_array(a, name) for a, name in ((weights, "weights"), (means, "means"), (scales, "scales")))
    if not (w.shape == means.shape == scales.shape):
        raise ValueError(f"weights, means and scales must be 1-D of one length, got {w.size}, {means.size}, {scales.size}")
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {weights!r}")
    if np.any(scales <= 0):
        raise ValueError(f"scales must be positive, got {scales!r}")
    if not isinstance(reward, str) or reward not in REWARD_SHAPES:
        raise ValueError(f"reward must be one of {REWARD_SHAPES}, got {reward!r}")
    x = np.linspace(-1, 1, k)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):   # a subnormal scale: checked just below
        dens = np.exp(-0.5 * ((x[:, None] - means[None, :]) / scales[None, :]) ** 2) / scales[None, :]  # (k, M)
        mass = dens.sum(axis=0)                                                                       # (M,)
    if not np.all(np.isfinite(mass) & (mass > 0)):   # a far-off mean or a tiny scale: 0/0 or inf/inf below
        i = int(np.flatnonzero(~(np.isfinite(mass) & (mass > 0)))[0])
        raise ValueError(f"means[{i}] = {means[i]:g} with scales[{i}] = {scales[i]:g} puts no representable mass "
                         f"on the {k} grid points in [-1, 1]; move the mean closer or widen the scale")
    comp = dens / mass[None, :]
    p = comp @ (w / w.sum())
    p /= p.sum()
    return Space(x, p, reward_shape(x, reward), name=f"mixture/{reward}",
                 meta=dict(weights=w.tolist(), means=means.tolist(), scales=scales.tolist(), reward=reward))


def tie_example() -> Space:
    """Six outcomes, three reward levels, with a heavy tied top level: term (B) is visibly at work."""
    p = np.array([0.30, 0.20, 0.15, 0.15, 0.12, 0.08])
    r = np.array([0.0, 0.0, 1.0, 1.0, 2.0, 2.0])
    return Space(np.arange(6.0), p, r, name="ties")


def uniform_binary() -> Space:
    """Two equally likely outcomes with different rewards: KL(pi_BoN || pi_ref) < log 2 for every N
    (Beirami et al. 2024), far below log N - (N-1)/N for large N."""
    return Space(np.arange(2.0), np.array([0.5, 0.5]), np.array([0.0, 1.0]), name="binary")
