"""J-BOND for the tiny GPT (Sessa et al. 2024, Sec. 5, Algorithm 2): the toy algorithm over sequences.

Per step and per prompt x: one policy sample y ~ pi(. | x) and two anchor samples y'1, y'2 ~ pi_anchor(. | x).
The loss is :func:`bondlab.objectives.jbond_loss` with per-sequence log-probabilities (sums of token
log-probs), the leave-one-out baseline taken over the batch of prompts (one policy sample per prompt):

    (1 - beta) * SFT on argmax_r(y'1, y'2)                                     forward term
    + beta * PG with R = r_J(y) - (log pi(y) - log pi_anchor(y)),  r_J in {-log 16, 0}   backward term
    + gamma * PG descending KL(pi || pi_anchor)  (the corrected sign; arXiv v1 prints the other one)

then the anchor moves by EMA, theta_a <- (1 - eta) theta_a + eta theta, or (``anchor="hard"``) is replaced
by the policy every ``hard_period`` steps (iterative BOND with n = 2: after M rounds the target is
Best-of-2^M of pi_ref). ``objective="forward"`` / ``"backward"`` are the ablations beta = 0 / beta = 1.

The principled stop: the user names a target N; training stops at the first evaluation whose mean
reference quantile E_pi[p_le(y)] reaches N/(N+1), the Best-of-N value (continuous rewards), or whose KL
to pi_ref exceeds ``kl_budget``. ``keep_going=True`` ignores both and runs ``max_steps``: the reward keeps
rising, the KL explodes and the samples degenerate (reward hacking of the gold reward itself).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass

import torch
from tqdm.auto import tqdm

from .. import _validate as V
from ..objectives import jbond_loss
from .metrics import checked_rewards, score, texts_of
from .model import GPT
from .policy import LMPolicy

__all__ = ["JBondConfig", "JBondBatch", "TrainResult", "text_reward", "sample_prompts", "pad_cat",
           "jbond_batch", "jbond_batch_loss", "jbond_step", "check_finite", "ema_update", "train_jbond",
           "quantile_target"]

OBJECTIVES = ("jeffreys", "forward", "backward")
ANCHORS = ("ema", "hard")


@dataclass
class JBondConfig:
    target_n: float = 8.0        # stop when the mean reference quantile reaches target_n / (target_n + 1)
    kl_budget: float = 10.0      # second stop: KL(pi || pi_ref) in nats per sequence
    keep_going: bool = False     # ignore both stops and run max_steps (shows over-optimization)
    max_steps: int = 400         # hard cap on optimizer steps
    batch_prompts: int = 64      # prompts per step (one policy sample, two anchor samples each)
    lr: float = 3e-4             # Adam learning rate after warm-up
    warmup: int = 10             # linear learning-rate warm-up steps (the paper: 100 at Gemma scale)
    beta: float = 0.5            # Jeffreys mixing: (1 - beta) forward + beta backward (the paper: 0.5)
    eta: float = 0.05            # EMA anchor rate (the paper: 0.02 for Gemma 7B, 0.01-0.1 tried)
    gamma: float = 0.0           # extra regulariser gamma * KL(pi || pi_anchor) (the paper tries 0-2)
    anchor: str = "ema"          # "ema" (moving anchor) or "hard" (replace the anchor every hard_period steps)
    hard_period: int = 50        # T for anchor="hard"
    objective: str = "jeffreys"  # "jeffreys" (uses beta), "forward" (beta = 0) or "backward" (beta = 1)
    max_new_tokens: int = 24     # completion length limit in tokens
    eval_every: int = 10         # steps between evaluations (and stop checks)
    seed: int = 0                # seeds the training samples (torch.Generator)

    def __post_init__(self):
        for name in ("max_steps", "batch_prompts", "hard_period", "max_new_tokens", "eval_every"):
            setattr(self, name, V.positive_int(getattr(self, name), name))
        self.target_n = V.n_real(self.target_n, "target_n")
        self.beta = V.unit_interval(self.beta, "beta")
        self.eta = V.unit_interval(self.eta, "eta")
        for name in ("gamma", "lr", "kl_budget"):
            v = float(getattr(self, name))
            if not math.isfinite(v) or v < 0 or (name == "lr" and v == 0):
                raise ValueError(f"{name} must be a finite number {'> 0' if name == 'lr' else '>= 0'}, got {v!r}")
            setattr(self, name, v)
        if isinstance(self.warmup, bool) or int(self.warmup) != self.warmup or self.warmup < 0:
            raise ValueError(f"warmup must be an integer >= 0, got {self.warmup!r}")
        if self.batch_prompts < 2:
            raise ValueError("batch_prompts must be >= 2 (the leave-one-out baseline runs over prompts)")
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}, got {self.anchor!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")

    @property
    def effective_beta(self) -> float:
        return {"jeffreys": self.beta, "forward": 0.0, "backward": 1.0}[self.objective]


def quantile_target(n: float) -> float:
    """N/(N+1): E[p_le] under Best-of-N for continuous rewards (Sessa et al. 2024, Sec. 3)."""
    n = V.n_real(n, "target_n")
    return n / (n + 1)


def text_reward(tokenizer, fn):
    """Turn a text reward (list of strings -> array) into a sequence reward (prompt_texts, completions) -> (B,)."""
    def reward(prompt_texts, completions):
        return score(fn, texts_of(tokenizer, prompt_texts, completions))
    return reward


def sample_prompts(pool, b: int, generator: torch.Generator) -> list[str]:
    """b prompt texts drawn uniformly with replacement from ``pool``."""
    idx = torch.randint(len(pool), (b,), generator=generator)
    return [pool[i] for i in idx.tolist()]


def pad_cat(a: torch.Tensor, b: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Stack two (B, Ta), (B, Tb) completion batches along the batch, padding the shorter on the right.
    Safe: a batch shorter than the other has every row ended, so the padding falls after the end token."""
    t = max(a.shape[1], b.shape[1])
    a = torch.nn.functional.pad(a, (0, t - a.shape[1]), value=pad_id)
    b = torch.nn.functional.pad(b, (0, t - b.shape[1]), value=pad_id)
    return torch.cat([a, b], dim=0)                                                    # (Ba + Bb, T)


