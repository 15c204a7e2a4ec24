"""Training loops on toy spaces: BOND (forward / backward / Jeffreys), exact or sampled, and the REINFORCE baseline.

Iterative BOND and J-BOND live in :mod:`bondlab.jbond`. Every trainer runs :func:`bondlab.loop.run_loop`
with its own step (configs in :mod:`bondlab.configs`) and returns ``(policy, history)`` where
``history`` is plain data: a dict mapping each metric in :data:`METRICS` to a list over steps, all exact
(computed on the whole space after each update):

    fwd_kl    KL(pi_BoN || pi)      bwd_kl    KL(pi || pi_BoN)     jeffreys  J_beta(pi || pi_BoN)
    kl_ref    KL(pi || pi_ref)      kl_anchor KL(pi || pi_anchor)   quantile  E_pi[p_le(y)] under pi_ref
    reward    E_pi[r]               entropy   H(pi)

pi_BoN is the run's target: Best-of-N(pi_ref) for plain BOND, Best-of-n(current anchor) for iterative
runs, and the RLHF optimum pi_ref exp(r/beta_RL)/Z for REINFORCE.

Gradients: ``gradient="exact"`` differentiates the expectation over the whole space
(:mod:`bondlab.objectives` ``*_exact``); ``gradient="sampled"`` uses the paper's estimators on samples
(the same loss functions the LM trainer calls).
"""
from __future__ import annotations

import numpy as np
import torch

from . import _validate as V
from . import objectives as O
from .bon import bon_log_probs, bon_log_probs_torch, quantiles, sample_bon
from .configs import OBJECTIVES, BondConfig, ToyReinforceConfig, objective_beta
from .divergences import entropy, kl_log
from .loop import run_loop
from .policies import TablePolicy, make_policy
from .quantile_model import QuantileConfig, fit_quantile_model
from .quantile_estimates import mc_p_le
from .spaces import Space

__all__ = ["METRICS", "OBJECTIVES", "BondConfig", "ToyReinforceConfig", "metrics", "columns", "train_bond",
           "train_toy_reinforce", "objective_beta", "toy_loop", "BondStep"]

METRICS = ("fwd_kl", "bwd_kl", "jeffreys", "kl_ref", "kl_anchor", "quantile", "reward", "entropy")


def _norm(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return p / p.sum()


def _log_norm(log_p) -> np.ndarray:
    """A log-law as a float64 numpy vector normalised in log space (a tensor is detached)."""
    lp = log_p.detach().double().cpu().numpy() if isinstance(log_p, torch.Tensor) else np.asarray(log_p, np.float64)
    return lp - np.logaddexp.reduce(lp)


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p)


def metrics(policy_probs, target_probs, space: Space, anchor_probs=None, beta: float = 0.5, *, p_le=None,
            log_policy=None, log_target=None, log_anchor=None) -> dict:
    """The exact metrics of :data:`METRICS` for one policy, as floats (``p_le`` under pi_ref may be passed in).

    Every KL is taken in log space (:func:`bondlab.divergences.kl_log`). Pass ``log_policy`` /
    ``log_target`` / ``log_anchor`` (log-probabilities) wherever a law has entries below float64's range
    (Best-of-n at large n): the KLs then stay finite and exact, where the probabilities would underflow to
    0 and make them infinite. Without them the logs of the probabilities are used.
    """
    pi, tgt = _norm(policy_probs), _norm(target_probs)
    anchor = space.ref_probs if anchor_probs is None else _norm(anchor_probs)
    if p_le is None:
        _, p_le = quantiles(space.ref_probs, space.rewards)
    lpi = _log(pi) if log_policy is None else _log_norm(log_policy)
    ltg = _log(tgt) if log_target is None else _log_norm(log_target)
    lan = _log(anchor) if log_anchor is None else _log_norm(log_anchor)
    fwd, bwd = kl_log(ltg, lpi), kl_log(lpi, ltg)
    return dict(fwd_kl=fwd, bwd_kl=bwd, jeffreys=(1 - beta) * fwd + beta * bwd, kl_ref=kl_log(lpi, _log(space.ref_probs)),
                kl_anchor=kl_log(lpi, lan), quantile=float(pi @ p_le), reward=float(pi @ space.rewards),
                entropy=entropy(pi))


