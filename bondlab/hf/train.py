"""Data-parallel J-BOND for Hugging Face causal LMs on torch.distributed, through accelerate.

The step is the tiny GPT's (:func:`bondlab.lm.jbond.jbond_step`: Sessa et al. 2024, Sec. 5, Algorithm 2);
only the data layout is new. With W processes and a global batch of B = W * b prompts per step:

* every process draws the same B prompts and the same uniform numbers from the same seeded generator and
  keeps its own rows (:class:`ShardedUniforms`): it samples y ~ pi and y'1, y'2 ~ pi_anchor and scores
  its b prompts only, and the samples are exactly those one process would draw over the whole batch;
* the loss is :func:`bondlab.objectives.jbond_loss` over the *global* batch: each per-prompt tensor is
  gathered from all processes (this process's rows keep their grad), so the leave-one-out baselines and
  the means run over all B prompts. DDP averages the gradients of W * loss: the sum over processes of each
  one's share, i.e. the gradient of the one-process loss;
* the optimizer steps on identical averaged gradients, so the policy and the EMA anchor
  theta_a <- (1 - eta) theta_a + eta theta stay identical on every process (checked at each checkpoint);
* the metrics are gathered, so every process sees the same numbers and takes the same stop.

Evaluation (every ``eval_every`` steps): one sample per evaluation prompt; its reward; its quantile
p_hat_le against ``ref_samples`` samples of pi_ref for the same prompt (drawn once); and
KL(pi || pi_ref) per sequence, exact over the vocabulary at each token and summed along the policy's own
samples (as :mod:`bondlab.lm.metrics`). Training stops when the mean quantile reaches N/(N+1) (target N),
or the KL exceeds ``kl_budget``, or after ``max_steps``.

The loop is :func:`bondlab.loop.run_loop`, with this trainer's step (sharded sampling, gathered loss) and
evaluation (gathered metrics), the stop rule of the config, and a hook that writes the checkpoints.

Checkpoints (:mod:`bondlab.checkpoint`, the training state): the main process writes ``checkpoint.safetensors`` (policy,
anchor, Adam state, the training generator's state) and ``checkpoint.json`` (step, history, config,
optimizer hyper-parameters, size and sha256 of the weights) every ``checkpoint_every`` steps and at the end;
a run started on the same folder with the same settings resumes from it (other settings are refused, see
``RESUMABLE``), and ends with the same result as an uninterrupted run.

Refused before any work: float16 weights (Adam's eps, 1e-8, is 0 in float16 and its second moment
(1 - beta2) g^2 underflows to 0 for |g| below about 8e-3, so the first step divides by 0), and a ``max_new_tokens`` that
does not fit the model's positions after the longest prompt. Training stops with a ValueError when the loss
or a weight becomes non-finite (:func:`bondlab.lm.jbond.jbond_step`). The final policy is also written with
``save_pretrained`` to ``<out>/final`` (safetensors), loadable with ``AutoModelForCausalLM``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import CHECKPOINT, check_resume, fingerprint, load_state, paths, restore, run_identity, save_state
from ..configs import HFJBondConfig
from ..lm.jbond import jbond_step, optimizer, sample_prompts
from ..lm.metrics import policy_sequence_kl, text_reward
from ..loop import StopRule, run_loop
from .adapter import HFPolicy, _unwrap

__all__ = ["HFJBondConfig", "HFTrainResult", "ShardedUniforms", "train_hf_jbond", "load_state", "CHECKPOINT"]

class ShardedUniforms:
    """Uniform numbers for this process's rows of one global draw (pass it where a generator goes).

    A call ``rand(n, t)`` on a process holding b rows of each block (n = m * b: the policy samples m
    blocks, e.g. m = 2 for the anchor's y'1 and y'2) draws (m, W, b, t) numbers from the shared generator,
    the same on every process, and keeps [:, rank]: the global row j of block i gets the same number as in
    a one-process run over the whole batch (which draws (m, 1, W * b, t) in the same order)."""

    def __init__(self, generator: torch.Generator, rank: int, world: int, b: int):
        self.generator, self.rank, self.world, self.b = generator, rank, world, b

    def rand(self, n: int, t: int) -> torch.Tensor:
        if n % self.b:
            raise ValueError(f"a sharded draw needs a multiple of {self.b} rows, got {n}")
        u = torch.rand(n // self.b, self.world, self.b, t, generator=self.generator, dtype=torch.float64)
        return u[:, self.rank].reshape(n, t)                                          # (n, t)


@dataclass
class HFTrainResult:
    policy: HFPolicy          # the trained policy (unwrapped model)
    anchor: HFPolicy          # the final EMA anchor
    history: list             # one dict per evaluation (same on every process)
    stop_reason: str          # "target", "kl_budget" or "max_steps"
    steps: int                # optimizer steps taken in all (a resumed run counts the earlier ones)
    train_s: float            # wall time in training steps, this launch only
    config: dict              # the config as a dict


def _seeded(*key) -> torch.Generator:
    """A generator seeded from a tuple of integers (independent streams per evaluation)."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(key)).generate_state(1)[0]))


# ------------------------------------------------------------------------------------------------ training
def train_hf_jbond(policy: HFPolicy, prompt_pool, reward, cfg: HFJBondConfig | None = None, *, out=None,
                   accelerator=None, resume: bool = True, progress: bool = True) -> HFTrainResult:
    """Data-parallel J-BOND from ``policy`` (pi_ref) on the prompts of ``prompt_pool`` with ``reward``
    (list of texts -> array). Launch one process per device (``accelerate launch``); each builds the same
    policy and calls this. ``out``: folder for checkpoints and the final model (None: nothing written, no
    resume). ``policy.model`` is trained in place (no copy of a large model). Returns the same result on
    every process."""
    from accelerate import Accelerator
    cfg = cfg or HFJBondConfig()
    if not isinstance(cfg, HFJBondConfig):
        raise ValueError(f"cfg must be an HFJBondConfig, got {type(cfg).__name__}")
    if not isinstance(policy, HFPolicy):
        raise ValueError(f"policy must be a bondlab.hf.HFPolicy, got {type(policy).__name__}")
    prompt_pool = list(prompt_pool)
    if not prompt_pool or not all(isinstance(p, str) for p in prompt_pool):
        raise ValueError("prompt_pool must be a non-empty list of prompt texts")
    if any(p.dtype == torch.float16 for p in policy.parameters()):
        raise ValueError("dtype float16 cannot be trained with Adam: its eps (1e-8) is 0 in float16 and its "
                         "second moment (1 - beta2) g^2 underflows to 0 for |g| below about 8e-3, so the first "
                         "step divides by 0 and the weights become NaN or inf; load the model in float32 (the "
                         "default) or bfloat16")
    policy.check_fits(prompt_pool, cfg.max_new_tokens)      # every prompt + max_new_tokens fits the positions
    acc = accelerator or Accelerator()
    W, rank = acc.num_processes, acc.process_index
    for name in ("batch_prompts", "eval_prompts"):
        if getattr(cfg, name) % W:
            raise ValueError(f"{name} ({getattr(cfg, name)}) must be a multiple of the number of processes ({W})")
    b, e = cfg.batch_prompts // W, cfg.eval_prompts // W
    if b * W < 2:
        raise ValueError("batch_prompts must be >= 2 (the leave-one-out baseline)")

    model = _unwrap(policy.model).to(acc.device).eval()       # dropout off: train what is sampled
    for p in model.parameters():
        p.requires_grad_(True)
    opt, sched = optimizer(model, cfg.lr, cfg.warmup)
    ddp_model, opt = acc.prepare(model, opt)                  # DDP broadcasts rank 0's weights
    pol = HFPolicy(model, policy.tokenizer, cfg.max_new_tokens)          # samples, moves the anchor
    loss_pol = HFPolicy(ddp_model, policy.tokenizer, cfg.max_new_tokens)  # the loss's pass (gradient sync)
    anchor, ref = pol.anchor(), pol.anchor()
    reward_fn = text_reward(pol, reward)
    g = torch.Generator().manual_seed(cfg.seed)
    step, history, reason = 0, [], "max_steps"

    run = run_identity(prompt_pool, model)
    weights, sidecar = paths(out) if out is not None else (None, None)
    if out is not None and resume and sidecar.is_file():
        tensors, info = load_state(out)
        check_resume(info, asdict(cfg), run, sidecar)
        restore(tensors, info, model, anchor.model, opt, g, weights)
        sched.last_epoch = info["step"]                       # LambdaLR: lr of step s = lr * f(s)
        step, history, reason = int(info["step"]), list(info["history"]), info["stop_reason"]
        if reason != "max_steps" and not cfg.keep_going:   # it stopped for good
            return HFTrainResult(pol, anchor, history, reason, step, 0.0, asdict(cfg))
        reason = "max_steps"

    def gather(x: torch.Tensor) -> torch.Tensor:              # (b,) -> (B,), own rows keep their grad
        full = acc.gather(x.detach().contiguous())
        return torch.cat([full[:rank * b], x, full[(rank + 1) * b:]])

    # evaluation prompts (the pool cycled) and their pi_ref quantile pool, each process its rows
    eval_local = [prompt_pool[i % len(prompt_pool)] for i in range(rank * e, (rank + 1) * e)]
    k = cfg.ref_samples
    yr, _ = ref.sample(eval_local * k, ShardedUniforms(_seeded(cfg.seed, 1), rank, W, e))
    ref_r = np.sort(np.asarray(reward_fn(eval_local * k, yr).cpu()).reshape(k, e).T, axis=1)   # (e, k)

    def evaluate(s: int) -> dict:
        y, mask = pol.sample(eval_local, ShardedUniforms(_seeded(cfg.seed, 2, s), rank, W, e))
        r = reward_fn(eval_local, y).cpu().numpy()                                  # (e,)
        q = np.array([np.searchsorted(ref_r[i], r[i], side="right") / k for i in range(e)])
        kl = policy_sequence_kl(pol, ref, eval_local, y).double().cpu()
        ended = (y == pol.eos_id).any(1).cpu().double()
        local = torch.stack([torch.as_tensor(r), torch.as_tensor(q), kl, mask.sum(1).double().cpu(), ended], 1)
        g_all = acc.gather(local.to(acc.device)).double().mean(0).tolist()          # (5,)
        return dict(zip(("reward", "quantile", "kl", "length", "end_frac"), g_all))

    def checkpoint(s: int, why: str) -> None:
        fp = acc.gather(fingerprint(model, anchor.model).to(acc.device)[None]).cpu()   # (W, 4)
        if not torch.equal(fp, fp[:1].expand_as(fp)):
            raise RuntimeError(f"processes disagree on the policy or the anchor at step {s}: {fp.tolist()}")
        if out is not None and acc.is_main_process:
            save_state(out, model, anchor.model, opt, g, {
                "step": s, "history": history, "stop_reason": why, "config": asdict(cfg), "run": run,
                "num_processes": W, "fingerprints": fp.tolist()})
        acc.wait_for_everyone()

    if step == 0:
        history.append({"step": 0, "loss": float("nan"), **evaluate(0)})
    start = step

    def train_step(s: int) -> dict:
        prompts = sample_prompts(prompt_pool, cfg.batch_prompts, g)[rank * b:(rank + 1) * b]
        loss, batch = jbond_step(pol, anchor, opt, sched, prompts, reward_fn, ShardedUniforms(g, rank, W, b), cfg,
                                 s, loss_policy=loss_pol, gather=gather if W > 1 else None,
                                 backward=lambda loss: acc.backward(loss * W))
        out = {"loss": float(loss.detach())}
        if s % cfg.eval_every == 0 or s == cfg.max_steps:   # the training side of the record
            grad_norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters()
                                             if p.grad is not None)))                # after DDP's all-reduce
            won = (batch.r >= torch.minimum(batch.r_anchor_1, batch.r_anchor_2)).double()   # r_J = 0
            m = acc.gather(torch.stack([batch.r.double(), torch.maximum(batch.r_anchor_1, batch.r_anchor_2).double(),
                                        won], 1)).mean(0).tolist()
            out.update(train_reward=m[0], anchor_best_reward=m[1], not_beaten=m[2], grad_norm=grad_norm)
        return out

    def on_step(s: int, rec) -> None:
        if s % cfg.checkpoint_every == 0 and s < cfg.max_steps:
            checkpoint(s, "max_steps")

    res = run_loop(train_step, max_steps=cfg.max_steps, evaluate=evaluate, eval_every=cfg.eval_every,
                   stop=StopRule.of(cfg), on_step=on_step, start=start, history=history, eval_at_start=False,
                   record_wall=False,
                   progress=progress and acc.is_main_process, desc="J-BOND (hf)")
    reason, steps = res.stop_reason, res.steps
    checkpoint(steps, reason)
    if out is not None and acc.is_main_process:
        model.save_pretrained(Path(out) / "final", safe_serialization=True)
        policy.tokenizer.save_pretrained(Path(out) / "final")
    acc.wait_for_everyone()
    return HFTrainResult(pol, anchor, history, reason, steps, res.train_s, asdict(cfg))
