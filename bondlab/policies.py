"""Policy families on a finite outcome space: a full softmax (tabular) and a restricted, unimodal family.

Both satisfy :class:`bondlab.policy.Policy`, the interface of every trainer at every scale (a toy space has
one empty prompt, so ``prompts`` is the number of draws), and add the whole law for the exact path:

    policy.log_probs()              (K,)  log pi(y) for every outcome (the exact path sums over these)
    policy.sample(batch, generator) (B,)  outcome indices drawn from pi (the sampled path)
    policy.log_prob(samples)        (B,)  log pi(y_i), differentiable in the parameters
    policy.anchor()                       a frozen copy, the anchor pi_anchor of iterative BOND / J-BOND
    anchor.ema_update_(policy, eta)       theta_a <- (1 - eta) theta_a + eta theta  (:mod:`bondlab.anchor`)

Parameters are float64 so the exact path agrees with finite differences to many digits.

- :class:`TabularPolicy`: one logit per outcome; it can represent any law with full support, so it can
  match pi_BoN exactly under every objective.
- :class:`GaussianPolicy`: a discretised Gaussian on the grid positions x, pi(y) proportional to
  exp(-(x_y - mu)^2 / (2 sigma^2)), with learnable mu and log sigma. It is unimodal, so on a bimodal
  pi_BoN forward KL spreads over both modes while backward KL picks one (Sec. 4, mode covering vs seeking).
"""
from __future__ import annotations

import abc
import copy

import numpy as np
import torch
from torch import nn

from . import _validate as V
from .anchor import ema_
from .configs import FAMILIES

__all__ = ["TablePolicy", "TabularPolicy", "GaussianPolicy", "make_policy", "FAMILIES"]

DTYPE = torch.float64


class TablePolicy(nn.Module, abc.ABC):
    """Common code: sampling, per-sample log-probs, anchors and the EMA update. Subclasses define log_probs()."""

    @abc.abstractmethod
    def log_probs(self) -> torch.Tensor:
        """(K,) log pi over the whole space."""

    def probs_np(self) -> np.ndarray:
        """(K,) pi as a float64 numpy vector that sums to 1 (for the exact metrics in bondlab.divergences)."""
        with torch.no_grad():
            p = torch.softmax(self.log_probs(), dim=-1).numpy().astype(np.float64)
        return p / p.sum()

    def log_prob(self, prompts, samples: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) log pi(y_i) for outcome indices ``samples`` (B,), differentiable. The one (empty) prompt may
        be left out: ``log_prob(samples)``."""
        samples = torch.as_tensor(prompts if samples is None else samples, dtype=torch.long)
        return self.log_probs()[samples]

    def sample(self, batch, generator: torch.Generator) -> torch.Tensor:
        """(batch,) outcome indices drawn i.i.d. from pi with the given torch.Generator (``batch``: a count,
        or a sequence of prompts, one draw each)."""
        if not isinstance(batch, (int, np.integer)) and hasattr(batch, "__len__"):
            batch = len(batch)
        batch = V.positive_int(batch, "batch")
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        with torch.no_grad():
            p = torch.softmax(self.log_probs(), dim=-1)
        return torch.multinomial(p, batch, replacement=True, generator=generator)

    def anchor(self) -> "TablePolicy":
        """A frozen deep copy: the anchor pi_anchor (no gradients flow into it)."""
        a = copy.deepcopy(self)
        for prm in a.parameters():
            prm.requires_grad_(False)
        return a

    def ema_update_(self, policy: "TablePolicy", eta: float) -> "TablePolicy":
        """theta_a <- (1 - eta) theta_a + eta theta, in place (:func:`bondlab.anchor.ema_`; eta = 1 copies)."""
        return ema_(self, policy, eta)


class TabularPolicy(TablePolicy):
    """pi = softmax(logits), one logit per outcome: every law with full support is reachable."""

    def __init__(self, probs):
        super().__init__()
        p = V.probs(probs, "probs")
        if np.any(p <= 0):
            raise ValueError("probs must be > 0 everywhere for a tabular softmax (log 0 is not a logit)")
        self.logits = nn.Parameter(torch.tensor(np.log(p), dtype=DTYPE))   # (K,)

    def log_probs(self) -> torch.Tensor:
        return torch.log_softmax(self.logits, dim=-1)                      # (K,)


class GaussianPolicy(TablePolicy):
    """Discretised Gaussian on grid positions x: log pi(y) = -(x_y - mu)^2 / (2 sigma^2) - log Z.

    Two parameters (mu, log sigma); unimodal by construction. Initialised by matching the mean and
    standard deviation of ``probs`` (e.g. pi_ref), so it starts as close to the reference as it can.
    """

    def __init__(self, x, probs):
        super().__init__()
        p = V.probs(probs, "probs")
        x = np.asarray(x, dtype=np.float64)
        if x.shape != p.shape:
            raise ValueError(f"x has shape {x.shape} but probs has {p.shape}")
        if not np.all(np.isfinite(x)) or np.ptp(x) <= 0:
            raise ValueError("x must be finite and not all equal")
        mean = float(p @ x)
        std = max(float(np.sqrt(p @ (x - mean) ** 2)), 1e-3 * float(np.ptp(x)))
        self.register_buffer("x", torch.tensor(x, dtype=DTYPE))            # (K,)
        self.mu = nn.Parameter(torch.tensor(mean, dtype=DTYPE))            # ()
        self.log_sigma = nn.Parameter(torch.tensor(np.log(std), dtype=DTYPE))  # ()

    def log_probs(self) -> torch.Tensor:
        z = (self.x - self.mu) / torch.exp(self.log_sigma)                 # (K,)
        return torch.log_softmax(-0.5 * z * z, dim=-1)                     # (K,)


def make_policy(family: str, x, probs) -> TablePolicy:
    """``"tabular"`` or ``"gaussian"`` policy initialised at ``probs`` (as close as the family allows)."""
    if family == "tabular":
        return TabularPolicy(probs)
    if family == "gaussian":
        return GaussianPolicy(x, probs)
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
