"""Iterative BOND and J-BOND on toy spaces (Sessa et al. 2024, Sec. 4.3 and Sec. 5, Algorithm 2).

Iterative BOND distils Best-of-n(anchor) and moves the anchor to the policy: either a hard reset every
``period`` steps, or an EMA theta_a <- (1 - eta) theta_a + eta theta after each step. Best-of-n applied M
times is Best-of-n^M exactly, so M converged hard rounds reach Best-of-n^M(pi_ref) with only n samples
per step. J-BOND is the n = 2, sample-cheap version: one policy sample and two anchor samples per
prompt, with the loss :func:`bondlab.objectives.jbond_loss` and an EMA anchor.

Histories are those of :mod:`bondlab.train` (metric name -> list over steps); the target of each step
is Best-of-n of the anchor *at that step*. ``train_iterative`` also returns, in
``history["bon_equivalent_n"]``, the n^M reached after each hard-anchor round, and in
``history["round_end"]`` the step index (0-based) at which each round ended.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from . import _validate as V
from . import objectives as O
from .bon import bon_log_probs_torch, quantiles
from .policies import Policy
from .spaces import Space
from .train import BondStep, _check_common, _init, metrics, new_history, objective_beta, record

__all__ = ["IterativeConfig", "JBondConfig", "train_iterative", "train_jbond"]


@dataclass
class IterativeConfig:
    n: int = 2                    # Best-of-n of the anchor per round (paper: 2 is enough)
    rounds: int = 4               # M, the number of anchor moves (hard mode: target reaches n^M)
    period: int = 150             # T, optimiser steps per round (hard anchor reset every T steps)
    eta: float = 0.0              # EMA rate of the anchor; 0 means hard resets every `period` steps
    objective: str = "jeffreys"   # "forward", "backward" or "jeffreys"
    beta: float = 0.5             # Jeffreys weight on the backward KL
    family: str = "tabular"       # policy family: "tabular" or "gaussian"
    gradient: str = "exact"       # "exact" or "sampled"
    quantile: str = "mc"          # sampled backward term: "exact" or "mc" quantiles of the anchor
    k: int = 16                   # anchor samples per step for the Monte Carlo quantile
    batch: int = 64               # samples per step for each sampled term
    lr: float = 0.05              # Adam learning rate
    seed: int = 0                 # seeds numpy and torch generators


def train_iterative(space: Space, cfg: IterativeConfig | None = None, *, policy: Policy | None = None,
                    progress: bool = False):
    """Iterative BOND (Sec. 4.3): ``rounds * period`` steps against Best-of-n(anchor). Returns ``(policy, history)``."""
    cfg = cfg or IterativeConfig()
    steps = V.positive_int(cfg.rounds, "rounds") * V.positive_int(cfg.period, "period")
    _check_common(cfg.family, cfg.gradient, steps, cfg.lr)
    if cfg.quantile == "learned":
        raise ValueError("quantile 'learned' is supported by train_bond only (the model would be refit per anchor)")
    n = V.n_int(cfg.n) if cfg.gradient == "sampled" else V.n_real(cfg.n)
    eta = V.unit_interval(cfg.eta, "eta")
    objective_beta(cfg.objective, cfg.beta)
    policy, rng, gen = _init(space, cfg.family, policy, cfg.seed)
    anchor = policy.anchor_copy()
    step = BondStep(space, cfg, cfg.objective, cfg.beta, n, rng, gen)
    step.set_anchor(anchor.probs_np(), anchor.log_probs())
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    hist = new_history()
    _, p_le = quantiles(space.ref_probs, space.rewards)
    hist["bon_equivalent_n"], hist["round_end"] = [], []
    for t in tqdm(range(steps), disable=not progress, desc="iterative BOND"):
        loss = step.loss(policy)
        opt.zero_grad()
        loss.backward()
        opt.step()
        record(hist, metrics(policy.probs_np(), step.target, space, step.anchor_probs, cfg.beta, p_le=p_le,
                             log_policy=policy.log_probs(), log_target=step.log_target, log_anchor=step.log_anchor))
        if eta > 0:
            anchor.ema_update_(policy, eta)
        elif (t + 1) % cfg.period == 0:
            anchor.load_from_(policy)
            opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)   # fresh moments for the new target
            hist["bon_equivalent_n"].append(float(n) ** len(hist["round_end"]) * float(n))
            hist["round_end"].append(t)
        else:
            continue
        step.set_anchor(anchor.probs_np(), anchor.log_probs())
    return policy, hist


@dataclass
class JBondConfig:
    beta: float = 0.5             # Jeffreys weight on the backward term (paper: 0.5)
    gamma: float = 0.0            # weight of the extra regulariser gamma * KL(pi || pi_anchor) (paper: 0-2)
    eta: float = 0.05             # EMA rate of the anchor (paper: 0.02 on Gemma 7B, 0.01-0.1 on 2B)
    family: str = "tabular"       # policy family: "tabular" or "gaussian"
    gradient: str = "sampled"     # "sampled" (Algorithm 2) or "exact" (its expectation, anchor held fixed)
    batch: int = 64               # prompts per step: one policy sample and two anchor samples each
    steps: int = 400              # optimiser steps
    lr: float = 0.05              # Adam learning rate
    seed: int = 0                 # seeds the torch generator (policy and anchor samples)
    v1_sign: bool = False         # True flips the regulariser to arXiv v1's printed sign (raises the KL)


def train_jbond(space: Space, cfg: JBondConfig | None = None, *, policy: Policy | None = None,
                progress: bool = False):
    """J-BOND (Sec. 5, Algorithm 2) with n = 2 and an EMA anchor. Returns ``(policy, history)``;
    ``history["bon_equivalent_n"]`` holds no hard rounds, so it is not set here."""
    cfg = cfg or JBondConfig()
    _check_common(cfg.family, cfg.gradient, cfg.steps, cfg.lr)
    V.unit_interval(cfg.beta, "beta")
    eta = V.unit_interval(cfg.eta, "eta")
    if not (float(cfg.gamma) >= 0):
        raise ValueError(f"gamma must be >= 0, got {cfg.gamma!r}")
    V.positive_int(cfg.batch, "batch")
    if cfg.gradient == "sampled" and cfg.batch < 2:
        raise ValueError("batch must be >= 2 for the leave-one-out baseline")
    policy, _, gen = _init(space, cfg.family, policy, cfg.seed)
    anchor = policy.anchor_copy()
    r = torch.tensor(space.rewards)                                                   # (K,)
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    hist = new_history()
    _, p_le = quantiles(space.ref_probs, space.rewards)
    for _ in tqdm(range(cfg.steps), disable=not progress, desc="J-BOND"):
        with torch.no_grad():
            log_anchor = anchor.log_probs()                                           # (K,)
        anchor_probs = anchor.probs_np()
        if cfg.gradient == "exact":
            loss = O.jbond_objective_exact(policy.log_probs(), log_anchor, r, cfg.beta, cfg.gamma)
            if cfg.v1_sign:   # flip only the regulariser's sign, as printed in arXiv v1
                loss = loss - 2 * cfg.gamma * O.backward_kl_exact(policy.log_probs(), log_anchor)
        else:
            y = policy.sample(cfg.batch, gen)                                         # (B,) y ~ pi
            y1, y2 = anchor.sample(cfg.batch, gen), anchor.sample(cfg.batch, gen)     # (B,) y'1, y'2 ~ pi_anchor
            best = torch.where(r[y2] > r[y1], y2, y1)                                 # (B,) first sample wins ties
            loss = O.jbond_loss(policy.log_prob(y), log_anchor[y], r[y], r[y1], r[y2], policy.log_prob(best),
                                cfg.beta, cfg.gamma, v1_sign=cfg.v1_sign)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log_target = bon_log_probs_torch(log_anchor.double(), r, 2)                     # (K,) BoN_2(anchor), log space
        record(hist, metrics(policy.probs_np(), torch.exp(log_target).numpy(), space, anchor_probs, cfg.beta, p_le=p_le,
                             log_policy=policy.log_probs(), log_target=log_target, log_anchor=log_anchor))
        anchor.ema_update_(policy, eta)
    return policy, hist
