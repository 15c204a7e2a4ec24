"""Iterative BOND and J-BOND on toy spaces (Sessa et al. 2024, Sec. 4.3 and Sec. 5, Algorithm 2).

Iterative BOND distils Best-of-n(anchor) and moves the anchor to the policy: either a hard reset every
``period`` steps, or an EMA theta_a <- (1 - eta) theta_a + eta theta after each step. Best-of-n applied M
times is Best-of-n^M exactly, so M converged hard rounds reach Best-of-n^M(pi_ref) with only n samples
per step. J-BOND is the n = 2, sample-cheap version: one policy sample and two anchor samples per
prompt, with the loss :func:`bondlab.objectives.jbond_loss` and an EMA anchor.

Both run :func:`bondlab.loop.run_loop` with their own step; the anchor moves by :class:`bondlab.anchor.AnchorRule`.
Histories are those of :mod:`bondlab.train` (metric name -> list over steps); the target of each step
is Best-of-n of the anchor *at that step*. ``train_iterative`` also returns, in
``history["bon_equivalent_n"]``, the n^M reached after each hard-anchor round, and in
``history["round_end"]`` the step index (0-based) at which each round ended.
"""
from __future__ import annotations

import torch

from . import objectives as O
from .anchor import AnchorRule
from .bon import bon_log_probs_torch, quantiles
from .configs import IterativeConfig, ToyJBondConfig
from .policies import TablePolicy
from .spaces import Space
from .train import BondStep, _init, metrics, toy_loop

__all__ = ["IterativeConfig", "ToyJBondConfig", "train_iterative", "train_toy_jbond"]


def train_iterative(space: Space, cfg: IterativeConfig | None = None, *, policy: TablePolicy | None = None,
                    progress: bool = False):
    """Iterative BOND (Sec. 4.3): ``rounds * period`` steps against Best-of-n(anchor). Returns ``(policy, history)``."""
    cfg = cfg or IterativeConfig()
    steps = cfg.rounds * cfg.period
    policy, rng, gen = _init(space, cfg.family, policy, cfg.seed)
    anchor = policy.anchor()
    rule = AnchorRule("ema" if cfg.eta > 0 else "hard", cfg.eta, cfg.period)
    bond = BondStep(space, cfg, cfg.objective, cfg.beta, cfg.n, rng, gen)
    bond.set_anchor(anchor.probs_np(), anchor.log_probs())
    opt = [torch.optim.Adam(policy.parameters(), lr=cfg.lr)]
    _, p_le = quantiles(space.ref_probs, space.rewards)
    rounds: list = []   # step index (0-based) at which each hard round ended

    def step(s: int) -> dict:
        loss = bond.loss(policy)
        opt[0].zero_grad()
        loss.backward()
        opt[0].step()
        rec = metrics(policy.probs_np(), bond.target, space, bond.anchor_probs, cfg.beta, p_le=p_le,
                      log_policy=policy.log_probs(), log_target=bond.log_target, log_anchor=bond.log_anchor)
        if rule.after_step(anchor, policy, s):
            opt[0] = torch.optim.Adam(policy.parameters(), lr=cfg.lr)   # fresh moments for the new target
            rounds.append(s - 1)
        if rule.mode == "ema" or rounds and rounds[-1] == s - 1:
            bond.set_anchor(anchor.probs_np(), anchor.log_probs())
        return {"loss": float(loss.detach()), **rec}

    hist = toy_loop(step, steps, progress, "iterative BOND")
    hist["bon_equivalent_n"] = [float(cfg.n) ** (m + 1) for m in range(len(rounds))]
    hist["round_end"] = rounds
    return policy, hist


def train_toy_jbond(space: Space, cfg: ToyJBondConfig | None = None, *, policy: TablePolicy | None = None,
                    progress: bool = False):
    """J-BOND (Sec. 5, Algorithm 2) with n = 2 and an EMA (or hard) anchor. Returns ``(policy, history)``;
    ``history["bon_equivalent_n"]`` holds no hard rounds, so it is not set here."""
    cfg = cfg or ToyJBondConfig()
    policy, _, gen = _init(space, cfg.family, policy, cfg.seed)
    anchor = policy.anchor()
    rule = AnchorRule.of(cfg)
    beta = cfg.effective_beta
    r = torch.tensor(space.rewards)                                                   # (K,)
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    _, p_le = quantiles(space.ref_probs, space.rewards)

    def step(s: int) -> dict:
        with torch.no_grad():
            log_anchor = anchor.log_probs()                                           # (K,)
        anchor_probs = anchor.probs_np()
        if cfg.gradient == "exact":
            loss = O.jbond_objective_exact(policy.log_probs(), log_anchor, r, beta, cfg.gamma)
            if cfg.v1_sign:   # flip only the regulariser's sign, as printed in arXiv v1
                loss = loss - 2 * cfg.gamma * O.backward_kl_exact(policy.log_probs(), log_anchor)
        else:
            y = policy.sample(cfg.batch, gen)                                         # (B,) y ~ pi
            y1, y2 = anchor.sample(cfg.batch, gen), anchor.sample(cfg.batch, gen)     # (B,) y'1, y'2 ~ pi_anchor
            best = torch.where(r[y2] > r[y1], y2, y1)                                 # (B,) first sample wins ties
            loss = O.jbond_loss(policy.log_prob(y), log_anchor[y], r[y], r[y1], r[y2], policy.log_prob(best),
                                beta, cfg.gamma, v1_sign=cfg.v1_sign)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log_target = bon_log_probs_torch(log_anchor.double(), r, 2)                     # (K,) BoN_2(anchor), log space
        rec = metrics(policy.probs_np(), torch.exp(log_target).numpy(), space, anchor_probs, cfg.beta, p_le=p_le,
                      log_policy=policy.log_probs(), log_target=log_target, log_anchor=log_anchor)
        rule.after_step(anchor, policy, s)
        return {"loss": float(loss.detach()), **rec}

    return policy, toy_loop(step, cfg.steps, progress, "J-BOND")
