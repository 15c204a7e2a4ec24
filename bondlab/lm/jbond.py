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
from dataclasses import asdict, dataclass

import torch

from ..anchor import AnchorRule
from ..configs import JBondConfig, quantile_target
from ..loop import StopRule, run_loop
from ..objectives import jbond_loss
from ..policy import check_policy
from .metrics import checked_rewards, text_reward
from .model import GPT
from .policy import LMPolicy

__all__ = ["JBondConfig", "JBondBatch", "TrainResult", "text_reward", "sample_prompts", "pad_cat",
           "jbond_batch", "jbond_batch_loss", "jbond_step", "check_finite", "train_jbond", "quantile_target", "TrainState",
           "optimizer", "as_policy"]


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
                     step: int | None = None, v1_sign: bool = False) -> torch.Tensor:
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
    return jbond_loss(logp, logp_anchor, r, r1, r2, logp_best, beta, gamma, v1_sign=v1_sign)


def jbond_step(policy, anchor, opt, sched, prompt_texts, reward_fn, generator, cfg: JBondConfig, step: int, *,
               loss_policy=None, gather=None, backward=None):
    """One J-BOND step (Algorithm 2): sample and score, one optimizer step on the loss, move the anchor.

    ``policy``/``anchor``: the policy interface with a ``.model`` (the anchor moves by
    :class:`bondlab.anchor.AnchorRule`: EMA, or replaced every ``cfg.hard_period`` steps). The data-parallel trainer (``bondlab.hf.train``) passes
    ``loss_policy`` (the same policy through its DDP wrapper), ``gather`` (see :func:`jbond_batch_loss`)
    and ``backward`` (its accelerator's). Returns ``(loss, batch)``."""
    if getattr(cfg, "plain", True):   # Algorithm 2 as printed
        batch = jbond_batch(policy, anchor, prompt_texts, reward_fn, generator)
        loss = jbond_batch_loss(loss_policy or policy, batch, cfg.effective_beta, cfg.gamma, gather=gather,
                                step=step, v1_sign=cfg.v1_sign)
    else:                             # the lower-variance options (K samples per prompt, all pairs, exact KL)
        from .jbond_groups import VarianceOptions, jbond_group_batch, jbond_group_loss
        opts = VarianceOptions.of(cfg)
        batch = jbond_group_batch(policy, anchor, prompt_texts, reward_fn, generator, opts)
        loss = jbond_group_loss(loss_policy or policy, batch, cfg.effective_beta, cfg.gamma, opts)
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
    AnchorRule.of(cfg).after_step(anchor, policy, step)
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
    state: object = None      # J-BOND's TrainState: pass it as ``resume=`` to keep going where it stopped


@dataclass
class TrainState:
    """Everything a J-BOND run needs to continue exactly where it stopped (as in a checkpoint)."""
    policy: object            # the policy interface being trained (LMPolicy / HFPolicy)
    anchor: object            # its EMA (or hard) anchor
    opt: object               # Adam, with its moments
    sched: object             # the warm-up schedule, at its step
    generator: torch.Generator  # the training samples' generator, in its state
    step: int                 # optimizer steps taken
    train_s: float            # training seconds spent so far


