"""Oracles and readers shared by several test files (imported as ``from helpers import ...``)."""
import itertools
import math
import re

import numpy as np
import torch


def enumerate_bon(p, r, n):
    """Law of 'draw n from p, keep the first best', by enumerating all K^n draws (the brute-force oracle)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.zeros(p.size)
    for draw in itertools.product(range(p.size), repeat=n):
        best = max(range(n), key=lambda i: (r[draw[i]], -i))
        out[draw[best]] += math.prod(p[j] for j in draw)
    return out


def readout(panel):
    """A panel's readout table as {id: value}."""
    return {k: float(v) for k, v in re.findall(r'id="(\w+)"[^>]*>([-+0-9.e]+)<', panel.readout.value)}


def line(ax, needle):
    """The y-data of the one line on ``ax`` whose label contains ``needle``."""
    hits = [ln for ln in ax.get_lines() if needle in ln.get_label()]
    assert len(hits) == 1
    return np.asarray(hits[0].get_ydata())


def bon_mpmath(p, r, n, dps=60):
    """(K,) Best-of-n law as mpmath numbers (level form, Theorem 1), exact for 1 - F down to 1e-300 and
    huge n: pi_ref renormalised exactly, each F taken from the side where it is small, the level mass
    F(r)^n (1 - (F(r-)/F(r))^n) with the ratio taken directly when <= 1/2, else as 1 - m/F(r)."""
    import mpmath as mp
    with mp.workdps(dps):
        pm = [mp.mpf(float(x)) for x in p]
        z = mp.fsum(pm)
        pm = [x / z for x in pm]
        n = mp.mpf(float(n))
        out = []
        for x, rr in zip(pm, r):
            if x == 0:
                out.append(mp.mpf(0))
                continue
            m = mp.fsum(q for q, s in zip(pm, r) if s == rr)
            below = mp.fsum(q for q, s in zip(pm, r) if s < rr)
            f_le = mp.fsum(q for q, s in zip(pm, r) if s <= rr)
            log_hi = mp.log(f_le) if f_le <= 0.5 else mp.log1p(-mp.fsum(q for q, s in zip(pm, r) if s > rr))
            ratio = below / mp.exp(log_hi)
            tail = -mp.expm1(n * (mp.log(ratio) if ratio <= 0.5 else mp.log1p(-m / mp.exp(log_hi)))) if below > 0 else 1
            out.append(x / m * mp.exp(n * log_hi) * tail)
        return out


# ---------------------------------------------------------------- float tolerances from the arithmetic
EPS32 = float(np.finfo(np.float32).eps)     # 1.19e-7: spacing of float32 numbers at 1 (unit roundoff u = eps/2)
EPS64 = float(np.finfo(np.float64).eps)     # 2.22e-16


def sum_tol(n_terms, abs_sum, eps=EPS64):
    """How far two floating sums of the same ``n_terms`` terms, taken in different orders (one thread or two,
    one kernel or another), can lie apart: each is within (n - 1) u sum|x_i| of the exact sum (Higham,
    Accuracy and Stability of Numerical Algorithms, 2002, eq. 4.4; u = eps / 2), so the two differ by at
    most n * eps * sum|x_i|."""
    return n_terms * eps * abs_sum


def gpt_chain(cfg) -> int:
    """K: the number of terms summed along the longest chain of reductions that makes one token log-prob of
    a GPT (bondlab.lm.GPT, or a Hugging Face GPT-2): per block the qkv, attention (block_size keys), proj, MLP in and MLP out (4 n_embd)
    products and two LayerNorms (mean and variance), then ln_f, the tied head and the log-softmax."""
    E, T = cfg.n_embd, getattr(cfg, "block_size", None) or cfg.n_positions   # a bondlab GPTConfig or a GPT-2's
    return cfg.n_layer * (E + T + E + E + 4 * E + 2 * 2 * E) + 2 * E + E + cfg.vocab_size


def gpt_tol(cfg, n_tokens, logit_scale, eps=EPS64):
    """First-order bound on how far two evaluations of a sum of ``n_tokens`` token log-probs of one GPT can
    lie apart when the forward passes differ in shape or order (KV cache or tree walk against teacher
    forcing, padded batch against one row, one thread against two): ``sum_tol`` with K = ``gpt_chain``
    terms per token, each of magnitude up to ``logit_scale`` (the largest finite |logit| plus 1: the
    layer-normed activations are O(1)). In float64 this stays below 1e-9 for bondlab's models, far under any
    real defect (a wrong index or mask moves a log-prob by 1e-3 or more)."""
    return sum_tol(n_tokens * gpt_chain(cfg), logit_scale, eps)


def logit_scale(model, *batches):
    """1 + the largest finite |logit| a bondlab GPT gives on (B, T) token-id batches: what its rounding scales
    with (``gpt_tol``); the -inf logits of tokens it never emits are left out."""
    with torch.no_grad():
        z = torch.cat([model(idx).flatten() for idx in batches])
    return 1.0 + float(z[torch.isfinite(z)].abs().max())