def columns(records: list) -> dict:
    """The loop's records as the toy history: metric name -> list over steps."""
    return {m: [float(r[m]) for r in records] for m in METRICS}


def toy_loop(step, steps: int, progress: bool, desc: str) -> dict:
    """:func:`bondlab.loop.run_loop` the toy way: exact metrics after every step (the step returns them), no
    evaluation at step 0, no stop rule; returns the history columns."""
    res = run_loop(step, max_steps=steps, eval_every=1, eval_at_start=False, progress=progress, desc=desc,
                   leave=True, postfix=None)
    return columns(res.history)


class BondStep:
    """One BOND loss evaluation against a fixed anchor; reused by iterative BOND with a moving anchor."""

    def __init__(self, space: Space, cfg, objective: str, beta: float, n, rng, gen):
        self.space, self.cfg, self.n, self.rng, self.gen = space, cfg, n, rng, gen
        self.beta = objective_beta(objective, beta)
        self.r = torch.tensor(space.rewards)                                  # (K,)
        self.qmodel = None
        self.set_anchor(space.ref_probs)

    def set_anchor(self, anchor_probs: np.ndarray, log_anchor: torch.Tensor | None = None) -> None:
        """Best-of-n of this anchor becomes the target; pass the anchor's (K,) log-probs where it has entries
        below float64's range (a trained anchor), so that the target is taken from them, not from 0s."""
        self.anchor_probs = _norm(anchor_probs)
        # log space: at large n, pi_BoN underflows to 0 far from the top, and log 0 would make KL(pi || target)
        # infinite for a policy whose support is everything (a Gaussian), hence NaN gradients
        if log_anchor is None:
            self.log_anchor = torch.tensor(_log(self.anchor_probs))
            log_target = torch.tensor(bon_log_probs(self.anchor_probs, self.space.rewards, self.n))
        else:
            self.log_anchor = torch.tensor(_log_norm(log_anchor))                          # (K,) float64
            log_target = bon_log_probs_torch(self.log_anchor, self.r.to(torch.float64), self.n)
        self.log_target = log_target                                                       # (K,) log pi_BoN(anchor)
        self.target = np.exp(log_target.numpy())
        self.log_p_le = torch.tensor(np.log(quantiles(self.anchor_probs, self.space.rewards)[1]))
        if getattr(self.cfg, "quantile", "mc") == "learned" and self.cfg.gradient == "sampled" and self.beta > 0:
            qcfg = QuantileConfig(seed=int(self.rng.integers(2**31)))
            self.qmodel, self.qfeats, _ = fit_quantile_model(self.anchor_probs, self.space.rewards, qcfg)

    def loss(self, policy: TablePolicy) -> torch.Tensor:
        """J_beta to the anchor's Best-of-n: its exact expectation (:func:`bondlab.objectives.jeffreys_exact`) or
        the paper's sampled surrogate (:func:`bondlab.objectives.jeffreys_bond_loss`)."""
        cfg, beta = self.cfg, self.beta
        if cfg.gradient == "exact":
            return O.jeffreys_exact(policy.log_probs(), self.log_target, beta)
        logp_best = logp = logp_anchor = log_p_hat = None   # a term of weight 0 draws no samples
        if beta < 1:   # forward: SFT on true Best-of-n samples of the anchor
            y_best = torch.from_numpy(sample_bon(self.anchor_probs, self.space.rewards, V.n_int(self.n), cfg.batch, self.rng))
            logp_best = policy.log_prob(y_best)                                            # (B,)
        if beta > 0:   # backward: policy gradient with reward (N-1) log p_hat_le - log(pi / pi_anchor)
            y = policy.sample(cfg.batch, self.gen)                                         # (B,)
            logp, logp_anchor, log_p_hat = policy.log_prob(y), self.log_anchor[y], self.log_p_hat(y)
        return O.jeffreys_bond_loss(logp_best, logp, logp_anchor, log_p_hat, self.n, beta)

    def log_p_hat(self, y: torch.Tensor) -> torch.Tensor:
        """(B,) log p_hat_le(y) under the anchor: exact, Monte Carlo (k shared samples, clamp 1/(2k)) or learned."""
        q = self.cfg.quantile
        if q == "exact":
            return self.log_p_le[y]
        if q == "mc":
            p_hat = mc_p_le(self.anchor_probs, self.space.rewards, self.cfg.k, self.rng)   # (K,) clamped
            return torch.tensor(np.log(p_hat))[y]
        if q == "learned":
            with torch.no_grad():
                return self.qmodel.log_p_le(self.qfeats[y])
        raise ValueError(f"quantile must be 'exact', 'mc' or 'learned', got {q!r}")


