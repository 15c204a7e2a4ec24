"""Sequence-level Best-of-N with the review GPT: draw N completions per prompt from pi_ref, keep the first
with the highest reward (Sessa et al. 2024, Sec. 3.1, the distribution BOND distils).
"""
from __future__ import annotations

import numpy as np
import torch

from .. import _validate as V
from .metrics import score
from .policy import LMPolicy

__all__ = ["best_of_n", "bon_reward_curve"]


def best_of_n(policy: LMPolicy, prompts, n: int, reward, generator: torch.Generator):
    """Best-of-n for each prompt. Returns a dict with
    ``texts`` (B, n) list of lists, ``rewards`` (B, n) array, ``best`` (B,) index of the kept candidate
    (first argmax), ``kept`` (B,) kept texts, ``completions`` (B, n, T) token ids."""
    n = V.positive_int(n, "n")
    prompts = list(prompts)
    B = len(prompts)
    rep = [p for p in prompts for _ in range(n)]                     # (B n) prompts, n copies in a row
    comp, _ = policy.sample(rep, generator)                          # (B n, T)
    texts = policy.texts(rep, comp)
    r = score(reward, texts).reshape(B, n)                           # (B, n) finite: NaN refused, naming reward
    best = np.argmax(r, axis=1)                                      # first argmax
    grid = [texts[i * n:(i + 1) * n] for i in range(B)]
    return {"texts": grid, "rewards": r, "best": best, "kept": [grid[i][best[i]] for i in range(B)],
            "completions": comp.view(B, n, -1)}


def bon_reward_curve(policy: LMPolicy, prompts, reward, generator: torch.Generator, ns=(1, 2, 4, 8, 16)) -> dict:
    """Mean reward of Best-of-N for each N in ``ns``, from one set of max(ns) draws per prompt (Best-of-N
    uses the first N of them, so the curve is monotone draw by draw). Returns {N: mean reward}."""
    ns = [V.positive_int(k, "ns") for k in ns]
    res = best_of_n(policy, prompts, max(ns), reward, generator)
    r = res["rewards"]                                               # (B, max N)
    return {k: float(r[:, :k].max(axis=1).mean()) for k in ns}
