"""Evaluating a tiny-GPT policy against pi_ref: the numbers the demo prints and plots.

At each evaluation (Sessa et al. 2024, Sec. 6 reports the same quantities at Gemma scale):

* gold reward (VADER compound) and proxy reward of one sample per evaluation prompt;
* the mean reference quantile E_pi[p_le(y)], with p_le(y) estimated per prompt as the fraction of k
  samples of pi_ref (drawn once, independent of everything else) whose gold reward is <= r(y). For
  Best-of-N from pi_ref it is N/(N+1) for continuous rewards (``bondlab.theory.bon_expected_quantile``);
  ties in the reward push it above that;
* KL(pi || pi_ref) per sequence, as the *exact* per-token KL summed along the policy's own samples:
  sum_t KL(pi(. | x, y_<t) || pi_ref(. | x, y_<t)). Its mean over y ~ pi is the sequence-level KL (the
  chain rule), with far less variance than the log-ratio log pi(y) - log pi_ref(y);
* completion length (tokens, the end token included) and the fraction of samples that end with the end
  token (a degenerate policy fills the length limit instead);
* a few sample texts.

Rewards are plain callables from a list of strings to an array (``bondlab.lm.rewards``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .model import GPT, completion_mask

__all__ = ["RefPool", "token_kl", "sequence_kl", "policy_sequence_kl", "texts_of", "text_reward", "score",
           "ref_pool", "quantile_against", "evaluate", "evaluate_per_prompt", "summarize", "EVAL_KEYS"]

EVAL_KEYS = ("reward", "proxy_reward", "quantile", "kl", "length", "end_frac")


def token_kl(policy: GPT, ref: GPT, prompts: torch.Tensor, completions: torch.Tensor, *, grad: bool = False,
             policy_log_probs: torch.Tensor | None = None):
    """(B, T) per-token KL(pi(. | x, y_<t) || pi_ref(. | x, y_<t)) on the given completions, 0 after the end
    token, and the (B, T) mask. Exact over the vocabulary; differentiable in ``policy`` when ``grad``.
    ``policy_log_probs``: the (B, T, V) laws ``policy.generate(..., log_probs=True)`` returned with these
    completions (no grad), instead of a teacher-forced pass."""
    policy._check_prompts(prompts)
    if completions.ndim != 2 or completions.shape[0] != prompts.shape[0]:
        raise ValueError(f"completions must be (B, T) with B = {prompts.shape[0]}, got {tuple(completions.shape)}")
    if policy_log_probs is None:
        with torch.set_grad_enabled(grad):
            lp, _ = policy.vocab_log_probs(prompts, completions)                       # (B, T, V)
    elif grad or policy_log_probs.shape[:2] != completions.shape:
        raise ValueError(f"policy_log_probs must be (B, T, V) with (B, T) = {tuple(completions.shape)}, "
                         "and come without grad")
    else:
        lp = policy_log_probs
    with torch.no_grad():
        lq, _ = ref.vocab_log_probs(prompts, completions)                              # (B, T, V)
    p = lp.exp()
    terms = torch.where(p > 0, p * (lp - lq), torch.zeros_like(p)).sum(-1)           # (B, T)
    mask = completion_mask(completions, policy.cfg.end_id)
    return torch.where(mask, terms, torch.zeros_like(terms)), mask


def sequence_kl(policy: GPT, ref: GPT, prompts: torch.Tensor, completions: torch.Tensor,
                policy_log_probs: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) sum_t KL(pi(. | x, y_<t) || pi_ref(. | x, y_<t)) along each completion y (no grad). Averaged over
    y ~ pi it equals KL(pi(. | x) || pi_ref(. | x)) over whole sequences. ``policy_log_probs``: see
    :func:`token_kl`."""
    return token_kl(policy, ref, prompts, completions, policy_log_probs=policy_log_probs)[0].sum(1)


