"""The RLHF baseline for the tiny GPT: REINFORCE with a leave-one-out baseline and a KL penalty to pi_ref.

Per step: k samples y_1..y_k ~ pi(. | x) for each of B prompts, R_i = r(y_i) - beta_RL (log pi(y_i) -
log pi_ref(y_i)), and the surrogate :func:`bondlab.objectives.reinforce_loss` with the leave-one-out
baseline over the k samples of the same prompt (RLOO). Its expected gradient ascends
E_pi[r] - beta_RL KL(pi || pi_ref), whose optimum is pi_ref exp(r / beta_RL) / Z. The paper's baseline
(Sessa et al. 2024, Sec. 6) sweeps beta_RL in {0.001, 0.01, 0.1, 1}.

Training stops after ``max_steps`` steps, or once ``budget_s`` seconds of training (evaluations excluded)
are spent: the demo gives REINFORCE the wall-clock budget J-BOND used.
"""
from __future__ import annotations

import copy
from dataclasses import asdict

import torch

from ..configs import ReinforceConfig
from ..loop import StopRule, run_loop
from ..objectives import reinforce_loss
from .jbond import TrainResult, optimizer, sample_prompts
from .jbond_groups import VarianceOptions, reinforce_group_loss
from .model import GPT
from .policy import LMPolicy

__all__ = ["ReinforceConfig", "reinforce_batch_loss", "train_reinforce"]


def reinforce_batch_loss(policy: GPT, ref: GPT, tokenizer, prompt_texts, reward_fn, beta_rl: float, k: int,
                         generator: torch.Generator, max_new_tokens: int):
    """Sample k completions per prompt, score them, return ``(loss, mean reward)``."""
    B = len(prompt_texts)
    rows = [p for p in prompt_texts for _ in range(k)]                                 # prompt-major
    prompts = tokenizer.encode_prompts(rows)                                           # (B k, P)
    y, _ = policy.generate(prompts, max_new_tokens, generator)                         # (B k, T)
    r = torch.as_tensor(reward_fn(rows, y)).view(B, k)                                 # (B, k)
    with torch.no_grad():
        logp_ref = ref.sequence_log_probs(prompts, y).view(B, k)                      # (B, k)
    logp = policy.sequence_log_probs(prompts, y).view(B, k)                            # (B, k) with grad
    return reinforce_loss(logp, logp_ref, r.to(logp.dtype), beta_rl), float(r.mean())


def train_reinforce(ref: GPT, tokenizer, prompt_pool, reward_fn, cfg: ReinforceConfig | None = None, *,
                    evaluate=None, stop=None, progress: bool = True, desc: str | None = None) -> TrainResult:
    """REINFORCE from pi_ref; ``evaluate(policy) -> dict`` is called at step 0, every ``eval_every`` steps
    and at the end. ``ref`` is left untouched."""
    cfg = cfg or ReinforceConfig()
    if not isinstance(ref, GPT):
        raise ValueError(f"ref must be a bondlab.lm.GPT, got {type(ref).__name__}")
    if not prompt_pool:
        raise ValueError("prompt_pool must hold at least one prompt text")
    policy = copy.deepcopy(ref).train()
    ref = ref.eval()
    g = torch.Generator().manual_seed(cfg.seed)
    opt, sched = optimizer(policy, cfg.lr, cfg.warmup)

    def step(s: int) -> dict:
        prompts = sample_prompts(prompt_pool, cfg.batch_prompts, g)
        if cfg.kl == "sample":
            loss, r_mean = reinforce_batch_loss(policy, ref, tokenizer, prompts, reward_fn, cfg.beta_rl,
                                                cfg.samples_per_prompt, g, cfg.max_new_tokens)
        else:   # the KL penalty exact over the vocabulary at each sampled prefix (bondlab.lm.jbond_groups)
            loss, r_mean = reinforce_group_loss(LMPolicy(policy, tokenizer, cfg.max_new_tokens),
                                                LMPolicy(ref, tokenizer, cfg.max_new_tokens), prompts, reward_fn, g,
                                                cfg.beta_rl, VarianceOptions.of(cfg))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return {"loss": float(loss.detach()), "train_reward": r_mean}

    res = run_loop(step, max_steps=cfg.max_steps, evaluate=None if evaluate is None else (lambda s: evaluate(policy)),
                   eval_every=cfg.eval_every, stop=stop or StopRule.of(cfg), budget_s=cfg.budget_s, progress=progress,
                   desc=desc or f"REINFORCE b={cfg.beta_rl:g}")
    return TrainResult(policy.eval(), res.history, res.stop_reason, res.steps, res.train_s, asdict(cfg))