@dataclass
class JBondBatch:
    """One J-BOND batch (everything but the policy's log-probs, which need grad)."""
    prompts: list              # B prompt texts
    y: torch.Tensor            # (B, T) policy samples
    y_best: torch.Tensor       # (B, T') the better of the two anchor samples (first wins ties)
    logp_anchor: torch.Tensor  # (B,) log pi_anchor(y)
    r: torch.Tensor            # (B,) reward of y
    r_anchor_1: torch.Tensor   # (B,) reward of y'1
    r_anchor_2: torch.Tensor   # (B,) reward of y'2


@torch.no_grad()
def jbond_batch(policy, anchor, prompt_texts, reward_fn, generator) -> JBondBatch:
    """Sample y ~ pi and y'1, y'2 ~ pi_anchor for each prompt and score them (Algorithm 2, lines 3-5).

    ``policy`` and ``anchor`` speak the policy interface (:class:`bondlab.lm.LMPolicy`,
    :class:`bondlab.hf.HFPolicy`): ``sample(prompts, generator)``, ``log_prob(prompts, completions)``.
    reward_fn(prompt_texts, completions) -> (B,) rewards."""
    prompt_texts = list(prompt_texts)
    B = len(prompt_texts)
    y, _ = policy.sample(prompt_texts, generator)                                    # (B, T)
    ya, _ = anchor.sample(prompt_texts * 2, generator)                               # (2B, Ta)
    r = torch.as_tensor(checked_rewards(reward_fn(prompt_texts, y), B))              # (B,) finite
    ra = torch.as_tensor(checked_rewards(reward_fn(prompt_texts * 2, ya), 2 * B))    # (2B,) NaN would lose silently
    r1, r2 = ra[:B], ra[B:]
    y_best = torch.where((r1 >= r2)[:, None].to(ya.device), ya[:B], ya[B:])          # (B, Ta)
    logp_anchor = anchor.log_prob(prompt_texts, y)                                   # (B,)
    return JBondBatch(prompt_texts, y, y_best, logp_anchor, r, r1, r2)


