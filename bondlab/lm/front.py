"""A run's reward/KL front, paid for in samples drawn: the loop and the measurements of
``benchmarks/bench_jbond_front.py``.

* :func:`train_budgeted` trains J-BOND or REINFORCE with :mod:`bondlab.lm.jbond_groups`' options until a
  budget of policy + anchor samples (= reward calls) is spent or a stop fires; it evaluates every
  ``eval_every`` steps and keeps the per-prompt values of each evaluation.
* evaluations are :func:`bondlab.lm.metrics.evaluate_per_prompt` (one sample per prompt, per-prompt values).
* :func:`kl_at_quantile`: the KL at which the mean quantile first reaches a target (Best-of-N's N/(N+1)),
  linearly interpolated between the two evaluations around the crossing, with a bootstrap interval over the
  evaluation prompts (the same resampled prompts at every evaluation). The interval covers the evaluation's
  noise, not the training run's: other seeds move the point more (the benchmark prints seeds as rows).
* :func:`micro_exact_view`: the same options on the micro GPT with a hard anchor, ending at the exact
  KL(pi || Best-of-2^M(pi_ref)) over every micro sequence.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from .jbond import JBondConfig, train_jbond
from .jbond_groups import VarianceOptions, samples_per_step
from .reinforce import train_reinforce

__all__ = ["train_budgeted", "kl_at_quantile", "micro_exact_view"]


def train_budgeted(kind: str, ref, tokenizer, prompt_pool, reward_fn, cfg, opts: VarianceOptions, *,
                   max_samples: int, evaluate=None, stop=None, progress: bool = True, desc: str = "") -> dict:
    """Train ``kind`` ("jbond": ``cfg`` a JBondConfig; "reinforce": a ReinforceConfig, its beta_rl used) from
    the GPT ``ref`` with the options ``opts`` until ``max_samples`` samples are drawn (whole steps) or
    ``stop(record) -> bool`` says so: :func:`bondlab.lm.jbond.train_jbond` / :func:`bondlab.lm.reinforce.
    train_reinforce` (the one loop), with the config's own stops off.

    ``evaluate(model) -> dict`` runs at step 0 and every ``cfg.eval_every`` steps; each record adds step,
    samples (drawn so far) and wall_s (training seconds, evaluations excluded). Returns a dict: history,
    steps, samples, train_s, policy (GPT), anchor (J-BOND's, a GPT)."""
    if kind not in ("jbond", "reinforce"):
        raise ValueError(f"kind must be 'jbond' or 'reinforce', got {kind!r}")
    per_step = samples_per_step(kind, cfg.batch_prompts, opts)
    total = max(1, int(max_samples) // per_step)
    why = None if stop is None else (lambda rec: "stop" if stop(rec) else None)
    if kind == "jbond":
        c = replace(cfg, samples_per_prompt=opts.samples_per_prompt, kl=opts.kl, pairs=opts.pairs, max_steps=total,
                    keep_going=True)
        res = train_jbond(ref, tokenizer, prompt_pool, reward_fn, c, evaluate=evaluate, stop=why, progress=progress,
                          desc=desc or kind)
    else:
        c = replace(cfg, samples_per_prompt=opts.samples_per_prompt, kl=opts.kl, max_steps=total, kl_budget=None,
                    budget_s=None)
        res = train_reinforce(ref, tokenizer, prompt_pool, reward_fn, c, evaluate=evaluate, stop=why,
                              progress=progress, desc=desc or kind)
    history = [{**h, "samples": h["step"] * per_step} for h in res.history]
    return {"history": history, "steps": res.steps, "samples": res.steps * per_step, "train_s": res.train_s,
            "policy": res.policy, "anchor": res.anchor}


def _crossing(q: np.ndarray, y: np.ndarray, target: float) -> np.ndarray:
    """q, y: (n_evals, R) curves -> (R,) y where q first reaches ``target``, interpolated; NaN if never."""
    hit = q >= target                                                           # (n, R)
    first = np.where(hit.any(0), hit.argmax(0), -1)                             # (R,)
    out = np.full(q.shape[1], np.nan)
    cols = np.nonzero(first >= 0)[0]
    e = first[cols]
    at0 = e == 0
    out[cols[at0]] = y[0, cols[at0]]
    c, e = cols[~at0], e[~at0]
    q0, q1, y0, y1 = q[e - 1, c], q[e, c], y[e - 1, c], y[e, c]
    out[c] = y0 + (target - q0) / (q1 - q0) * (y1 - y0)                        # q1 > q0 at a first crossing
    return out


def kl_at_quantile(history: list, target: float, *, boot: int = 1000, seed: int = 0, key: str = "kl") -> dict:
    """``key`` (default the KL; a scalar such as "samples" is read as one value for every prompt) where the
    mean quantile first reaches ``target``: {"point", "lo", "hi",
    "crossed" (the fraction of bootstrap resamples that cross)}; interval 95% percentile bootstrap over the
    evaluation prompts. NaN entries where the run never reaches the target."""
    q = np.stack([h["quantile"] for h in history])                              # (n, E)
    y = np.stack([np.broadcast_to(np.asarray(h[key], dtype=np.float64), q.shape[1:]) for h in history])  # (n, E)
    point = float(_crossing(q.mean(1, keepdims=True), y.mean(1, keepdims=True), target)[0])
    rng = np.random.default_rng(seed)
    idx = rng.integers(q.shape[1], size=(boot, q.shape[1]))                     # (R, E)
    b = _crossing(q[:, idx].mean(-1), y[:, idx].mean(-1), target)               # (R,)
    ok = b[np.isfinite(b)]
    lo, hi = (np.percentile(ok, [2.5, 97.5]) if ok.size >= 0.975 * boot else (math.nan, math.nan))
    return {"point": point, "lo": float(lo), "hi": float(hi), "crossed": ok.size / boot}


def micro_exact_view(opts: VarianceOptions, cfg: JBondConfig | None = None, *, rounds: int = 3, period: int = 60,
                     model=None, progress: bool = True) -> dict:
    """J-BOND with a hard anchor on the micro GPT for ``rounds`` anchor periods (the target is then
    Best-of-2^rounds(pi_ref)); returns the exact KL(pi || BoN), KL(BoN || pi), KL(pi || pi_ref) and BoN's
    KL(BoN || pi_ref), every one summed over all micro sequences, plus the samples drawn and seconds.
    ``cfg`` defaults to the demo's exact stage: lr 1e-3, 64 prompts, seed 5."""
    from . import load_pretrained
    from .corpus import micro_reward, micro_tokenizer
    from .exact import exact_bon_log_probs, exact_kl, micro_space
    if model is None:
        model, tok = load_pretrained("micro")
    else:
        tok = micro_tokenizer()
    space = micro_space()
    cfg = replace(cfg or JBondConfig(lr=1e-3, seed=5), anchor="hard", hard_period=period,
                  max_new_tokens=space.length, eval_every=10 ** 9)
    with torch.no_grad():
        log_ref = space.log_probs(model)
        log_ref = log_ref - torch.logsumexp(log_ref, 0)
    n = 2 ** rounds
    target = exact_bon_log_probs(log_ref, space.rewards, n)
    per_step = samples_per_step("jbond", cfg.batch_prompts, opts)
    reward_fn = lambda prompts, comp: micro_reward(comp).numpy()  # noqa: E731
    res = train_budgeted("jbond", model, tok, [""], reward_fn, cfg, opts, max_samples=rounds * period * per_step,
                         progress=progress, desc=f"micro exact {opts.kl}/{opts.pairs}/K{opts.samples_per_prompt}")
    with torch.no_grad():
        lp = space.log_probs(res["policy"])
        lp = lp - torch.logsumexp(lp, 0)
    return {"kl_to_bon": float(exact_kl(lp, target)), "kl_from_bon": float(exact_kl(target, lp)),
            "kl_ref": float(exact_kl(lp, log_ref)), "bon_kl_ref": float(exact_kl(target, log_ref)), "n": n,
            "samples": res["samples"], "train_s": res["train_s"]}
