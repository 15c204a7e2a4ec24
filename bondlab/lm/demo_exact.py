"""The demo's optional ``exact`` stage: iterative J-BOND with a hard anchor on the micro GPT, where the exact
KL to Best-of-2^m(pi_ref) is computed over every sequence of the micro space (``bondlab demo --exact``)."""
from __future__ import annotations

import math
from dataclasses import replace

import torch

from ..theory import bon_kl_bound
from .corpus import micro_reward
from .jbond import train_jbond

__all__ = ["run_exact"]


def run_exact(cfg, *, progress: bool = True, model=None, period: int | None = None) -> dict:
    """Iterative J-BOND with a hard anchor on the micro GPT: after M anchor replacements the target is
    Best-of-2^M(pi_ref). Tracks, over every micro sequence, exact KL(pi || BoN_{2^m}(pi_ref)) and
    KL(BoN_{2^m} || pi) for m = 1..M, KL(pi || pi_ref), E_pi[r] and E_pi[p_le]. ``cfg`` is a
    :class:`bondlab.lm.demo.DemoConfig`: its target_n, smoke, seed and jbond settings are read."""
    from . import load_pretrained
    from .exact import exact_bon_log_probs, exact_kl, micro_space
    from ..bon import quantiles
    if model is None:
        model, tok = load_pretrained("micro")
    else:
        from .corpus import micro_tokenizer
        tok = micro_tokenizer()
    space = micro_space()
    rounds = max(1, math.ceil(math.log2(cfg.target_n)))
    period = period or (10 if cfg.smoke else 60)
    with torch.no_grad():
        log_ref = space.log_probs(model)                                                   # (S,)
        log_ref = log_ref - torch.logsumexp(log_ref, 0)
    ns = [2 ** m for m in range(1, rounds + 1)]
    targets = {n: exact_bon_log_probs(log_ref, space.rewards, n) for n in ns}
    _, p_le = quantiles(log_ref.exp().numpy(), space.rewards.numpy())
    p_le = torch.as_tensor(p_le)
    rec = {"step": [], "kl_ref": [], "reward": [], "quantile": [],
           "kl_to_bon": {str(n): [] for n in ns}, "kl_from_bon": {str(n): [] for n in ns}}

    def ev(policy):
        with torch.no_grad():
            lp = space.log_probs(policy)
            lp = lp - torch.logsumexp(lp, 0)
        p = lp.exp()
        out = {"kl": float(exact_kl(lp, log_ref)), "reward": float((p * space.rewards).sum()),
               "quantile": float((p * p_le).sum())}
        rec["kl_ref"].append(out["kl"])
        rec["reward"].append(out["reward"])
        rec["quantile"].append(out["quantile"])
        for n in ns:
            rec["kl_to_bon"][str(n)].append(float(exact_kl(lp, targets[n])))
            rec["kl_from_bon"][str(n)].append(float(exact_kl(targets[n], lp)))
        return out

    # the micro model is tiny: 512 policy samples a step (64 in smoke mode), prompts = that / K
    per_step = 64 if cfg.smoke else 512
    jcfg = replace(cfg.jbond, anchor="hard", hard_period=period, keep_going=True, max_steps=rounds * period,
                   eval_every=max(1, period // 10), max_new_tokens=space.length, seed=cfg.seed + 5, lr=1e-3,
                   batch_prompts=max(2, per_step // cfg.jbond.samples_per_prompt))
    reward_fn = lambda prompts, comp: micro_reward(comp).numpy()  # noqa: E731
    res = train_jbond(model, tok, [""], reward_fn, jcfg, evaluate=ev, progress=progress, desc="J-BOND exact (micro)")
    rec["step"] = [h["step"] for h in res.history]
    rec["anchor_steps"] = [period * m for m in range(1, rounds + 1)]
    rec["bon_kl_exact"] = {str(n): float(exact_kl(targets[n], log_ref)) for n in ns}
    rec["bon_kl_bound"] = {str(n): float(bon_kl_bound(n)) for n in ns}
    rec["bon_quantile_exact"] = {str(n): float((targets[n].exp() * p_le).sum()) for n in ns}
    rec["bon_reward_exact"] = {str(n): float((targets[n].exp() * space.rewards).sum()) for n in ns}
    rec["num_sequences"] = space.num_sequences
    rec["period"] = period
    return rec
