"""Lower-variance J-BOND and REINFORCE steps: K samples per prompt, every anchor pair, the exact per-prefix KL.

Each piece is an option of :class:`VarianceOptions`; the defaults (K = 1, ``pairs="first"``, ``kl="sample"``)
are Algorithm 2 of Sessa et al. 2024 as :mod:`bondlab.lm.jbond` runs it, and every option leaves the expected
gradient unchanged (tests/test_jbond_groups.py checks each by enumeration):

* ``samples_per_prompt`` K: K policy samples and 2K anchor samples per prompt; the leave-one-out baseline
  runs over the K samples of the same prompt (per-prompt RLOO) instead of over the batch of prompts.
* ``pairs="all"``: the 2K anchor samples of a prompt form C(2K, 2) pairs, not K. Both J-BOND terms that
  read a pair become U-statistics over all of them, unbiased for the same expectations:
    - backward reward: r_J(y) = -log16 * C(c, 2) / C(m, 2), c = #{anchor samples with r > r(y)}, m = 2K, whose
      mean is -log16 * P[r(y') > r(y)]^2, as for one pair;
    - forward (SFT) weights: anchor sample j gets (#{l: r_l < r_j} + #{l != j: r_l = r_j} / 2) / C(m, 2), the
      chance that it wins a random ordered pair under first-wins ties (the Best-of-2 law, ties included).
  No sample more is drawn; K = 1 gives one pair and the paper's estimate.
* ``kl="exact"``: the -(log pi(y) - log pi_anchor(y)) inside the backward reward and the regulariser
  gamma KL(pi || pi_anchor) (REINFORCE: beta_RL KL(pi || pi_ref)) become :func:`bondlab.lm.token_kl.kl_surrogate`:
  per sampled prefix, the KL over the whole vocabulary, plus the score path of the KL still to come.

J-BOND's loss, anchor held fixed, is then

    (1 - beta) * sum_j w_j [-log pi(y'_j)]  +  beta * PG(r_J)  +  (beta + gamma) * KLsurrogate(pi || pi_anchor)

and REINFORCE's -PG(r) + beta_RL * KLsurrogate(pi || pi_ref). Rows are sampled option-major (sample i of every
prompt, then sample i + 1), so that K = 1 draws the very numbers :func:`bondlab.lm.jbond.jbond_batch` draws.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _validate as V
from ..configs import KLS, PAIRS, JBondConfig, check_fields, param, whole
from ..objectives import LOG16, kl_regulariser_loss, loo_baseline, reinforce_loss
from .jbond import pad_cat
from .metrics import checked_rewards
from .token_kl import kl_surrogate

__all__ = ["VarianceOptions", "pair_reward", "pair_weights", "GroupBatch", "jbond_group_batch", "jbond_group_loss",
           "reinforce_group_loss", "samples_per_step"]



@dataclass(frozen=True)
class VarianceOptions:
    """The options as one value (the fields of the same names in :class:`bondlab.configs.JBondConfig`, which
    declares and checks them; :meth:`of` takes them from a config)."""
    samples_per_prompt: int = param(1, JBondConfig.__dataclass_fields__["samples_per_prompt"].metadata["help"],
                                    range=whole())
    kl: str = param("sample", JBondConfig.__dataclass_fields__["kl"].metadata["help"], choices=KLS)
    pairs: str = param("first", JBondConfig.__dataclass_fields__["pairs"].metadata["help"], choices=PAIRS)

    def __post_init__(self):
        check_fields(self)

    @classmethod
    def of(cls, cfg) -> "VarianceOptions":
        """The options a config holds (REINFORCE's has no ``pairs``)."""
        return cls(cfg.samples_per_prompt, cfg.kl, getattr(cfg, "pairs", "first"))


def samples_per_step(kind: str, prompts: int, opts: VarianceOptions) -> int:
    """Samples drawn (and reward calls made) per step: J-BOND 3K per prompt (K policy, 2K anchor), REINFORCE K."""
    per = {"jbond": 3, "reinforce": 1}[kind]
    return per * opts.samples_per_prompt * prompts


def _pairs_check(r: torch.Tensor, ra: torch.Tensor) -> tuple[int, int]:
    if r.ndim != 2 or ra.ndim != 2 or r.shape[0] != ra.shape[0]:
        raise ValueError(f"r (G, K) and r_anchor (G, m) must share G, got {tuple(r.shape)} and {tuple(ra.shape)}")
    K, m = r.shape[1], ra.shape[1]
    if m != 2 * K:
        raise ValueError(f"r_anchor must hold 2K = {2 * K} anchor samples per prompt, got {m}")
    return K, m


def pair_reward(r: torch.Tensor, ra: torch.Tensor, pairs: str = "first") -> torch.Tensor:
    """J-BOND's backward reward (G, K) for policy rewards r (G, K) and anchor rewards ra (G, 2K).

    "first": r_J(y_i) = -log16 * [r(y_i) < min(ra_i, ra_{K+i})] (Algorithm 2); "all": -log16 * C(c, 2) / C(2K, 2)
    with c the number of the prompt's anchor samples strictly better than y_i (the U-statistic)."""
    K, m = _pairs_check(r, ra)
    if pairs == "first":
        worse = r < torch.minimum(ra[:, :K], ra[:, K:])                           # (G, K)
        f64 = lambda v: torch.tensor(v, dtype=torch.float64)                      # noqa: E731
        return torch.where(worse, f64(-LOG16), f64(0.0))
    if pairs != "all":
        raise ValueError(f"pairs must be one of {PAIRS}, got {pairs!r}")
    c = (ra[:, None, :] > r[:, :, None]).sum(-1).double()                         # (G, K)
    return -LOG16 * c * (c - 1) / (m * (m - 1))


def pair_weights(ra: torch.Tensor, pairs: str = "first") -> torch.Tensor:
    """(G, 2K) SFT weights on the anchor samples, each row summing to 1: "first": 1/K on the winner of each
    pair (i, K + i), the first winning ties; "all": the chance of winning a random ordered pair (module doc)."""
    if ra.ndim != 2 or ra.shape[1] < 2 or ra.shape[1] % 2:
        raise ValueError(f"r_anchor must be (G, 2K) with K >= 1, got {tuple(ra.shape)}")
    G, m = ra.shape
    K = m // 2
    w = torch.zeros(G, m, dtype=torch.float64)
    if pairs == "first":
        first = ra[:, :K] >= ra[:, K:]                                            # (G, K)
        w[:, :K] = first.double() / K
        w[:, K:] = (~first).double() / K
        return w
    if pairs != "all":
        raise ValueError(f"pairs must be one of {PAIRS}, got {pairs!r}")
    less = (ra[:, None, :] < ra[:, :, None]).sum(-1).double()                     # (G, m) [j]: #l with r_l < r_j
    ties = (ra[:, None, :] == ra[:, :, None]).sum(-1).double() - 1                # (G, m) others tied with j
    return (less + ties / 2) / (m * (m - 1) / 2)


@dataclass
class GroupBatch:
    """One step's samples, rows option-major: row i * G + g is sample i of prompt g."""
    prompts: list               # G prompt texts
    y: torch.Tensor             # (K G, T) policy samples
    ya: torch.Tensor            # (2K G, Ta) anchor samples
    r: torch.Tensor             # (G, K) rewards of y
    ra: torch.Tensor            # (G, 2K) rewards of ya
    logq: torch.Tensor | None   # (K G, T, V) the anchor's next-token laws along y (kl="exact"), else None
    logp_anchor: torch.Tensor   # (K G,) log pi_anchor(y)


def _by_prompt(x: torch.Tensor, G: int) -> torch.Tensor:
    """(n G, ...) option-major rows -> (G, n, ...)."""
    return x.reshape(-1, G, *x.shape[1:]).transpose(0, 1)


@torch.no_grad()
def jbond_group_batch(policy, anchor, prompt_texts, reward_fn, generator, opts: VarianceOptions) -> GroupBatch:
    """Draw K policy and 2K anchor samples per prompt and score them (the policy interface of LMPolicy)."""
    prompts = list(prompt_texts)
    G, K = len(prompts), opts.samples_per_prompt
    rows = prompts * K
    y, _ = policy.sample(rows, generator)                                         # (K G, T)
    ya, _ = anchor.sample(prompts * 2 * K, generator)                             # (2K G, Ta)
    r = torch.as_tensor(checked_rewards(reward_fn(rows, y), K * G))               # (K G,)
    ra = torch.as_tensor(checked_rewards(reward_fn(prompts * 2 * K, ya), 2 * K * G))
    logq = None
    if opts.kl == "exact":
        logq, mask = anchor.vocab_log_probs(rows, y)                              # (K G, T, V)
        tok = torch.gather(logq, -1, y[..., None])[..., 0]                        # (K G, T)
        logp_anchor = torch.where(mask, tok, torch.zeros_like(tok)).sum(-1)
    else:
        logp_anchor = anchor.log_prob(rows, y)                                    # (K G,)
    return GroupBatch(prompts, y, ya, _by_prompt(r, G), _by_prompt(ra, G), logq, logp_anchor)


def _grouped(x: torch.Tensor, K: int) -> torch.Tensor:
    """(G, K, ...) -> the baseline groups: per prompt when K >= 2, the whole batch as one group when K = 1."""
    return x if K >= 2 else x.transpose(0, 1)


def jbond_group_loss(policy, batch: GroupBatch, beta: float, gamma: float, opts: VarianceOptions) -> torch.Tensor:
    """J-BOND's loss on a :class:`GroupBatch` (module doc), one teacher-forced pass for y and the anchor
    samples that carry SFT weight."""
    beta = V.unit_interval(beta, "beta")
    G, K = batch.r.shape
    w = pair_weights(batch.ra, opts.pairs)                                         # (G, 2K)
    w_rows = w.transpose(0, 1).reshape(-1)                                         # (2K G,) option-major
    keep = torch.nonzero(w_rows > 0)[:, 0]                                         # anchor rows that matter
    both = pad_cat(batch.y, batch.ya[keep], policy.pad_id)                         # (K G + n, T)
    rows = batch.prompts * K + [batch.prompts[i % G] for i in keep.tolist()]
    logp, mask = policy.vocab_log_probs(rows, both)                                # (K G + n, T, V)
    tok = torch.gather(logp, -1, both[..., None])[..., 0].masked_fill(~mask, 0.0)  # (K G + n, T)
    if not bool(torch.isfinite(tok.detach()).all()):
        raise ValueError("training diverged: the policy's log-probabilities hold NaN or inf")
    seq = tok.sum(-1)                                                              # (K G + n,)
    forward = -(w_rows[keep].to(seq.dtype) * seq[K * G:]).sum() / G
    logp_y = _grouped(_by_prompt(seq[:K * G], G), K)                               # (G, K) or (K=1: (1, G))
    r_j = _grouped(pair_reward(batch.r, batch.ra, opts.pairs), K).to(seq.dtype)
    logp_a = _grouped(_by_prompt(batch.logp_anchor, G), K).to(seq.dtype)
    if opts.kl == "sample":
        backward = reinforce_loss(logp_y, logp_a, r_j, 1.0)       # PG on R = r_J - (log pi - log pi_anchor)
        return (1 - beta) * forward + beta * backward + gamma * kl_regulariser_loss(logp_y, logp_a)
    T = batch.y.shape[1]
    sur, _ = kl_surrogate(_grouped(_by_prompt(logp[:K * G, :T], G), K), _grouped(_by_prompt(batch.logq, G), K),
                          _grouped(_by_prompt(batch.y, G), K), _grouped(_by_prompt(mask[:K * G, :T], G), K))
    pg = -((r_j - loo_baseline(r_j)) * logp_y).mean()
    return (1 - beta) * forward + beta * pg + (beta + gamma) * sur.mean()


def reinforce_group_loss(policy, ref, prompt_texts, reward_fn, generator, beta_rl: float, opts: VarianceOptions):
    """REINFORCE with K >= 2 samples per prompt (RLOO) on R = r - beta_RL KL; ``opts.kl`` picks the KL's
    estimate ("sample": the log-ratio, as :func:`bondlab.lm.reinforce.reinforce_batch_loss`; "exact": the
    per-prefix surrogate). ``policy``/``ref``: LMPolicy. Returns ``(loss, mean reward)``."""
    K = opts.samples_per_prompt
    if K < 2:
        raise ValueError("samples_per_prompt must be >= 2 for REINFORCE (the leave-one-out baseline)")
    beta_rl = float(beta_rl)
    prompts = list(prompt_texts)
    G = len(prompts)
    rows = [p for p in prompts for _ in range(K)]                                  # prompt-major, as reinforce.py
    with torch.no_grad():
        y, _ = policy.sample(rows, generator)                                      # (G K, T)
    r = torch.as_tensor(checked_rewards(reward_fn(rows, y), G * K)).view(G, K)
    logp, mask = policy.vocab_log_probs(rows, y)                                   # (G K, T, V)
    with torch.no_grad():
        logq, _ = ref.vocab_log_probs(rows, y)
    tok = torch.gather(logp, -1, y[..., None])[..., 0].masked_fill(~mask, 0.0)     # (G K, T)
    logp_y = tok.sum(-1).view(G, K)
    r = r.to(logp_y.dtype)
    if opts.kl == "sample":
        logp_ref = torch.gather(logq, -1, y[..., None])[..., 0].masked_fill(~mask, 0.0).sum(-1).view(G, K)
        return reinforce_loss(logp_y, logp_ref, r, beta_rl), float(r.mean())
    V_ = logp.shape[-1]
    sur, _ = kl_surrogate(logp.view(G, K, -1, V_), logq.view(G, K, -1, V_), y.view(G, K, -1), mask.view(G, K, -1))
    return reinforce_loss(logp_y, logp_y.detach(), r, 0.0) + beta_rl * sur.mean(), float(r.mean())