def jbond_batch_loss(policy, batch: JBondBatch, beta: float, gamma: float, *, gather=None,
                     step: int | None = None) -> torch.Tensor:
    """:func:`bondlab.objectives.jbond_loss` on a batch, with one teacher-forced pass for y and y_best.

    ``gather`` (data-parallel training): maps each (b,) per-process tensor to the (B,) tensor of the whole
    global batch, this process's rows keeping their grad, so the leave-one-out baselines and the means run
    over the global batch (``bondlab.hf.train``). Non-finite log-probabilities (weights blown up) raise a
    ValueError saying that training diverged (at ``step``)."""
    B = batch.y.shape[0]
    both = pad_cat(batch.y, batch.y_best, policy.pad_id)                              # (2B, T)
    logp_all = policy.log_prob(batch.prompts * 2, both)                               # (2B,)
    parts = (logp_all[:B], batch.logp_anchor, batch.r, batch.r_anchor_1, batch.r_anchor_2, logp_all[B:])
    if gather is not None:
        parts = tuple(gather(t) for t in parts)
    logp, logp_anchor, r, r1, r2, logp_best = parts
    # checked after the gather, so that every process sees the same numbers and raises together
    for who, lp in (("policy", torch.cat([logp, logp_best])), ("anchor", logp_anchor)):
        if not bool(torch.isfinite(lp.detach()).all()):
            raise ValueError(f"training diverged{'' if step is None else f' at step {step}'}: the {who}'s "
                             "log-probabilities hold NaN or inf (the learning rate may be too large)")
    return jbond_loss(logp, logp_anchor, r, r1, r2, logp_best, beta, gamma)


@torch.no_grad()
def ema_update(anchor: torch.nn.Module, policy: torch.nn.Module, eta: float) -> None:
    """theta_a <- (1 - eta) theta_a + eta theta (Algorithm 2, the EMA anchor), on two models' parameters."""
    for pa, p in zip(anchor.parameters(), policy.parameters()):
        pa.mul_(1 - eta).add_(p.detach().to(pa.device), alpha=eta)


def jbond_step(policy, anchor, opt, sched, prompt_texts, reward_fn, generator, cfg: JBondConfig, step: int, *,
               loss_policy=None, gather=None, backward=None):
    """One J-BOND step (Algorithm 2): sample and score, one optimizer step on the loss, move the anchor.

    ``policy``/``anchor``: the policy interface with a ``.model`` (the anchor moves by :func:`ema_update`,
    or is replaced every ``cfg.hard_period`` steps). The data-parallel trainer (``bondlab.hf.train``) passes
    ``loss_policy`` (the same policy through its DDP wrapper), ``gather`` (see :func:`jbond_batch_loss`)
    and ``backward`` (its accelerator's). Returns ``(loss, batch)``."""
    batch = jbond_batch(policy, anchor, prompt_texts, reward_fn, generator)
    loss = jbond_batch_loss(loss_policy or policy, batch, cfg.effective_beta, cfg.gamma, gather=gather, step=step)
    if not bool(torch.isfinite(loss.detach())):
        raise ValueError(f"training diverged at step {step}: the loss is {float(loss.detach())} "
                         f"(lr {cfg.lr} may be too large); the weights were not updated")
    opt.zero_grad(set_to_none=True)
    if backward is None:
        loss.backward()
    else:
        backward(loss)
    opt.step()
    sched.step()
    check_finite(policy.model, step)
    if cfg.anchor == "ema":
        ema_update(anchor.model, policy.model, cfg.eta)
    elif step % cfg.hard_period == 0:
        anchor.model.load_state_dict(policy.model.state_dict())
    return loss, batch


def check_finite(model: torch.nn.Module, step: int) -> None:
    """ValueError naming the first non-finite parameter, if any (one reduction over all parameters)."""
    params = list(model.named_parameters())
    if bool(torch.stack([torch.isfinite(p.detach()).all() for _, p in params]).all()):
        return
    name = next(n for n, p in params if not bool(torch.isfinite(p.detach()).all()))
    raise ValueError(f"training diverged at step {step}: parameter {name} holds NaN or infinite values after "
                     "the optimizer step (the learning rate may be too large, or the dtype too narrow)")


@dataclass
class TrainResult:
    """What a trainer returns: the trained policy and a history of plain-data records."""
    policy: object            # the trained policy (a GPT when train_jbond was given GPTs)
    history: list             # one dict per evaluation: step, wall_s (training time only), metrics, loss
    stop_reason: str          # "target", "kl_budget", "max_steps" or "budget_s"
    steps: int                # optimizer steps taken
    train_s: float            # wall time spent in training steps (evaluations excluded)
    config: dict              # the config as a dict
    anchor: object = None     # J-BOND's final anchor (same type as policy)


