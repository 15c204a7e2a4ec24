"""The anchor pi_anchor of iterative BOND and J-BOND, and how it moves: one module for every scale.

    ema_(anchor, policy, eta)     theta_a <- (1 - eta) theta_a + eta theta        (Sessa et al. 2024, Alg. 2)
    AnchorRule(mode, eta, period).after_step(anchor, policy, step)
                                  "ema": the EMA after every step; "hard": theta_a <- theta every ``period``
                                  steps (iterative BOND, Sec. 4.3: after M rounds the target is Best-of-n^M)

``anchor`` and ``policy`` are anything with ``.parameters()`` in the same order: a toy table, the tiny GPT
(an ``LMPolicy`` or its ``GPT``), a Hugging Face model. The update is written as ``a * (1 - eta) + eta * p``
in the anchor's dtype (each factor, product and sum rounds once: within 3 eps (|a| + |p|) of the exact
value); ``eta = 1`` copies the policy exactly (a hard reset).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .configs import ANCHORS, UNIT, whole

__all__ = ["ema_", "hard_reset_", "AnchorRule"]


def _params(x):
    return x.parameters() if hasattr(x, "parameters") else x


@torch.no_grad()
def ema_(anchor, policy, eta: float):
    """theta_a <- (1 - eta) theta_a + eta theta, in place on ``anchor``'s parameters; returns ``anchor``."""
    eta = UNIT.check("eta", eta)
    for pa, p in zip(_params(anchor), _params(policy)):
        pa.mul_(1 - eta).add_(p.detach().to(pa.device), alpha=eta)
    return anchor


def hard_reset_(anchor, policy):
    """theta_a <- theta exactly (x * 0 + 1 * theta): the hard anchor move."""
    return ema_(anchor, policy, 1.0)


@dataclass(frozen=True)
class AnchorRule:
    """When and how the anchor moves after an optimizer step (steps counted from 1)."""
    mode: str = "ema"      # "ema" (after every step, rate eta) or "hard" (copy the policy every period steps)
    eta: float = 0.05      # EMA rate
    period: int = 50       # steps between hard resets

    def __post_init__(self):
        if self.mode not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}, got {self.mode!r}")
        UNIT.check("eta", self.eta)
        whole().check("hard_period", self.period)

    @classmethod
    def of(cls, cfg) -> "AnchorRule":
        """The rule a J-BOND config asks for (its ``anchor``, ``eta``, ``hard_period``)."""
        return cls(cfg.anchor, cfg.eta, cfg.hard_period)

    def after_step(self, anchor, policy, step: int) -> bool:
        """Move ``anchor`` after optimizer step ``step``; True when it was replaced (a new hard round)."""
        if self.mode == "ema":
            ema_(anchor, policy, self.eta)
            return False
        if step % self.period == 0:
            hard_reset_(anchor, policy)
            return True
        return False
