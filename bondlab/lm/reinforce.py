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
import math
import time
from dataclasses import asdict, dataclass

import torch
from tqdm.auto import tqdm

from .. import _validate as V
from ..objectives import reinforce_loss
from .jbond import TrainResult, _check_stop, _optimizer, sample_prompts
from .model import GPT

__all__ = ["ReinforceConfig", "reinforce_batch_loss", "train_reinforce"]


@dataclass
class ReinforceConfig:
    beta_rl: float = 0.1          # KL penalty weight to pi_ref (the paper sweeps 0.001-1)
    max_steps: int = 400          # cap on optimizer steps
    budget_s: float | None = None  # stop once this many seconds of training are spent (None: steps only)
    batch_prompts: int = 32       # prompts per step
    samples_per_prompt: int = 2   # k samples per prompt; the leave-one-out baseline runs over them (k >= 2)
    lr: float = 3e-4              # Adam learning rate after warm-up
    warmup: int = 10              # linear learning-rate warm-up steps
    kl_budget: float | None = None  # optional stop when KL(pi || pi_ref) exceeds it
    max_new_tokens: int = 24      # completion length limit in tokens
    eval_every: int = 10          # steps between evaluations
    seed: int = 0                 # seeds the training samples (torch.Generator)

    def __post_init__(self):
        for name in ("max_steps", "batch_prompts", "max_new_tokens", "eval_every", "samples_per_prompt"):
            setattr(self, name, V.positive_int(getattr(self, name), name))
        if self.samples_per_prompt < 2:
            raise ValueError("samples_per_prompt must be >= 2 (the leave-one-out baseline needs two samples)")
        for name in ("beta_rl", "lr"):
            v = float(getattr(self, name))
            if not math.isfinite(v) or v < 0 or (name == "lr" and v == 0):
                raise ValueError(f"{name} must be a finite number {'> 0' if name == 'lr' else '>= 0'}, got {v!r}")
            setattr(self, name, v)
        for name in ("budget_s", "kl_budget"):
            v = getattr(self, name)
            if v is not None and (not math.isfinite(float(v)) or float(v) <= 0):
                raise ValueError(f"{name} must be None or a positive number, got {v!r}")
        if isinstance(self.warmup, bool) or int(self.warmup) != self.warmup or self.warmup < 0:
            raise ValueError(f"warmup must be an integer >= 0, got {self.warmup!r}")


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
                    evaluate=None, progress: bool = True, desc: str | None = None) -> TrainResult:
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
    opt, sched = _optimizer(policy, cfg.lr, cfg.warmup)
    history, train_s, reason, step, loss_v = [], 0.0, "max_steps", 0, float("nan")

    def record(step, extra):
        rec = {"step": step, "wall_s": train_s, "loss": loss_v, **extra}
        if evaluate is not None:
            rec.update(evaluate(policy))
        history.append(rec)
        return rec

    record(0, {})
    bar = tqdm(range(1, cfg.max_steps + 1), desc=desc or f"REINFORCE b={cfg.beta_rl:g}", disable=not progress,
               leave=False)
    for step in bar:
        t0 = time.perf_counter()
        loss, r_mean = reinforce_batch_loss(policy, ref, tokenizer, sample_prompts(prompt_pool, cfg.batch_prompts, g),
                                            reward_fn, cfg.beta_rl, cfg.samples_per_prompt, g, cfg.max_new_tokens)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        train_s += time.perf_counter() - t0
        loss_v = float(loss.detach())
        out_of_time = cfg.budget_s is not None and train_s >= cfg.budget_s
        if step % cfg.eval_every == 0 or step == cfg.max_steps or out_of_time:
            rec = record(step, {"train_reward": r_mean})
            bar.set_postfix(r=f"{rec.get('reward', r_mean):.3f}", kl=f"{rec.get('kl', float('nan')):.2f}")
            stop = _check_stop(rec, None, cfg.kl_budget)
            if stop:
                reason = stop
                break
        if out_of_time:
            reason = "budget_s"
            break
    bar.close()
    return TrainResult(policy.eval(), history, reason, step, train_s, asdict(cfg))