def _init(space: Space, family: str, policy: TablePolicy | None, seed: int):
    if not isinstance(space, Space):
        raise ValueError(f"space must be a bondlab.spaces.Space, got {type(space).__name__}")
    policy = make_policy(family, space.x, space.ref_probs) if policy is None else policy
    return policy, np.random.default_rng(seed), torch.Generator().manual_seed(int(seed))


def train_bond(space: Space, cfg: BondConfig | None = None, *, policy: TablePolicy | None = None,
               progress: bool = False):
    """Distil Best-of-N(pi_ref) into a policy (Sessa et al. 2024, Sec. 4). Returns ``(policy, history)``."""
    cfg = cfg or BondConfig()
    policy, rng, gen = _init(space, cfg.family, policy, cfg.seed)
    bond = BondStep(space, cfg, cfg.objective, cfg.beta, cfg.n, rng, gen)
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    _, p_le = quantiles(space.ref_probs, space.rewards)

    def step(s: int) -> dict:
        loss = bond.loss(policy)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach()), **metrics(policy.probs_np(), bond.target, space, space.ref_probs,
                                                        cfg.beta, p_le=p_le, log_policy=policy.log_probs(),
                                                        log_target=bond.log_target)}

    return policy, toy_loop(step, cfg.steps, progress, f"BOND {cfg.objective}")


def train_toy_reinforce(space: Space, cfg: ToyReinforceConfig | None = None, *, policy: TablePolicy | None = None,
                        progress: bool = False):
    """The RLHF baseline: maximise E[r] - beta_RL KL(pi || pi_ref). History targets pi_ref exp(r/beta_RL)/Z."""
    cfg = cfg or ToyReinforceConfig()
    policy, _, gen = _init(space, cfg.family, policy, cfg.seed)
    target = O.rlhf_optimal_probs(space.ref_probs, space.rewards, cfg.beta_rl)
    log_ref, r = torch.tensor(_log(space.ref_probs)), torch.tensor(space.rewards)
    log_target = log_ref + r / cfg.beta_rl                                                # unnormalised: metrics normalises
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    _, p_le = quantiles(space.ref_probs, space.rewards)

    def step(s: int) -> dict:
        if cfg.gradient == "exact":
            loss = O.reinforce_objective_exact(policy.log_probs(), log_ref, r, cfg.beta_rl)
        else:
            y = policy.sample(cfg.batch, gen)                                              # (B,)
            loss = O.reinforce_loss(policy.log_prob(y), log_ref[y], r[y], cfg.beta_rl)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach()), **metrics(policy.probs_np(), target, space, space.ref_probs, p_le=p_le,
                                                        log_policy=policy.log_probs(), log_target=log_target)}

    return policy, toy_loop(step, cfg.steps, progress, "REINFORCE")