def optimizer(model: torch.nn.Module, lr: float, warmup: int):
    """Adam with a linear learning-rate warm-up over ``warmup`` steps: ``(opt, sched)``."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (warmup + 1)) if warmup else 1.0)
    return opt, sched


def as_policy(ref, tokenizer, max_new_tokens: int, start=None):
    """A trainable policy from pi_ref (or from ``start``): an :class:`LMPolicy` around a copy of a GPT, or a
    thawed :meth:`anchor` copy of anything satisfying :class:`bondlab.policy.Policy`. Returns
    ``(policy, unwrap)``, ``unwrap`` giving back what the caller passed in (a GPT for GPTs)."""
    src = start if start is not None else ref
    if isinstance(ref, GPT):
        return LMPolicy(copy.deepcopy(src), tokenizer, max_new_tokens), (lambda x: x.model)
    if not hasattr(ref, "model"):
        raise ValueError(f"ref must be a bondlab.lm.GPT or a policy (LMPolicy, HFPolicy), got {type(ref).__name__}")
    pol = check_policy(src, "ref").anchor()            # a deep copy; thawed below
    for p in pol.parameters():
        p.requires_grad_(True)
    return pol, (lambda x: x)


def train_jbond(ref, tokenizer, prompt_pool, reward_fn, cfg: JBondConfig | None = None, *,
                evaluate=None, policy=None, resume: TrainState | None = None, stop=None, progress: bool = True,
                desc: str = "J-BOND") -> TrainResult:
    """Run J-BOND from pi_ref (or from ``policy``) until the stop (see the module doc).

    ``ref`` (and ``policy``): a :class:`bondlab.lm.GPT` with its ``tokenizer``, or any object speaking the
    policy interface (``LMPolicy``, ``bondlab.hf.HFPolicy``; then ``tokenizer`` is unused and may be None).
    reward_fn(prompt_texts, completions) -> (B,) rewards; ``evaluate(policy) -> dict`` with at least
    "quantile" and "kl" is called at step 0, every ``eval_every`` steps and at the end (None: no evaluation,
    so only max_steps stops training); it gets what was passed in (a GPT for GPTs). ``ref`` is left untouched.

    ``resume``: the ``state`` of an earlier result; training continues from its policy, EMA anchor, Adam
    moments, schedule, generator and step count (``cfg.max_steps`` counts from the first step of that
    run), exactly as if it had not stopped. The state is moved on, not copied. ``stop(record) -> reason or
    None`` replaces the config's stop rule (:class:`bondlab.loop.StopRule`).
    """
    cfg = cfg or JBondConfig()
    if not prompt_pool:
        raise ValueError("prompt_pool must hold at least one prompt text")
    if resume is None:
        pol, out = as_policy(ref, tokenizer, cfg.max_new_tokens, policy)
        if hasattr(pol, "check_fits"):
            pol.check_fits(list(prompt_pool), cfg.max_new_tokens)     # before any work: every prompt fits
        anchor = pol.anchor()
        g = torch.Generator().manual_seed(cfg.seed)
        opt, sched = optimizer(pol.model, cfg.lr, cfg.warmup)
        start, spent = 0, 0.0
    else:
        if not isinstance(resume, TrainState) or policy is not None:
            raise ValueError("resume must be the TrainState of an earlier result (result.state), without policy")
        pol, anchor, opt, sched, g = resume.policy, resume.anchor, resume.opt, resume.sched, resume.generator
        out = (lambda x: x.model) if isinstance(ref, GPT) else (lambda x: x)
        start, spent = resume.step, resume.train_s
        if cfg.max_steps <= start:
            raise ValueError(f"max_steps ({cfg.max_steps}) must exceed the {start} steps already taken to keep going")
    if isinstance(ref, GPT):
        pol.model.train()

    def step(s: int) -> dict:
        loss, batch = jbond_step(pol, anchor, opt, sched, sample_prompts(prompt_pool, cfg.batch_prompts, g),
                                 reward_fn, g, cfg, s)
        return {"loss": float(loss.detach()), "train_reward": float(batch.r.mean())}

    res = run_loop(step, max_steps=cfg.max_steps, eval_every=cfg.eval_every, stop=stop or StopRule.of(cfg), desc=desc,
                   evaluate=None if evaluate is None else (lambda s: evaluate(out(pol))), progress=progress,
                   start=start, train_s=spent)
    pol.model.eval()
    state = TrainState(pol, anchor, opt, sched, g, res.steps, res.train_s)
    return TrainResult(out(pol), res.history, res.stop_reason, res.steps, res.train_s, asdict(cfg), out(anchor), state)