def _optimizer(policy: torch.nn.Module, lr: float, warmup: int):
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (warmup + 1)) if warmup else 1.0)
    return opt, sched


def _check_stop(rec: dict, target_q: float | None, kl_budget: float | None) -> str | None:
    if target_q is not None and rec.get("quantile") is not None and rec["quantile"] >= target_q:
        return "target"
    if kl_budget is not None and rec.get("kl") is not None and rec["kl"] >= kl_budget:
        return "kl_budget"
    return None


def train_jbond(ref, tokenizer, prompt_pool, reward_fn, cfg: JBondConfig | None = None, *,
                evaluate=None, policy=None, progress: bool = True, desc: str = "J-BOND") -> TrainResult:
    """Run J-BOND from pi_ref (or from ``policy``) until the stop (see the module doc).

    ``ref`` (and ``policy``): a :class:`bondlab.lm.GPT` with its ``tokenizer``, or any object speaking the
    policy interface (``LMPolicy``, ``bondlab.hf.HFPolicy``; then ``tokenizer`` is unused and may be None).
    reward_fn(prompt_texts, completions) -> (B,) rewards; ``evaluate(policy) -> dict`` with at least
    "quantile" and "kl" is called at step 0, every ``eval_every`` steps and at the end (None: no evaluation,
    so only max_steps stops training); it gets what was passed in (a GPT for GPTs). ``ref`` is left untouched.
    """
    cfg = cfg or JBondConfig()
    if isinstance(ref, GPT):
        wrap = True
        start = LMPolicy(copy.deepcopy(policy if policy is not None else ref), tokenizer, cfg.max_new_tokens)
    elif all(hasattr(ref, a) for a in ("sample", "log_prob", "anchor", "model", "pad_id")):
        wrap = False
        start = (policy if policy is not None else ref).anchor()   # a deep copy; thawed below
        for p in start.model.parameters():
            p.requires_grad_(True)
    else:
        raise ValueError(f"ref must be a bondlab.lm.GPT or a policy (LMPolicy, HFPolicy), got {type(ref).__name__}")
    if not prompt_pool:
        raise ValueError("prompt_pool must hold at least one prompt text")
    if hasattr(start, "check_fits"):
        start.check_fits(list(prompt_pool), cfg.max_new_tokens)     # before any work: every prompt fits
    pol = start
    if wrap:
        pol.model.train()
    anchor = pol.anchor()
    g = torch.Generator().manual_seed(cfg.seed)
    opt, sched = _optimizer(pol.model, cfg.lr, cfg.warmup)
    target_q = None if cfg.keep_going else quantile_target(cfg.target_n)
    kl_budget = None if cfg.keep_going else cfg.kl_budget
    history, train_s, reason, step, loss_v = [], 0.0, "max_steps", 0, float("nan")
    out = (lambda x: x.model) if wrap else (lambda x: x)

    def record(step, extra):
        rec = {"step": step, "wall_s": train_s, "loss": loss_v, **extra}
        if evaluate is not None:
            rec.update(evaluate(out(pol)))
        history.append(rec)
        return rec

    record(0, {})
    bar = tqdm(range(1, cfg.max_steps + 1), desc=desc, disable=not progress, leave=False)
    for step in bar:
        t0 = time.perf_counter()
        loss, batch = jbond_step(pol, anchor, opt, sched, sample_prompts(prompt_pool, cfg.batch_prompts, g),
                                 reward_fn, g, cfg, step)
        train_s += time.perf_counter() - t0
        loss_v = float(loss.detach())
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            rec = record(step, {"train_reward": float(batch.r.mean())})
            bar.set_postfix(q=f"{rec.get('quantile', float('nan')):.3f}", kl=f"{rec.get('kl', float('nan')):.2f}")
            stop = _check_stop(rec, target_q, kl_budget)
            if stop:
                reason = stop
                break
    bar.close()
    pol.model.eval()
    return TrainResult(out(pol), history, reason, step, train_s, asdict(cfg), out(anchor))