@torch.no_grad()
def policy_sequence_kl(policy, ref, prompts, completions: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """:func:`sequence_kl` for policies that speak texts and give ``token_logits(prompts, completions)``
    (``bondlab.hf.HFPolicy``): (B,) exact over the vocabulary, masked after the first end token; rows in
    chunks (the (b, T, V) logits of a large vocabulary are large)."""
    out = []
    for i in range(0, len(prompts), chunk):
        p, y = list(prompts[i:i + chunk]), completions[i:i + chunk]
        lp, mask = policy.token_logits(p, y)
        lq, _ = ref.token_logits(p, y)
        lp, lq = F.log_softmax(lp.float(), -1), F.log_softmax(lq.float(), -1)      # (b, T, V)
        terms = (lp.exp() * (lp - lq)).sum(-1)                                     # (b, T)
        out.append(torch.where(mask, terms, torch.zeros_like(terms)).sum(1))
    return torch.cat(out)


def texts_of(tokenizer, prompt_texts, completions: torch.Tensor) -> list[str]:
    """The full review texts: each prompt opening followed by its decoded completion."""
    return [f"{p} {tokenizer.decode(c)}".strip() for p, c in zip(prompt_texts, completions)]


def text_reward(speaker, fn):
    """A text reward (list of strings -> array) as a sequence reward (prompt_texts, completions) -> (B,)
    float64 tensor on the completions' device, checked for shape and finiteness. ``speaker`` turns prompts
    and completions into texts: a tokenizer (:func:`texts_of`) or a policy with ``texts`` (``LMPolicy``,
    ``bondlab.hf.HFPolicy``)."""
    if not callable(fn):
        raise ValueError(f"reward must be callable (list of texts -> array), got {type(fn).__name__}")
    texts = speaker.texts if hasattr(speaker, "texts") else (lambda p, c: texts_of(speaker, p, c))

    def reward(prompt_texts, completions):
        return torch.as_tensor(score(fn, texts(prompt_texts, completions)), device=completions.device)
    return reward


def score(reward_fn, texts, name: str = "reward") -> np.ndarray:
    """Call a reward (list of strings -> array) and check what comes back: (S,) finite float64."""
    return checked_rewards(reward_fn(list(texts)), len(texts), name)


def checked_rewards(r, size: int, name: str = "reward_fn") -> np.ndarray:
    """What a reward function returned, as (size,) finite float64; a NaN would win or lose a Best-of-N
    comparison silently (NaN > x is False), so it is refused with the function's name."""
    if isinstance(r, torch.Tensor):
        r = r.detach().cpu()
    try:
        r = np.asarray(r, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must return numbers, got {type(r).__name__}") from None
    if r.shape != (size,):
        raise ValueError(f"{name} returned shape {r.shape} for {size} texts")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"{name} returned NaN or inf for {int((~np.isfinite(r)).sum())} of {size} candidates")
    return r


@dataclass
class RefPool:
    """k gold rewards of pi_ref samples for each distinct prompt: the reference CDF the quantiles use."""
    rewards: dict          # prompt text -> (k,) sorted float64 gold rewards of pi_ref completions
    k: int                 # reference samples per prompt


def ref_pool(ref: GPT, tokenizer, prompt_texts, gold, k: int, generator: torch.Generator,
             max_new_tokens: int) -> RefPool:
    """Draw k completions of pi_ref for every *distinct* prompt in ``prompt_texts`` and keep their sorted
    gold rewards."""
    if int(k) < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    distinct = sorted(set(prompt_texts))
    rows = [p for p in distinct for _ in range(k)]
    comp, _ = ref.generate(tokenizer.encode_prompts(rows), max_new_tokens, generator)
    r = score(gold, texts_of(tokenizer, rows, comp)).reshape(len(distinct), k)
    return RefPool({p: np.sort(r[i]) for i, p in enumerate(distinct)}, int(k))


def quantile_against(pool: RefPool, prompt_texts, r) -> np.ndarray:
    """(S,) p_hat_le(y) = fraction of the prompt's k reference rewards that are <= r(y)."""
    r = np.asarray(r, dtype=np.float64)
    out = np.empty(len(prompt_texts))
    for i, (p, v) in enumerate(zip(prompt_texts, r)):
        if p not in pool.rewards:
            raise ValueError(f"prompt {p!r} has no reference samples in the pool")
        out[i] = np.searchsorted(pool.rewards[p], v, side="right") / pool.k
    return out


def evaluate_per_prompt(policy: GPT, ref: GPT, tokenizer, prompt_texts, gold, proxy, pool: RefPool,
                        generator: torch.Generator, max_new_tokens: int, n_texts: int = 4) -> dict:
    """One sample of ``policy`` per prompt; returns the (E,) float64 per-prompt values of :data:`EVAL_KEYS`
    (``proxy_reward`` None without a proxy; ``end_frac`` is 1.0 where the sample ended) and ``samples``
    (the first ``n_texts`` texts). Bootstrap intervals resample these arrays (:mod:`bondlab.intervals`)."""
    prompts = tokenizer.encode_prompts(list(prompt_texts))
    comp, mask, laws = policy.generate(prompts, max_new_tokens, generator, log_probs=True)  # (E, T), (E, T, V)
    texts = texts_of(tokenizer, prompt_texts, comp)
    r = score(gold, texts)                                                            # (E,)
    return {"reward": r,
            "proxy_reward": score(proxy, texts) if proxy is not None else None,
            "quantile": quantile_against(pool, prompt_texts, r),
            "kl": sequence_kl(policy, ref, prompts, comp, laws).double().numpy(),    # (E,)
            "length": mask.sum(1).double().numpy(),
            "end_frac": (comp == policy.cfg.end_id).any(1).double().numpy(),
            "samples": texts[:n_texts]}


def summarize(per_prompt: dict) -> dict:
    """The means of :data:`EVAL_KEYS` (None stays None) and the sample texts of an evaluation."""
    out = {k: None if per_prompt[k] is None else float(np.mean(per_prompt[k])) for k in EVAL_KEYS}
    out["samples"] = per_prompt.get("samples", [])
    return out


def evaluate(policy: GPT, ref: GPT, tokenizer, prompt_texts, gold, proxy, pool: RefPool,
             generator: torch.Generator, max_new_tokens: int, n_texts: int = 4) -> dict:
    """One sample of ``policy`` per prompt; returns the means of :data:`EVAL_KEYS` and ``samples`` (texts)."""
    return summarize(evaluate_per_prompt(policy, ref, tokenizer, prompt_texts, gold, proxy, pool, generator,
                                         max_new_tokens, n_texts))
